import CleanCLIP
import Foundation

// Shared plumbing of the method's entry points (finetuning, evaluation, poisoning, scoring):
// option structs with string fields, progress callbacks that can cancel, and text outputs.

/// `int (*)(const cleanclip_progress *, void *user_data)`: non-zero cancels.
public typealias ProgressCallback = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?) -> Int32

/// Fills a caller's options struct with defaults: checks the size, then stores it and writes the
/// fields that fit. A rejected size writes nothing: the caller may own fewer bytes than even the
/// `struct_size` field.
func fillDefaults<L: CStructLayout>(_ options: UnsafeMutableRawPointer?, _ structSize: Int, _ layout: L.Type,
                                    _ fill: (CStruct<L>) -> Void) throws {
    let p = try nonNull(options, "options")
    let size = try L.layout.check(size: structSize, "options")
    p.storeBytes(of: size, as: Int.self)
    let s = CStruct<L>(base: p, size: size)
    // Zero everything first so that pointer fields of a partial struct are NULL.
    memset(p + MemoryLayout<Int>.size, 0, size - MemoryLayout<Int>.size)
    fill(s)
}

/// A caller's options struct (after checking `struct_size`), or nil when `p` is NULL.
func callerOptions<L: CStructLayout>(_ p: UnsafeRawPointer?, _ layout: L.Type) throws -> CStruct<L>? {
    guard let p else { return nil }
    let size = try L.layout.callerSize(p, "options")
    return CStruct<L>(base: UnsafeMutableRawPointer(mutating: p), size: size)
}

extension CStruct {
    /// A `const char *` field: nil when NULL or beyond the caller's struct; an error naming the
    /// field when it is not UTF-8.
    func string(_ key: KeyPath<Layout, CField<UnsafePointer<CChar>?>>) throws -> String? {
        guard let p = read(key) ?? nil else { return nil }
        guard let s = String(validatingCString: p) else {
            throw BoundaryError(.invalidArgument, "options->\(field(key).name) is not valid UTF-8")
        }
        return s
    }

    /// An int32 field that must be positive when given (0 means the default).
    func positiveInt(_ key: KeyPath<Layout, CField<Int32>>, default value: Int) throws -> Int {
        let v = read(key) ?? 0
        guard v >= 0 else { throw BoundaryError(.invalidArgument, "options->\(field(key).name) is \(v); use a positive value (0: the default \(value))") }
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
                _ fill: (CStruct<CProgress>) -> Void) -> Bool {
        guard let callback, !cancelled else { return !cancelled }
        let size = CProgress.layout.size
        return withUnsafeTemporaryAllocation(byteCount: size, alignment: 8) { buffer -> Bool in
            guard let base = buffer.baseAddress else { return true }  // never nil for a non-empty allocation
            memset(base, 0, size)
            let s = CStruct<CProgress>(base: base, size: size)
            s.write(\.struct_size, size)
            s.write(\.phase, UnsafeRawPointer(phase.utf8Start).assumingMemoryBound(to: CChar.self))
            for f: KeyPath<CProgress, CField<Float>> in [\.loss, \.clip_loss, \.inmodal_loss, \.lr] { s.write(f, Float.nan) }
            for f: KeyPath<CProgress, CField<Double>> in [\.seconds, \.eta_seconds, \.pairs_per_second] { s.write(f, Double.nan) }
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
                s.write(\.done, Int64(done))
                s.write(\.total, Int64(total))
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
        if let p = src.baseAddress { UnsafeMutableRawPointer(out).copyMemory(from: p, byteCount: src.count) }
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
