import ArgumentParser
import CleanCLIP

/// Range checks for numeric flags, run in `validate()`: a value out of range is a usage error
/// that names the flag, instead of an arithmetic trap or a failed allocation deep inside a
/// command. The limits are the library's where it has one (`Threads.maximum`,
/// `CLIPPreprocessor.maxSize`, `AdamW.maxStepCount`), else generous bounds on what fits in memory.
enum Bounds {
    /// Items per forward pass.
    static let batch = 1...65_536

    static func check<T: Comparable>(_ value: T?, _ flag: String, _ range: ClosedRange<T>) throws {
        guard let value, !range.contains(value) else { return }  // NaN is in no range
        throw ValidationError("\(flag) must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
    }

    /// A real-valued flag that must be finite and positive (non-negative with `allowZero`).
    static func checkReal(_ value: Float?, _ flag: String, allowZero: Bool = false) throws {
        guard let value else { return }
        guard value.isFinite, allowZero ? value >= 0 : value > 0 else {
            throw ValidationError("\(flag) must be a finite \(allowZero ? "non-negative" : "positive") number, got \(value)")
        }
    }

    static func checkThreads(_ threads: Int?) throws {
        try check(threads, "--threads", 1...Threads.maximum)
    }
}
