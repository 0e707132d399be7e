#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file. Unmapped when the last reference dies, so any
/// `RawTensor` whose `owner` is (or holds) this object keeps its bytes valid.
final class MappedFile: @unchecked Sendable {
    let path: String
    let base: UnsafeRawPointer?
    let size: Int

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw CheckpointError(path: path, "cannot open: \(errnoString())") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw CheckpointError(path: path, "cannot stat: \(errnoString())") }
        if (st.st_mode & S_IFMT) != S_IFREG { throw CheckpointError(path: path, "not a regular file") }
        let n = Int(st.st_size)
        size = n
        if n == 0 {
            base = nil
            return
        }
        // Copy-on-write: tensors may be updated in place (finetuning) without touching the file.
        let p = mmap(nil, n, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        if p == MAP_FAILED || p == nil {
            throw CheckpointError(path: path, "cannot memory-map \(n) bytes: \(errnoString())")
        }
        base = UnsafeRawPointer(p!)
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
