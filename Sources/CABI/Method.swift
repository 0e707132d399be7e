import CleanCLIP
import Foundation

// Shared plumbing of the method's entry points (finetuning, evaluation, poisoning, scoring):
// option structs with string fields, progress callbacks that can cancel, text outputs, and the
// statuses of the method's errors.

/// `int (*)(const cleanclip_progress *, void *user_data)`: non-zero cancels.
public typealias ProgressCallback = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?) -> Int32

/// Fills a caller's options struct with defaults: checks the size, then stores it and writes the
/// fields that fit. A rejected size writes nothing: the caller may own fewer bytes than even the
/// `struct_size` field.
func fillDefaults(_ options: UnsafeMutableRawPointer?, _ structSize: Int, _ layout: CLayout,
                  _ fill: (CStruct) -> Void) throws {
    let p = try nonNull(options, "options")
    let size = try layout.check(size: structSize, "options")
    p.storeBytes(of: size, as: Int.self)
    let s = CStruct(base: p, size: size, layout: layout)
    // Zero everything first so that pointer fields of a partial struct are NULL.
    memset(p + MemoryLayout<Int>.size, 0, size - MemoryLayout<Int>.size)
    fill(s)
}

/// A caller's options struct (after checking `struct_size`), or nil when `p` is NULL.
func callerOptions(_ p: UnsafeRawPointer?, _ layout: CLayout) throws -> CStruct? {
    guard let p else { return nil }
    let size = try layout.callerSize(p, "options")
    return CStruct(base: UnsafeMutableRawPointer(mutating: p), size: size, layout: layout)
}

extension CStruct {
    /// A `const char *` field: nil when NULL or beyond the caller's struct; an error naming the
    /// field when it is not UTF-8.
    func string(_ field: String) throws -> String? {
        guard let raw = read(field, as: UInt.self), raw != 0 else { return nil }
        let p = UnsafePointer<CChar>(bitPattern: raw)!
        guard let s = String(validatingCString: p) else {
            throw BoundaryError(.invalidArgument, "options->\(field) is not valid UTF-8")
        }
        return s
    }

    /// An int32 field that must be positive when given (0 means the default).
    func positiveInt(_ field: String, default value: Int) throws -> Int {
        let v = read(field, as: Int32.self) ?? 0
        guard v >= 0 else { throw BoundaryError(.invalidArgument, "options->\(field) is \(v); use a positive value (0: the default \(value))") }
        return v == 0 ? value : Int(v)
    }
}

/// An optional C string argument (NULL allowed).
func optionalString(_ p: UnsafePointer<CChar>?, _ name: String) throws -> String? {
    guard let p else { return nil }
    return try string(p, name)
}

/// Calls a progress callback with a `cleanclip_progress` and remembers whether it asked to
/// cancel. The callback runs on the thread that made the call.
final class ProgressReporter: @unchecked Sendable {
    let callback: ProgressCallback?
    let userData: UnsafeMutableRawPointer?
    private(set) var cancelled = false
    /// Where the callback asked to stop, for the message.
    private(set) var cancelledAt = ""

    init(_ callback: ProgressCallback?, _ userData: UnsafeMutableRawPointer?) {
        self.callback = callback
        self.userData = userData
    }

    /// Reports one event; false when the callback asked to cancel.
    func report(phase: StaticString, where description: @autoclosure () -> String,
                _ fill: (CStruct) -> Void) -> Bool {
        guard let callback, !cancelled else { return !cancelled }
        let layout = CLayout.progress
        return withUnsafeTemporaryAllocation(byteCount: layout.size, alignment: 8) { buffer -> Bool in
            let base = buffer.baseAddress!
            memset(base, 0, layout.size)
            let s = CStruct(base: base, size: layout.size, layout: layout)
            s.write("struct_size", layout.size)
            s.write("phase", UInt(bitPattern: phase.utf8Start))
            for f in ["loss", "clip_loss", "inmodal_loss", "lr"] { s.write(f, Float.nan) }
            for f in ["seconds", "eta_seconds", "pairs_per_second"] { s.write(f, Double.nan) }
            fill(s)
            if callback(UnsafeRawPointer(base), userData) != 0 {
                cancelled = true
                cancelledAt = description()
                return false
            }
            return true
        }
    }

    /// An evaluation progress closure ((phase, done, total) -> continue?) over this reporter.
    var evaluation: EvaluationProgress? {
        guard callback != nil else { return nil }
        return { [self] phase, done, total in
            report(phase: Self.phaseName(phase), where: "\(phase) images \(done) of \(total)") { s in
                s.write("done", Int64(done))
                s.write("total", Int64(total))
            }
        }
    }

    /// Static C strings for the library's phase names.
    static func phaseName(_ phase: String) -> StaticString {
        switch phase {
        case "clean": return "clean"
        case "triggered": return "triggered"
        case "train": return "train"
        case "embed": return "embed"
        default: return "progress"
        }
    }

    /// Runs `body`; when the callback cancelled, whatever `body` threw becomes CLEANCLIP_CANCELLED.
    func run<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            if cancelled { throw BoundaryError(.cancelled, "cancelled by the progress callback (at \(cancelledAt))") }
            throw error
        }
    }
}

/// Copies `text` and a NUL into a caller's char buffer of `capacity` bytes; `*needed` is the
/// byte count including the NUL.
func copyText(_ text: String, _ out: UnsafeMutablePointer<CChar>?, _ capacity: Int,
              _ needed: UnsafeMutablePointer<Int>?, _ what: String) throws {
    let bytes = Array(text.utf8)
    try checkCapacity(bytes.count + 1, capacity, needed, what)
    let out = try nonNull(out, "the output buffer")
    bytes.withUnsafeBufferPointer { src in
        UnsafeMutableRawPointer(out).copyMemory(from: src.baseAddress!, byteCount: src.count)
    }
    out[bytes.count] = 0
}

/// Fails fast, before any work, when a text output buffer cannot hold `bound` bytes (an upper
/// bound of the result's size known before the work starts). `*needed` is then the bound.
func checkTextBound(_ bound: Int, _ out: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                    _ needed: UnsafeMutablePointer<Int>?, _ what: String) throws {
    try checkCapacity(bound, capacity, needed, what)
    _ = try nonNull(out, "the output buffer")
}

/// Compact JSON with sorted keys.
func compactJSON<T: Encodable>(_ value: T) throws -> String {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try enc.encode(value), as: UTF8.self)
}

/// Statuses for the method's errors (data sets, evaluation, triggers, scoring, finetuning).
func classifyMethodError(_ error: Error) -> (Status, String)? {
    switch error {
    case let e as DatasetError:
        switch e.kind {
        case .unreadable, .missingImage: return (.ioError, e.description)
        default: return (.formatError, e.description)
        }
    case let e as EvaluationError:
        return (e.description.contains(": cannot read the file") ? .ioError : .invalidArgument, e.description)
    case let e as TriggerError:
        return (.invalidArgument, e.description)
    case let e as ScoringError:
        return (.invalidArgument, e.description)
    case let e as FinetuneError:
        return (.invalidArgument, e.description)
    case let e as WordNetError:
        switch e {
        case .notInstalled: return (.ioError, e.description)
        case .malformed: return (.formatError, e.description)
        }
    default:
        return nil
    }
}
