import Files

/// Writes a `torch.save` zip archive that `torch.load(path, weights_only=True)` accepts.
///
/// The layout is the one PyTorch writes: `archive/data.pkl` (a protocol-2 pickle of `root`),
/// `archive/byteorder` ("little"), one `archive/data/<k>` record of raw little-endian bytes per
/// tensor, and `archive/version` ("3"). Every entry is stored (not deflated) and, as
/// PyTorch's `PyTorchStreamWriter` does, its data starts at a multiple of 64 bytes, reached by
/// padding the local header's extra field (id "FB").
///
/// The pickle is not a general pickler: it emits only the opcodes a tree of `Value`s needs
/// (PROTO, MARK, dict/list/tuple builders, ints, floats, strings, bools, None, and per tensor
/// `torch._utils._rebuild_tensor_v2` over a persistent id `('storage', torch.<T>Storage, key,
/// 'cpu', numel)`), with no memo. The write is atomic (`AtomicFile`).
public enum TorchZipWriter {
    /// The pickled tree.
    public indirect enum Value {
        case int(Int), float(Double), string(String), bool(Bool), none
        case tuple([Value]), list([Value])
        /// A dict in insertion order.
        case dict([(Value, Value)])
        case tensor(RawTensor)
    }

    /// Storage class per dtype (the names `torch.save` writes and the weights-only unpickler allows).
    static let storageNames: [DType: String] = [
        .f32: "FloatStorage", .f16: "HalfStorage", .bf16: "BFloat16Storage", .f64: "DoubleStorage",
        .i64: "LongStorage", .i32: "IntStorage", .i16: "ShortStorage", .i8: "CharStorage", .u8: "ByteStorage",
        .bool: "BoolStorage",
    ]

    /// Zip entries above 4 GiB would need zip64 records, which this writer does not emit.
    static let maxEntryBytes = Int(UInt32.max)

    public static func write(_ root: Value, to path: String) throws {
        var storages: [RawTensor] = []
        var pickle = Pickle()
        try pickle.emit(root, storages: &storages, path: path)
        pickle.op(".")  // STOP
        var entries: [(name: String, bytes: UnsafeRawBufferPointer)] = []
        let pkl = pickle.bytes, byteorder = Array("little".utf8), version = Array("3\n".utf8)
        do {
            try pkl.withUnsafeBytes { pklBytes in
                try byteorder.withUnsafeBytes { bo in
                    try version.withUnsafeBytes { v in
                        entries.append(("archive/data.pkl", pklBytes))
                        entries.append(("archive/byteorder", bo))
                        for (k, t) in storages.enumerated() { entries.append(("archive/data/\(k)", t.bytes)) }
                        entries.append(("archive/version", v))
                        try withExtendedLifetime(storages) { try writeZip(entries, to: path) }
                    }
                }
            }
        } catch let e as FileError {
            throw CheckpointError(path: path, e)
        }
    }

    private static func writeZip(_ entries: [(name: String, bytes: UnsafeRawBufferPointer)], to path: String) throws {
        for e in entries where e.bytes.count > maxEntryBytes {
            throw CheckpointError(path: path, "\(e.name) has \(e.bytes.count) bytes; entries above 4 GiB (zip64) are not supported")
        }
        try AtomicFile.write(to: path) { out in
            var offset = 0
            var central: [UInt8] = []
            func put(_ bytes: [UInt8]) throws {
                try bytes.withUnsafeBytes { try out.write($0) }
                offset += bytes.count
            }
            for e in entries {
                let name = Array(e.name.utf8)
                let crc = zipCRC32(e.bytes)
                // Pad the extra field so that the data starts on a 64-byte boundary (as PyTorch does).
                let start = offset + 30 + name.count + 4
                let pad = (64 - start % 64) % 64
                var local: [UInt8] = []
                local.le32(0x0403_4B50)
                local.le16(20); local.le16(0); local.le16(0)  // version needed, flags, stored
                local.le16(0); local.le16(0x21)  // time 00:00, date 1980-01-01
                local.le32(crc); local.le32(UInt32(e.bytes.count)); local.le32(UInt32(e.bytes.count))
                local.le16(UInt16(name.count)); local.le16(UInt16(4 + pad))
                local += name
                local.le16(0x4246); local.le16(UInt16(pad))  // "FB"
                local += [UInt8](repeating: UInt8(ascii: "Z"), count: pad)

                var c: [UInt8] = []
                c.le32(0x0201_4B50)
                c.le16(20); c.le16(20); c.le16(0); c.le16(0)  // made by, needed, flags, stored
                c.le16(0); c.le16(0x21)
                c.le32(crc); c.le32(UInt32(e.bytes.count)); c.le32(UInt32(e.bytes.count))
                c.le16(UInt16(name.count)); c.le16(0); c.le16(0)  // name, extra, comment lengths
                c.le16(0); c.le16(0); c.le32(0)  // disk, internal and external attributes
                c.le32(UInt32(offset))
                c += name
                central += c

                try put(local)
                if e.bytes.count > 0 { try out.write(e.bytes) }
                offset += e.bytes.count
            }
            guard offset <= maxEntryBytes, entries.count < 0xFFFF else {
                throw CheckpointError(path: path, "archive of \(offset) bytes needs zip64 records, which are not supported")
            }
            var end: [UInt8] = []
            end.le32(0x0605_4B50)
            end.le16(0); end.le16(0)
            end.le16(UInt16(entries.count)); end.le16(UInt16(entries.count))
            end.le32(UInt32(central.count)); end.le32(UInt32(offset))
            end.le16(0)
            try put(central)
            try put(end)
        }
    }

