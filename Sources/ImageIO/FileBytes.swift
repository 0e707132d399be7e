#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and atomic writes with POSIX calls, so that failures carry
/// the system's reason (`strerror`) and the path.
enum FileBytes {
    static func readAll(path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ImageError(.unreadable, source: path, detail: "cannot open: \(systemReason())")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw ImageError(.unreadable, source: path, detail: "cannot stat: \(systemReason())")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ImageError(.unreadable, source: path, detail: "not a regular file")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { buffer in
                read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw ImageError(.unreadable, source: path, detail: "read failed: \(systemReason())")
            }
            if count == 0 { break }  // the file shrank while we read it
            filled += count
        }
        if filled < bytes.count { bytes.removeSubrange(filled...) }
        return bytes
    }

    /// Writes `bytes` to a temporary file next to `path`, then renames it over
    /// `path`, so readers never see a half-written file.
    static func writeAtomically(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ImageError(.writeFailed, source: path, detail: "cannot create \(temporary): \(systemReason())")
        }
        var written = 0
        while written < bytes.count {
            let count = write(descriptor, bytes.baseAddress! + written, bytes.count - written)
            if count < 0 {
                if errno == EINTR { continue }
                let reason = systemReason()
                close(descriptor)
                unlink(temporary)
                throw ImageError(.writeFailed, source: path, detail: "write failed: \(reason)")
            }
            written += count
        }
        guard close(descriptor) == 0 else {
            let reason = systemReason()
            unlink(temporary)
            throw ImageError(.writeFailed, source: path, detail: "close failed: \(reason)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = systemReason()
            unlink(temporary)
            throw ImageError(.writeFailed, source: path, detail: "cannot rename the temporary file into place: \(reason)")
        }
    }

    private static func systemReason() -> String {
        String(cString: strerror(errno))
    }
}
