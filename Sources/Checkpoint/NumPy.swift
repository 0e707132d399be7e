import Files
import Foundation

/// NumPy `.npy` files (format 1.0-3.0, little-endian, C order): the plain exchange format of
/// the command-line tool (token ids in, pixels in, embeddings out).
public enum NumPy {
    public struct Array: Sendable {
        public var shape: [Int]
        /// The dtype descriptor, e.g. "<f4", "<i4", "<i8".
        public var descr: String
        /// Raw little-endian element bytes.
        public var bytes: [UInt8]
    }

    /// Reads an .npy file.
    public static func read(path: String) throws -> Array {
        let b: [UInt8]
        do { b = try RegularFile.read(path) } catch let e as FileError { throw CheckpointError(path: path, e) }
        guard b.count >= 10, b[0] == 0x93, Swift.Array(b[1..<6]) == Swift.Array("NUMPY".utf8) else {
            throw CheckpointError(path: path, "not a NumPy .npy file (bad magic)")
        }
        let major = b[6]
        let headerLen: Int, start: Int
        if major == 1 {
            headerLen = Int(b[8]) | Int(b[9]) << 8
            start = 10
        } else if major == 2 || major == 3 {
            guard b.count >= 12 else { throw CheckpointError(path: path, "truncated .npy header") }
            headerLen = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
            start = 12
        } else {
            throw CheckpointError(path: path, "unsupported .npy version \(major)")
        }
        guard start + headerLen <= b.count, let header = String(bytes: b[start..<(start + headerLen)], encoding: .utf8) else {
            throw CheckpointError(path: path, "truncated .npy header")
        }
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = field("descr"), let q1 = descrField.firstIndex(of: "'"),
              let q2 = descrField[descrField.index(after: q1)...].firstIndex(of: "'") else {
            throw CheckpointError(path: path, "no dtype in .npy header")
        }
        let descr = String(descrField[descrField.index(after: q1)..<q2])
        if let order = field("fortran_order"), order.hasPrefix("True") {
            throw CheckpointError(path: path, "Fortran-ordered arrays are not supported; save with np.ascontiguousarray")
        }
        guard let shapeField = field("shape"), let open = shapeField.firstIndex(of: "("),
              let close = shapeField[open...].firstIndex(of: ")") else {
            throw CheckpointError(path: path, "no shape in .npy header")
        }
        let dims = shapeField[shapeField.index(after: open)..<close].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = try dims.map { d -> Int in
            guard let n = Int(d), n >= 0 else { throw CheckpointError(path: path, "bad dimension '\(d)' in .npy shape") }
            return n
        }
        guard let size = elementSize(descr) else {
            throw CheckpointError(path: path, "unsupported .npy dtype '\(descr)' (use float32, int32 or int64, little-endian)")
        }
        let body = start + headerLen
        guard let count = checkedElementCount(shape), let need = multiplyChecked(count, size) else {
            throw CheckpointError(path: path, "shape \(shape) of \(descr) is too large")
        }
        guard b.count - body == need else {
            throw CheckpointError(path: path, "data has \(b.count - body) bytes; shape \(shape) of \(descr) needs \(need)")
        }
        return Array(shape: shape, descr: descr, bytes: Swift.Array(b[body...]))
    }

    private static func elementSize(_ descr: String) -> Int? {
        ["<f4": 4, "<i4": 4, "<i8": 8, "<f8": 8, "|u1": 1, "<u1": 1][descr]
    }

    /// The elements as Float (from float32 or float64).
    public static func floats(_ a: Array, path: String) throws -> [Float] {
        switch a.descr {
        case "<f4": return a.bytes.withUnsafeBytes { Swift.Array($0.bindMemory(to: Float.self)) }
        case "<f8": return a.bytes.withUnsafeBytes { $0.bindMemory(to: Double.self).map { Float($0) } }
        default: throw CheckpointError(path: path, "expected float32 data, found '\(a.descr)'")
        }
    }

    /// The elements as Int32 (from int32 or int64; values must fit).
    public static func int32s(_ a: Array, path: String) throws -> [Int32] {
        switch a.descr {
        case "<i4": return a.bytes.withUnsafeBytes { Swift.Array($0.bindMemory(to: Int32.self)) }
        case "<i8":
            return try a.bytes.withUnsafeBytes { raw in
                try raw.bindMemory(to: Int64.self).map { v in
                    guard let x = Int32(exactly: v) else { throw CheckpointError(path: path, "token id \(v) does not fit int32") }
                    return x
                }
            }
        default: throw CheckpointError(path: path, "expected int32 or int64 data, found '\(a.descr)'")
        }
    }

    /// Writes float32 or int32 data as .npy, atomically (temporary file, then rename).
    public static func write<T>(_ values: [T], shape: [Int], to path: String) throws {
        let descr: String
        switch T.self {
        case is Float.Type: descr = "<f4"
        case is Int32.Type: descr = "<i4"
        default: throw CheckpointError(path: path, "cannot write elements of type \(T.self) to .npy", kind: .invalidArgument)
        }
        precondition(values.count == shape.reduce(1, *), "npy write: \(values.count) values for shape \(shape)")
        var out = Data(header(descr: descr, shape: shape))
        values.withUnsafeBytes { out.append(contentsOf: $0) }
        do { try AtomicFile.write([UInt8](out), to: path) } catch let e as FileError { throw CheckpointError(path: path, e) }
    }
}
