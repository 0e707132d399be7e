#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file atomically: into a temporary file in the same folder, fsync, rename over the
/// destination, fsync of the folder. Readers see the old file or the new one, never a part.
///
/// The temporary file is `.<name>.tmp`, held under an exclusive `flock` while the write is in
/// progress. The kernel drops the lock when its process dies, so a free lock on an existing
/// `.<name>.tmp` means that a write was killed (kill -9, power loss) and left it behind: the next
/// write to the same destination takes it over, and a killed write leaves at most that one
/// file. While another live process writes the same destination, a unique
/// `.<name>.tmp-<pid>-<random>` is used instead. A failed write removes its temporary file.
package enum AtomicFile {
    package final class Sink {
        let fd: Int32
        let path: String
        init(fd: Int32, path: String) { self.fd = fd; self.path = path }

        package func write(_ data: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < data.count {
                let r = posixWrite(fd, data.baseAddress! + done, data.count - done)
                if r < 0 {
                    if errno == EINTR { continue }
                    throw FileError(path: path, "write failed: \(systemReason())")
                }
                done += r
            }
        }
    }

    /// Writes `bytes` to `path` atomically.
    package static func write(_ bytes: [UInt8], to path: String) throws {
        try write(to: path) { sink in try bytes.withUnsafeBytes { try sink.write($0) } }
    }

    /// Writes UTF-8 `text` to `path` atomically.
    package static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    /// Streams the file's contents through `body`, then moves it into place.
    package static func write(to path: String, _ body: (Sink) throws -> Void) throws {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !base.isEmpty else { throw FileError(path: path, "not a file path") }
        let prefix = (dir.isEmpty ? "" : dir + "/") + "." + base + ".tmp"
        let (fd, tmp) = try openTemporary(prefix, for: path)
        var renamed = false
        // The lock is held until after the rename, so that no other writer can take over the
        // temporary file between the fsync and the rename.
        defer {
            if !renamed { unlink(tmp) }
            close(fd)
        }
        try body(Sink(fd: fd, path: path))
        if fsync(fd) != 0 { throw FileError(path: path, "fsync failed: \(systemReason())") }
        if rename(tmp, path) != 0 { throw FileError(path: path, "cannot rename the temporary file into place: \(systemReason())") }
        renamed = true
        let dfd = posixOpen(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    /// The locked, empty temporary file for one write: `prefix` itself when no live process
    /// holds it (a leftover of a killed write is reused), else a new unique name.
    private static func openTemporary(_ prefix: String, for path: String) throws -> (Int32, String) {
        // O_NOFOLLOW and O_NONBLOCK: a symlink or a named pipe planted at that name is refused
        // at once (then a unique name is used) instead of being followed or blocking.
        let fd = posixOpen(prefix, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
        if fd >= 0 {
            var held = stat(), named = stat()
            // After the lock, the name must still be this file: its previous writer may have
            // renamed it into place between our open and our lock.
            if flock(fd, LOCK_EX | LOCK_NB) == 0, fstat(fd, &held) == 0, (held.st_mode & S_IFMT) == S_IFREG,
               lstat(prefix, &named) == 0, named.st_ino == held.st_ino, named.st_dev == held.st_dev,
               ftruncate(fd, 0) == 0 {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
                return (fd, prefix)
            }
            close(fd)
        }
        let unique = "\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let ufd = posixOpen(unique, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if ufd < 0 { throw FileError(path: path, "cannot create the temporary file \(unique): \(systemReason())") }
        return (ufd, unique)
    }
}

private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }
