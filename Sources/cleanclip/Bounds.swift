import ArgumentParser
import CleanCLIP

/// Range checks for numeric flags, run in `validate()`: a value out of range is a usage error
/// that names the flag, instead of an arithmetic trap or a failed allocation deep inside a
/// command. The limits are the library's where it has one (`Threads.maximum`,
/// `CLIPPreprocessor.maxSize`), else generous bounds on what fits in memory. Finetuning settings
/// are not checked here: the library's `validate(naming:)` checks them and names the flag.
enum Bounds {
    /// Items per forward pass.
    static let batch = 1...65_536

    static func check<T: Comparable>(_ value: T?, _ flag: String, _ range: ClosedRange<T>) throws {
        guard let value, !range.contains(value) else { return }  // NaN is in no range
        throw ValidationError("\(flag) must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
    }

    static func checkThreads(_ threads: Int?) throws {
        try check(threads, "--threads", 1...Threads.maximum)
    }
}
