#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

        try AtomicFile.write(to: path) { out in
            var len = UInt64(headerBytes.count).littleEndian
            try withUnsafeBytes(of: &len) { try out.write($0) }
            try headerBytes.withUnsafeBytes { try out.write($0) }
            for (_, t) in ordered { try out.write(t.bytes) }
        }
    }
}

private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    write(fd, p, n)
}

/// Writes a file atomically: temporary file in the same directory, fsync, rename, fsync of the
/// directory. The temporary file is removed on failure, and an existing file at the path is
/// only ever replaced whole.
public enum AtomicFile {
    public final class Sink {
        let fd: Int32
        let path: String
        init(fd: Int32, path: String) { self.fd = fd; self.path = path }

        public func write(_ data: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < data.count {
                let r = posixWrite(fd, data.baseAddress! + done, data.count - done)
                if r < 0 {
                    if errno == EINTR { continue }
                    throw CheckpointError(path: path, "write failed: \(errnoString())")
                }
                done += r
            }
        }
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try write(to: path) { sink in try bytes.withUnsafeBytes { try sink.write($0) } }
    }

    /// Writes UTF-8 `text` to `path` atomically.
    public static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    /// Streams the file's contents through `body`, then moves it into place.
    public static func write(to path: String, _ body: (Sink) throws -> Void) throws {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !base.isEmpty else { throw CheckpointError(path: path, "not a file path") }
        let tmp = (dir.isEmpty ? "" : dir + "/") + ".\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 { throw CheckpointError(path: path, "cannot create temporary file \(tmp): \(errnoString())") }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        do {
            try body(Sink(fd: fd, path: path))
            if fsync(fd) != 0 { throw CheckpointError(path: path, "fsync failed: \(errnoString())") }
        } catch {
            close(fd)
            throw error
        }
        if close(fd) != 0 { throw CheckpointError(path: path, "close failed: \(errnoString())") }
        if rename(tmp, path) != 0 { throw CheckpointError(path: path, "cannot rename temporary file into place: \(errnoString())") }
        ok = true
        let dfd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }
}
