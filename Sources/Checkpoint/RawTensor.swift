#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One tensor as stored in a file: contiguous, C-order (row-major), little-endian bytes.
///
/// The bytes usually live inside a checkpoint read into memory (`MappedFile`, not copied again);
/// `owner` keeps that memory (or an owned heap buffer) alive, so a `RawTensor` may be kept as
/// long as needed and the memory is freed when the last tensor referring to it is gone.
///
/// ```swift
/// let archive = try CheckpointReader.read(path: "model.safetensors")
/// let w = archive.tensors["visual.proj"]!           // dtype, shape, bytes
/// if let p = w.float32Pointer() { /* use in place */ } else { let f = try w.toFloats() }
/// ```
public struct RawTensor: @unchecked Sendable {
    /// Element type.
    public let dtype: DType
    /// Dimensions (empty for a 0-dim scalar).
    public let shape: [Int]
    /// `count * dtype.byteSize` bytes, valid while `owner` lives (this struct holds it).
    public let bytes: UnsafeRawBufferPointer
    /// Keeps the memory behind `bytes` alive (a memory map or an owned buffer).
    public let owner: AnyObject?

    /// Number of elements: the product of `shape` (1 for a scalar).
    public var count: Int { shape.reduce(1, *) }

    /// Number of bytes (`count * dtype.byteSize`).
    public var byteCount: Int { bytes.count }

    /// Wraps bytes kept alive by `owner`. The caller guarantees `bytes.count == count * byteSize`.
    init(dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, owner: AnyObject?) {
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
        self.owner = owner
    }

