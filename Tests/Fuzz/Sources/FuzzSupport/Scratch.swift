import Foundation

/// Files for the readers that take a path: one scratch directory per fuzzing process, under
/// $TMPDIR (run.sh points it into the build folder and removes it afterwards).
public enum Scratch {
    public static let directory: String = {
        let dir = (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/cleanclip-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// Writes `bytes` to `name` in the scratch directory (replacing it) and returns its path.
    /// Plain write(2), no fsync: FileManager's atomic writes fsync, which costs more than most
    /// parses and can stall for minutes on a busy disk.
    @discardableResult
    public static func write<C: Collection>(_ bytes: C, as name: String) -> String where C.Element == UInt8 {
        let path = directory + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        precondition(fd >= 0, "cannot create \(path): \(String(cString: strerror(errno)))")
        defer { close(fd) }
        let data = Array(bytes)
        var done = 0
        while done < data.count {
            let n = data.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + done, data.count - done) }
            precondition(n > 0 || errno == EINTR, "cannot write \(path): \(String(cString: strerror(errno)))")
            if n > 0 { done += n }
        }
        return path
    }
}

/// The fuzzer's input as bytes (libFuzzer may pass a null pointer for an empty input).
public func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}
