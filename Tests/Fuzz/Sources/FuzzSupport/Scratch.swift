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
    @discardableResult
    public static func write<C: Collection>(_ bytes: C, as name: String) -> String where C.Element == UInt8 {
        let path = directory + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }
}

/// The fuzzer's input as bytes (libFuzzer may pass a null pointer for an empty input).
public func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}
