import Foundation

/// Memory holding a tensor's elements: either owned (64-byte aligned, recycled through
/// `BufferPool` on deinit) or borrowed from something that outlives it (for example a
/// checkpoint read into memory), kept alive through `owner`.
package final class TensorStorage: @unchecked Sendable {
    package let pointer: UnsafeMutablePointer<Float>
    package let count: Int
    private let owner: AnyObject?
    /// Whether the memory is this storage's own (from `BufferPool`), not borrowed.
    package let owned: Bool

    /// Allocates `count` floats, zero-filled unless `zeroed` is false (then the contents are
    /// unspecified and the caller must write every element).
    package init(count: Int, zeroed: Bool = true) {
        pointer = BufferPool.shared.take(count, zeroed: zeroed)
        self.count = count
        owner = nil
        owned = true
    }

    /// Wraps memory owned by `owner` (not copied). The memory must stay valid while `owner` lives.
    package init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject?) {
        self.pointer = pointer
        self.count = count
        self.owner = owner
        owned = false
    }

    deinit { if owned { BufferPool.shared.give(pointer, count) } }
}

/// A dense, contiguous, row-major Float32 tensor.
///
/// Tensors are reference types, like PyTorch's: parameters are shared by the modules that use
/// them and updated in place by optimisers. Operations return new tensors. When gradient
/// recording is on (see `GradMode`) and an input has `requiresGrad`, the result remembers how
/// it was made so that `backward()` can propagate gradients.
public final class Tensor: @unchecked Sendable {
    public let shape: [Int]
    package private(set) var storage: TensorStorage
    /// Whether gradients are accumulated into `grad` for this tensor (a leaf parameter).
    package var requiresGrad: Bool = false
    /// Accumulated gradient, same shape as the tensor.
    package var grad: Tensor?
    /// The operation that produced this tensor, when it was recorded for autodiff.
    var node: GradNode?

    public var count: Int { storage.count }
    public var rank: Int { shape.count }
    package var data: UnsafeMutablePointer<Float> { storage.pointer }

    /// A zero-filled tensor.
    public init(zeros shape: [Int]) {
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
    }

    /// A tensor whose elements the caller will all overwrite (skips zero-filling).
    package init(uninitialized shape: [Int]) {
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *), zeroed: false)
    }

    /// A tensor over existing storage; `storage.count` must equal the product of `shape`.
    package init(shape: [Int], storage: TensorStorage) {
        precondition(shape.reduce(1, *) == storage.count, "shape \(shape) does not match \(storage.count) elements")
        self.shape = shape
        self.storage = storage
    }

    /// A tensor holding a copy of `values`.
    public convenience init(_ values: [Float], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "shape \(shape) does not match \(values.count) values")
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    /// A tensor filled with `value`.
    public convenience init(repeating value: Float, shape: [Int]) {
        self.init(zeros: shape)
        data.update(repeating: value, count: count)
    }

    /// The elements as an array (a copy).
    public var array: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// Calls `body` with the elements, row-major, without copying them. The buffer is valid only
    /// inside `body`.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: data, count: count))
    }

    /// The single element of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar of a tensor with \(count) elements")
        return data[0]
    }

    /// Same elements, another shape (shares storage; no copy). One dimension may be -1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            s[i] = known == 0 ? 0 : count / known
        }
        precondition(s.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        let out = Tensor(shape: s, storage: storage)
        let inShape = shape
        recordUnary(out, self) { g in g.reshaped(inShape) }
        return out
    }

    /// A deep copy that does not track gradients.
    public func copy() -> Tensor {
        let out = Tensor(uninitialized: shape)
        out.data.update(from: data, count: count)
        return out
    }

    /// Whether this tensor is the only holder of its storage and that memory is owned (not
    /// borrowed): then it may be kept without a copy by whoever holds the only reference to
    /// the tensor itself.
    package func ownsStorageAlone() -> Bool { storage.owned && isKnownUniquelyReferenced(&storage) }

    /// A view of the same storage, cut off from gradient history.
    package func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// Size of the last dimension.
    var lastDim: Int { shape.last ?? 1 }
    /// Product of all but the last dimension.
    var rows: Int { lastDim == 0 ? 0 : count / lastDim }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = UnsafeBufferPointer(start: data, count: min(count, 6)).map { String(format: "%.5g", $0) }
        return "Tensor\(shape)[\(head.joined(separator: ", "))\(count > 6 ? ", …" : "")]"
    }
}
