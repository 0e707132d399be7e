import Foundation

/// Memory holding a tensor's elements: either owned (64-byte aligned, freed on deinit) or
/// borrowed from something that outlives it (for example a memory-mapped checkpoint), kept
/// alive through `owner`.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    private let owner: AnyObject?
    private let owned: Bool

    /// Allocates `count` floats, zero-filled.
    public init(count: Int) {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        var raw = BufferCache.shared.take(bytes: bytes)
        if raw == nil {
            var p: UnsafeMutableRawPointer?
            if posix_memalign(&p, 64, bytes) != 0 || p == nil {
                // Allocation failure of this size is not recoverable in Swift; report clearly.
                fatalError("TensorCore: cannot allocate \(bytes) bytes")
            }
            raw = p
        }
        memset(raw!, 0, bytes)
        pointer = raw!.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        owner = nil
        owned = true
    }

    /// Wraps memory owned by `owner` (not copied). The memory must stay valid while `owner` lives.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject?) {
        self.pointer = pointer
        self.count = count
        self.owner = owner
        owned = false
    }

    /// Large buffers freed by tensors are kept for reuse by later tensors of the same size
    /// (training allocates the same activation and gradient sizes every step; fresh large
    /// allocations are mmapped by malloc and cost a page fault per 4 KiB on first touch).
    /// At most `limitBytes` are kept (default 1 GiB); `purgeCache()` returns them to the system.
    public static var cacheLimitBytes: Int {
        get { BufferCache.shared.limit }
        set { BufferCache.shared.setLimit(newValue) }
    }

    /// Frees every cached buffer.
    public static func purgeCache() { BufferCache.shared.setLimit(BufferCache.shared.limit, purge: true) }

    deinit {
        guard owned else { return }
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if !BufferCache.shared.give(UnsafeMutableRawPointer(pointer), bytes: bytes) { free(pointer) }
    }
}

/// An exact-size free list of large buffers (see `TensorStorage.cacheLimitBytes`).
final class BufferCache: @unchecked Sendable {
    static let shared = BufferCache()
    /// Buffers smaller than this go straight back to malloc (which reuses them cheaply).
    let minimumBytes = 1 << 18
    private(set) var limit = 1 << 30
    private var held = 0
    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    private let lock = NSLock()

    func take(bytes: Int) -> UnsafeMutableRawPointer? {
        guard bytes >= minimumBytes else { return nil }
        lock.lock(); defer { lock.unlock() }
        guard let p = free[bytes]?.popLast() else { return nil }
        held -= bytes
        return p
    }

    /// Keeps `p` if it is large and fits under the limit; false when the caller must free it.
    func give(_ p: UnsafeMutableRawPointer, bytes: Int) -> Bool {
        guard bytes >= minimumBytes else { return false }
        lock.lock(); defer { lock.unlock() }
        guard held + bytes <= limit else { return false }
        free[bytes, default: []].append(p)
        held += bytes
        return true
    }

    func setLimit(_ newLimit: Int, purge: Bool = false) {
        lock.lock(); defer { lock.unlock() }
        limit = max(0, newLimit)
        if purge || held > limit {
            for (_, list) in free { for p in list { Foundation.free(p) } }
            free = [:]
            held = 0
        }
    }
}


/// A dense, contiguous, row-major Float32 tensor.
///
/// Tensors are reference types, like PyTorch's: parameters are shared by the modules that use
/// them and updated in place by optimisers. Operations return new tensors. When gradient
/// recording is on (see `GradMode`) and an input has `requiresGrad`, the result remembers how
/// it was made so that `backward()` can propagate gradients.
public final class Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let storage: TensorStorage
    /// Whether gradients are accumulated into `grad` for this tensor (a leaf parameter).
    public var requiresGrad: Bool = false
    /// Accumulated gradient, same shape as the tensor.
    public var grad: Tensor?
    /// The operation that produced this tensor, when it was recorded for autodiff.
    var node: GradNode?

    public var count: Int { storage.count }
    public var rank: Int { shape.count }
    public var data: UnsafeMutablePointer<Float> { storage.pointer }

    /// A zero-filled tensor.
    public init(zeros shape: [Int]) {
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
    }

    /// A tensor over existing storage; `storage.count` must equal the product of `shape`.
    public init(shape: [Int], storage: TensorStorage) {
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
        recordUnary(out, self) { g in g.reshaped(self.shape) }
        return out
    }

    /// A deep copy that does not track gradients.
    public func copy() -> Tensor {
        let out = Tensor(zeros: shape)
        out.data.update(from: data, count: count)
        return out
    }

    /// A view of the same storage, cut off from gradient history.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

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