    /// The protocol-2 opcodes this writer uses.
    private struct Pickle {
        var bytes: [UInt8] = [0x80, 2]  // PROTO 2

        mutating func op(_ c: Character) { bytes.append(c.asciiValue!) }

        mutating func global(_ module: String, _ name: String) {
            op("c")
            bytes += Array("\(module)\n\(name)\n".utf8)
        }

        mutating func string(_ s: String) {
            let u = Array(s.utf8)
            op("X")
            bytes.le32(UInt32(u.count))
            bytes += u
        }

        mutating func int(_ i: Int) {
            if let small = Int32(exactly: i) {
                op("J")
                bytes.le32(UInt32(bitPattern: small))
            } else {  // LONG1: little-endian two's complement, 8 bytes
                bytes += [0x8A, 8]
                withUnsafeBytes(of: Int64(i).littleEndian) { bytes += $0 }
            }
        }

        mutating func emit(_ v: Value, storages: inout [RawTensor], path: String) throws {
            switch v {
            case .int(let i): int(i)
            case .float(let d):
                op("G")
                withUnsafeBytes(of: d.bitPattern.bigEndian) { bytes += $0 }
            case .string(let s): string(s)
            case .bool(let b): bytes.append(b ? 0x88 : 0x89)
            case .none: op("N")
            case .tuple(let items):
                op("(")
                for item in items { try emit(item, storages: &storages, path: path) }
                op("t")
            case .list(let items):
                op("]")
                guard !items.isEmpty else { return }
                op("(")
                for item in items { try emit(item, storages: &storages, path: path) }
                op("e")
            case .dict(let pairs):
                op("}")
                guard !pairs.isEmpty else { return }
                op("(")
                for (k, item) in pairs {
                    try emit(k, storages: &storages, path: path)
                    try emit(item, storages: &storages, path: path)
                }
                op("u")
            case .tensor(let t):
                guard let storage = TorchZipWriter.storageNames[t.dtype] else {
                    throw CheckpointError(path: path, "no torch storage type for \(t.dtype.rawValue)")
                }
                let key = storages.count
                storages.append(t)
                // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks)
                global("torch._utils", "_rebuild_tensor_v2")
                op("(")
                op("(")  // persistent id ('storage', torch.<T>Storage, key, 'cpu', numel)
                string("storage"); global("torch", storage); string(String(key)); string("cpu"); int(t.count)
                op("t")
                op("Q")  // BINPERSID
                int(0)
                try emit(.tuple(t.shape.map { .int($0) }), storages: &storages, path: path)
                var stride: [Int] = Array(repeating: 1, count: t.shape.count)
                for d in stride.indices.reversed().dropFirst() { stride[d] = stride[d + 1] * t.shape[d + 1] }
                try emit(.tuple(stride.map { .int($0) }), storages: &storages, path: path)
                bytes.append(0x89)  // requires_grad False
                global("collections", "OrderedDict")
                op(")")
                op("R")
                op("t")
                op("R")
            }
        }
    }
}

private extension Array where Element == UInt8 {
    mutating func le16(_ v: UInt16) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
    mutating func le32(_ v: UInt32) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
}
