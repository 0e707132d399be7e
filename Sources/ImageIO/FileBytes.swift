import Files

/// Whole-file reads and atomic writes (see `RegularFile` and `AtomicFile`), with failures
/// reported as `ImageError`s that name the path and the system's reason.
enum FileBytes {
    static func readAll(path: String) throws -> [UInt8] {
        do { return try RegularFile.read(path) } catch let e as FileError {
            throw ImageError(.unreadable, path: path, e)
        }
    }

    /// Writes `bytes` to a temporary file next to `path`, then renames it over `path`, so
    /// readers never see a half-written file.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        do { try AtomicFile.write(bytes, to: path) } catch let e as FileError {
            throw ImageError(.writeFailed, path: path, e)
        }
    }
}
