/// Reads `.safetensors` files: a u64 little-endian header length N, N bytes of JSON, then the
/// data buffer. The file is read into memory once (`MappedFile`); tensors point into it (no further copy).
///
/// Validation follows the reference implementation (huggingface/safetensors `validate`):
/// header length at most 100 MB and within the file, header starts with '{', strict JSON,
/// known dtypes, non-negative integer shapes, `data_offsets` that tile the data buffer exactly
/// (sorted by begin they start at 0, each begins where the previous ended, the last ends at the
/// end of the file — so gaps, overlaps and trailing bytes are all errors), and
/// `end - begin == product(shape) * dtype size`. `__metadata__` must map strings to strings.
public enum SafetensorsReader {
    /// The reference implementation's header size limit.
    public static let maxHeaderBytes = 100_000_000

    public static func read(path: String) throws -> TensorArchive {
        let file = try MappedFile(path: path)
        return try parse(file)
    }

    static func parse(_ file: MappedFile) throws -> TensorArchive {
        let path = file.path
        func err(_ m: String) -> CheckpointError { CheckpointError(path: path, m) }
        let all = file.bytes
        guard all.count >= 8 else { throw err("too short for a safetensors file (\(all.count) bytes; the header length alone takes 8)") }
        let n64 = all.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        guard n64 <= UInt64(maxHeaderBytes) else {
            throw err("header length \(n64) exceeds the \(maxHeaderBytes)-byte limit")
        }
        let n = Int(n64)
        guard n <= all.count - 8 else {
            throw err("header length \(n) runs past the end of the file (\(all.count - 8) bytes after the length field)")
        }
        guard n >= 2 else { throw err("header length \(n) is too small for a JSON object") }
        let headerBytes = UnsafeRawBufferPointer(rebasing: all[8..<(8 + n)])
        guard headerBytes[0] == UInt8(ascii: "{") else {
            throw err("header does not start with '{' (found byte 0x\(String(headerBytes[0], radix: 16)))")
        }
        let json: JSONValue
        do { json = try JSONParser.parse(headerBytes) } catch let e as JSONParseError {
            throw err("header is not valid JSON at byte \(e.offset): \(e.message)")
        }
        guard case .object(let entries) = json else { throw err("header is not a JSON object") }

        let dataStart = 8 + n
        let dataLength = all.count - dataStart
        var metadata: [String: String] = [:]
        struct Entry { let name: String; let dtype: DType; let shape: [Int]; let begin: Int; let end: Int }
        var list: [Entry] = []
        list.reserveCapacity(entries.count)

        for (name, value) in entries {
            if name == "__metadata__" {
                guard case .object(let kv) = value else { throw err("__metadata__ is a \(value.typeName), expected an object of strings") }
                for (k, v) in kv {
                    guard case .string(let s) = v else { throw err("__metadata__ entry '\(k)' is a \(v.typeName), expected a string") }
                    metadata[k] = s
                }
                continue
            }
            func terr(_ m: String) -> CheckpointError { err("tensor '\(name)': \(m)") }
            guard case .object(let fields) = value else { throw terr("entry is a \(value.typeName), expected an object") }
            var dtypeV: JSONValue?, shapeV: JSONValue?, offV: JSONValue?
            for (k, v) in fields {
                switch k {
                case "dtype": dtypeV = v
                case "shape": shapeV = v
                case "data_offsets": offV = v
                default: break  // the reference ignores unknown fields too
                }
            }
            guard case .string(let ds)? = dtypeV else { throw terr("missing or non-string 'dtype'") }
            guard let dtype = DType(rawValue: ds) else { throw terr("unsupported dtype '\(ds)'") }
            guard case .array(let dims)? = shapeV else { throw terr("missing or non-array 'shape'") }
            var shape: [Int] = []
            for d in dims {
                guard case .int(let v) = d, v >= 0 else { throw terr("shape \(render(dims)) has an entry that is not a non-negative integer") }
                shape.append(v)
            }
            guard case .array(let offs)? = offV, offs.count == 2,
                  case .int(let begin) = offs[0], case .int(let end) = offs[1], begin >= 0, end >= 0 else {
                throw terr("'data_offsets' must be an array of two non-negative integers")
            }
            guard begin <= end else { throw terr("data_offsets [\(begin), \(end)) has end before begin") }
            guard end <= dataLength else {
                throw terr("data_offsets [\(begin), \(end)) lie outside the \(dataLength)-byte data buffer")
            }
            guard let count = checkedElementCount(shape), let need = multiplyChecked(count, dtype.byteSize) else {
                throw terr("shape \(shape) is too large")
            }
            guard end - begin == need else {
                throw terr("data_offsets [\(begin), \(end)) hold \(end - begin) bytes but shape \(shape) of \(ds) needs \(need)")
            }
            list.append(Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }

        // The reference requires the tensors to tile the data buffer exactly.
        list.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var pos = 0
        for e in list {
            if e.begin < pos { throw err("tensor '\(e.name)': data_offsets [\(e.begin), \(e.end)) overlap the previous tensor (which ends at \(pos))") }
            if e.begin > pos { throw err("tensor '\(e.name)': data_offsets [\(e.begin), \(e.end)) leave a gap after byte \(pos) of the data buffer") }
            pos = e.end
        }
        guard pos == dataLength else {
            throw err("data buffer has \(dataLength) bytes but the tensors cover \(pos) (trailing or missing data)")
        }

        var tensors: [String: RawTensor] = [:]
        tensors.reserveCapacity(list.count)
        for e in list {
            let buf = UnsafeRawBufferPointer(rebasing: all[(dataStart + e.begin)..<(dataStart + e.end)])
            tensors[e.name] = RawTensor(dtype: e.dtype, shape: e.shape, bytes: buf, owner: file)
        }
        return TensorArchive(tensors: tensors, order: list.map(\.name), metadata: metadata, format: .safetensors)
    }

    private static func render(_ a: [JSONValue]) -> String {
        "[" + a.map { v -> String in
            switch v {
            case .int(let i): return String(i)
            case .number(let d): return String(d)
            case .string(let s): return jsonQuote(s)
            default: return v.typeName
            }
        }.joined(separator: ", ") + "]"
    }
}