    /// An owning F32 tensor (e.g. to write with `SafetensorsWriter`).
    /// - Precondition: `floats.count == shape.reduce(1, *)` (checked; a mismatch traps, since it is
    ///   a programming error rather than bad input).
    public init(floats: [Float], shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 } && floats.count == shape.reduce(1, *),
                     "RawTensor(floats:shape:): \(floats.count) values do not fill shape \(shape)")
        let buf = OwnedBuffer(count: floats.count * 4)
        floats.withUnsafeBytes { src in
            if src.count > 0 { buf.pointer.copyMemory(from: src.baseAddress!, byteCount: src.count) }
        }
        self.init(dtype: .f32, shape: shape, bytes: buf.bytes, owner: buf)
    }

    /// An owning F16 tensor: `floats` rounded to nearest even (`floatToHalf`).
    /// - Precondition: as `init(floats:shape:)`.
    public init(halvesOf floats: [Float], shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 } && floats.count == shape.reduce(1, *),
                     "RawTensor(halvesOf:shape:): \(floats.count) values do not fill shape \(shape)")
        let buf = OwnedBuffer(count: floats.count * 2)
        let out = buf.pointer.bindMemory(to: UInt16.self, capacity: floats.count)
        for (i, f) in floats.enumerated() { out[i] = floatToHalf(f).littleEndian }
        self.init(dtype: .f16, shape: shape, bytes: buf.bytes, owner: buf)
    }

    /// An owning tensor of any dtype from little-endian bytes.
    /// - Throws: `CheckpointError` when `bytes.count != product(shape) * dtype.byteSize` or a
    ///   dimension is negative.
    public init(dtype: DType, shape: [Int], bytes data: [UInt8]) throws {
        guard let n = checkedElementCount(shape),
              let nb = multiplyChecked(n, dtype.byteSize), nb == data.count else {
            throw CheckpointError(path: "<memory>",
                                  "\(data.count) bytes do not fill shape \(shape) of \(dtype.rawValue)")
        }
        let buf = OwnedBuffer(count: data.count)
        data.withUnsafeBytes { src in
            if src.count > 0 { buf.pointer.copyMemory(from: src.baseAddress!, byteCount: src.count) }
        }
        self.init(dtype: dtype, shape: shape, bytes: buf.bytes, owner: buf)
    }

    /// Zero-copy access to F32 data. Non-nil only when `dtype == .f32` and the bytes are
    /// 4-byte aligned (always the case for torch zips and aligned safetensors files).
    /// The pointer is valid while this tensor (or another copy of it) is alive.
    public func float32Pointer() -> UnsafePointer<Float>? {
        guard dtype == .f32, let base = bytes.baseAddress else { return nil }
        guard Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else { return nil }
        return base.assumingMemoryBound(to: Float.self)
    }

    /// The values widened (or narrowed, for F64/I64) to Float exactly as `torch.Tensor.float()`
    /// does: F16/BF16 exactly, F64 and 64/32-bit integers rounded to nearest even, BOOL to 0/1.
    public func toFloats() throws -> [Float] {
        let n = count
        return try [Float](unsafeUninitializedCapacity: n) { buf, initialized in
            if n > 0 { try copyFloats(into: buf.baseAddress!) }
            initialized = n
        }
    }

    /// Writes `count` floats (see `toFloats()`) into `out`, which must have room for `count`.
    public func copyFloats(into out: UnsafeMutablePointer<Float>) throws {
        let n = count
        guard bytes.count == n * dtype.byteSize else {
            throw CheckpointError(path: "<tensor>", "byte count \(bytes.count) does not match shape \(shape) of \(dtype.rawValue)")
        }
        if n == 0 { return }
        let src = bytes.baseAddress!
        switch dtype {
        case .f32:
            UnsafeMutableRawPointer(out).copyMemory(from: src, byteCount: n * 4)
        case .f16:
            for i in 0..<n { out[i] = halfToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .bf16:
            for i in 0..<n { out[i] = bfloat16ToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .f64:
            for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
        case .i64:
            for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
        case .u64:
            for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
        case .i32:
            for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
        case .u32:
            for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        case .i16:
            for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
        case .u16:
            for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .i8:
            for i in 0..<n { out[i] = Float(Int8(bitPattern: src.load(fromByteOffset: i, as: UInt8.self))) }
        case .u8:
            for i in 0..<n { out[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
        case .bool:
            for i in 0..<n { out[i] = src.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
        }
    }

    /// Integer values (I64/I32/I16/I8/U*/BOOL) as Int64, e.g. `position_ids` or
    /// `num_batches_tracked`. Throws for floating-point dtypes and for U64 values above Int64.max.
    public func toInt64s() throws -> [Int64] {
        let n = count
        guard bytes.count == n * dtype.byteSize else {
            throw CheckpointError(path: "<tensor>", "byte count \(bytes.count) does not match shape \(shape) of \(dtype.rawValue)")
        }
        guard let src = bytes.baseAddress else { return [] }
        var out = [Int64](repeating: 0, count: n)
        for i in 0..<n {
            switch dtype {
            case .i64: out[i] = src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)
            case .u64:
                let v = src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
                guard v <= UInt64(Int64.max) else {
                    throw CheckpointError(path: "<tensor>", "U64 value \(v) does not fit Int64")
                }
                out[i] = Int64(v)
            case .i32: out[i] = Int64(src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
            case .u32: out[i] = Int64(src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
            case .i16: out[i] = Int64(src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))
            case .u16: out[i] = Int64(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            case .i8: out[i] = Int64(Int8(bitPattern: src.load(fromByteOffset: i, as: UInt8.self)))
            case .u8, .bool: out[i] = Int64(src.load(fromByteOffset: i, as: UInt8.self))
            case .f32, .f16, .bf16, .f64:
                throw CheckpointError(path: "<tensor>", "toInt64s() called on a \(dtype.rawValue) tensor")
            }
        }
        return out
    }
}

/// Product of non-negative dimensions, nil on a negative dimension or overflow.
func checkedElementCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        if o { return nil }
        n = p
    }
    return n
}

func multiplyChecked(_ a: Int, _ b: Int) -> Int? {
    let (p, o) = a.multipliedReportingOverflow(by: b)
    return o ? nil : p
}
