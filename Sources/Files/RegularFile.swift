import ErrorKinds
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that could not be opened, read or written: the path and the system's reason.
/// `reason` starts with what failed ("cannot open: ...", "not a regular file (a named pipe)",
/// "write failed: ..."), so callers can word it into their own errors; callers that wrap it pass
/// its `errorKind` on with it.
public struct FileError: KindedError, Sendable {
    public let path: String
    public let reason: String
    /// `.notFound`, `.notRegularFile`, or `.io` for every other failure.
    public let errorKind: ErrorKind

    package init(path: String, _ reason: String, kind: ErrorKind = .io) {
        self.path = path
        self.reason = reason
        self.errorKind = kind
    }

    public var description: String { "\(path): \(reason)" }
}

/// Opening files the library reads (checkpoints, images, CSVs, class lists, WordNet, .npy).
///
/// Only regular files are accepted, and the check never blocks: a named pipe opened for reading
/// blocks in `open` until a writer appears, so the file is opened with O_NONBLOCK and its type
/// read from the open descriptor (`fstat`), which cannot race with a rename of the path the way
/// a `stat` before `open` can. Directories and devices (`/dev/zero`) are refused the same way.
package enum RegularFile {
    /// An open descriptor on a regular file, with its size at opening. The caller closes `fd`.
    package struct Opened {
        package let fd: Int32
        package let size: Int
    }

    /// Opens `path` read-only when it is a regular file.
    package static func open(_ path: String) throws -> Opened {
        let fd = posixOpen(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            let missing = errno == ENOENT
            throw FileError(path: path, "cannot open: \(systemReason())", kind: missing ? .notFound : .io)
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = systemReason()
            close(fd)
            throw FileError(path: path, "cannot stat: \(reason)")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw FileError(path: path, "not a regular file (\(kind(st.st_mode)))", kind: .notRegularFile)
        }
        // O_NONBLOCK only mattered for the open itself; reads of the regular file stay blocking.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return Opened(fd: fd, size: Int(st.st_size))
    }

    /// The whole contents of a regular file. A file that shrinks while it is read gives the
    /// bytes that were there.
    package static func read(_ path: String) throws -> [UInt8] {
        let file = try open(path)
        defer { close(file.fd) }
        var bytes = [UInt8](repeating: 0, count: file.size)
        let filled = try bytes.withUnsafeMutableBytes { try readFully(file.fd, into: $0, path: path) }
        if filled < bytes.count { bytes.removeSubrange(filled...) }
        return bytes
    }

    /// Reads from `fd` until `buffer` is full or the file ends; returns the bytes read.
    package static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = posixRead(fd, buffer.baseAddress! + filled, buffer.count - filled)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, "read failed: \(systemReason())")
            }
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    private static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a named pipe"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "not a plain file"
        }
    }
}

func systemReason() -> String { String(cString: strerror(errno)) }

// The POSIX calls under names that the static members `open` and `read` above do not shadow.
func posixOpen(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 { open(path, flags, mode) }
private func posixRead(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int { read(fd, p, n) }
