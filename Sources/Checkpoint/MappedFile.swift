#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Files

/// A whole file, read into a private anonymous memory mapping (page-aligned, writable, freed
/// when the last reference dies), so any `RawTensor` whose `owner` is (or holds) this object
/// keeps its bytes valid.
///
/// The file is copied rather than mapped: a mapping of the file itself raises SIGBUS, killing
/// the host process, when the file is truncated while a model uses it (another program
/// rewriting the checkpoint in place, as `torch.save` does). Measured cost (README,
/// "Checkpoints in memory"): about 0.5 s more to load ViT-B/32 (605 MB) and the whole file
/// resident as private memory from the start.
final class MappedFile: @unchecked Sendable {
    let path: String
    let base: UnsafeRawPointer?
    let size: Int

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

    init(path: String) throws {
        self.path = path
        let file: RegularFile.Opened
        do { file = try RegularFile.open(path) } catch let e as FileError { throw CheckpointError(path: path, e) }
        defer { close(file.fd) }
        let n = file.size
        size = n
        if n == 0 {
            base = nil
            return
        }
        guard let p = mmap(nil, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            throw CheckpointError(path: path, "cannot allocate \(n) bytes to read the file: \(errnoString())")
        }
        do {
            let got = try RegularFile.readFully(file.fd, into: UnsafeMutableRawBufferPointer(start: p, count: n), path: path)
            guard got == n else { throw CheckpointError(path: path, "the file shrank from \(n) to \(got) bytes while it was read") }
        } catch {
            munmap(p, n)
            if let e = error as? FileError { throw CheckpointError(path: path, e) }
            throw error
        }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base, size > 0 { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }
}

/// An owned, 64-byte aligned heap buffer (used for decompressed zip entries, non-contiguous
/// tensor copies and tensors created in memory).
final class OwnedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }

    deinit { pointer.deallocate() }
}

func errnoString() -> String {
    String(cString: strerror(errno))
}
