#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a directory as a whole: its files go into a fresh hidden directory beside the
/// destination (`.<name>.tmp-<pid>-<random>`), which is then renamed into place. A failure removes
/// the temporary directory and leaves the destination as it was.
///
/// An existing destination is replaced only when it is empty or holds nothing but files named in
/// `replacing` (an earlier write of the same kind): it is renamed aside, the new directory
/// renamed in, then the old one removed. Anything else there is an error, never deleted.
package enum AtomicDirectory {
    package static func write(to path: String, replacing: Set<String>, _ body: (String) throws -> Void) throws {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        let slash = trimmed.lastIndex(of: "/")
        let parent = slash.map { String(trimmed[..<$0]) } ?? "."
        let base = slash.map { String(trimmed[trimmed.index(after: $0)...]) } ?? trimmed
        guard !base.isEmpty, base != ".", base != ".." else { throw FileError(path: path, "not a directory path to write") }
        let prefix = (parent.isEmpty ? "/" : parent + "/") + "." + base
        let existing = try contents(of: trimmed)
        if let existing, let other = existing.sorted().first(where: { !replacing.contains($0) }) {
            throw FileError(path: path, "the directory exists and holds '\(other)'; give an empty or new directory")
        }
        let tmp = "\(prefix).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(tmp, 0o755) == 0 else { throw FileError(path: path, "cannot create \(tmp): \(systemReason())") }
        var placed = false
        defer { if !placed { removeFlat(tmp) } }
        try body(tmp)
        if let existing, !existing.isEmpty {
            let old = "\(prefix).old-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            guard rename(trimmed, old) == 0 else { throw FileError(path: path, "cannot move the old directory aside: \(systemReason())") }
            guard rename(tmp, trimmed) == 0 else {
                let reason = systemReason()
                _ = rename(old, trimmed)
                throw FileError(path: path, "cannot rename the new directory into place: \(reason)")
            }
            placed = true
            removeFlat(old)
        } else {
            // rename(2) replaces an empty directory.
            guard rename(tmp, trimmed) == 0 else { throw FileError(path: path, "cannot rename the new directory into place: \(systemReason())") }
            placed = true
        }
    }

    /// The names in the directory at `path`; nil when nothing is there; an error for a non-directory.
    private static func contents(of path: String) throws -> [String]? {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return nil }
            throw FileError(path: path, "cannot inspect: \(systemReason())")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw FileError(path: path, "exists and is not a directory") }
        guard let d = opendir(path) else { throw FileError(path: path, "cannot list: \(systemReason())") }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes a directory of plain files (one this writer made).
    private static func removeFlat(_ dir: String) {
        for name in (try? contents(of: dir)) ?? [] { unlink(dir + "/" + name) }
        rmdir(dir)
    }
}
