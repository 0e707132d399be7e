import Files

/// Writes `.safetensors` files readable by the Python `safetensors` package.
///
/// Layout as the reference writes it: tensors are placed in order of decreasing element size
/// (stable, so F32 data stays 4-byte aligned after F64/I64 data), the JSON header lists
/// `__metadata__` first and is padded with spaces to a multiple of 8 bytes.
///
/// The write is atomic: data goes to a temporary file in the destination directory, which is
/// fsync'ed and renamed over `path`; on any failure the temporary file is removed and an
/// existing file at `path` is left untouched.
public enum SafetensorsWriter {
    public static func write(_ tensors: [(name: String, tensor: RawTensor)],
                             metadata: [String: String] = [:],
                             to path: String) throws {
        func err(_ m: String) -> CheckpointError { CheckpointError(path: path, m) }
        var seen = Set<String>()
        for (name, t) in tensors {
            if name == "__metadata__" { throw err("'__metadata__' cannot be used as a tensor name") }
            if !seen.insert(name).inserted { throw err("duplicate tensor name '\(name)'") }
            guard let n = checkedElementCount(t.shape), n * t.dtype.byteSize == t.bytes.count else {
                throw err("tensor '\(name)': \(t.bytes.count) bytes do not match shape \(t.shape) of \(t.dtype.rawValue)")
            }
        }
        // Stable sort by decreasing element size keeps every tensor aligned to its element size.
        let ordered = tensors.enumerated().sorted {
            ($0.element.tensor.dtype.byteSize, -$0.offset) > ($1.element.tensor.dtype.byteSize, -$1.offset)
        }.map(\.element)

        var header = "{"
        var fields: [String] = []
        if !metadata.isEmpty {
            let kv = metadata.sorted { $0.key < $1.key }.map { jsonQuote($0.key) + ":" + jsonQuote($0.value) }
            fields.append("\"__metadata__\":{" + kv.joined(separator: ",") + "}")
        }
        var offset = 0
        for (name, t) in ordered {
            let end = offset + t.bytes.count
            fields.append(jsonQuote(name) + ":{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":["
                + t.shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += fields.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        let padded = (headerBytes.count + 7) / 8 * 8
        headerBytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padded - headerBytes.count))

        do {
            try AtomicFile.write(to: path) { out in
                var len = UInt64(headerBytes.count).littleEndian
                try withUnsafeBytes(of: &len) { try out.write($0) }
                try headerBytes.withUnsafeBytes { try out.write($0) }
                for (_, t) in ordered { try out.write(t.bytes) }
            }
        } catch let e as FileError {
            throw CheckpointError(path: path, e)
        }
    }
}
