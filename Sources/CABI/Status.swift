import CleanCLIP
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failure detected at the boundary, carrying the status (primary or extended) to report.
struct BoundaryError: Error {
    let status: Status
    let message: String
    init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// The thread-local outcome behind `cleanclip_last_error` and `cleanclip_extended_status`: a
/// malloc'ed C string per thread, replaced (and the old one freed) by the next call on that
/// thread, freed at thread exit; and the extended status, stored in the pointer-sized slot itself.
enum LastError {
    private static let messageKey = makeKey { free($0) }
    private static let statusKey = makeKey(nil)
    private static let empty: UnsafeMutablePointer<CChar>? = strdup("")

    /// Creation only fails when the process has run out of keys; then messages and extended
    /// statuses are lost (cleanclip_last_error returns "", cleanclip_extended_status 0) but
    /// returned statuses stay correct.
    private static func makeKey(_ destructor: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?) -> pthread_key_t {
        var key = pthread_key_t()
        _ = pthread_key_create(&key, destructor)
        return key
    }

    static func set(_ status: Status, _ message: String) {
        pthread_setspecific(statusKey, UnsafeRawPointer(bitPattern: Int(status.rawValue)))
        let old = pthread_getspecific(messageKey)
        if message.isEmpty && old == nil { return }
        pthread_setspecific(messageKey, message.isEmpty ? nil : strdup(message))
        free(old)
    }

    static var message: UnsafePointer<CChar> {
        if let p = pthread_getspecific(messageKey) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
        return UnsafePointer(empty) ?? cString("")
    }

    static var status: Int32 {
        Int32(truncatingIfNeeded: Int(bitPattern: pthread_getspecific(statusKey)))
    }
}

/// Runs one C entry point: maps every thrown error to a status and its message, clears the
/// message on success. Nothing thrown inside escapes to C. Returns the primary status; the
/// extended one is kept for `cleanclip_extended_status`.
func boundary(_ body: () throws -> Void) -> Int32 {
    do {
        try body()
        LastError.set(.ok, "")
        return Status.ok.rawValue
    } catch {
        let (status, message) = classify(error)
        LastError.set(status, message)
        return status.primary.rawValue
    }
}

/// The status and message for an error thrown by the Swift library: every library error type
/// says what kind of failure it is (`KindedError`), and each kind has one status. A Swift error
/// of any other type is a bug of this library.
func classify(_ error: Error) -> (Status, String) {
    switch error {
    case let e as BoundaryError:
        return (e.status, e.message)
    case let e as TokenizerError where e.kind == .malformedVocabulary:
        // The entry points only use the vocabulary compiled into the library: if it does not
        // parse, the build is broken, which no caller can fix.
        return (.internal, "the embedded vocabulary is corrupt: \(e.description)")
    case let e as KindedError:
        return (Status(e.errorKind), e.description)
    default:
        return (.internal, "unexpected error: \(error)")
    }
}

extension Status {
    /// The status of each kind of library error (primary statuses as in every earlier version).
    init(_ kind: ErrorKind) {
        switch kind {
        case .invalidArgument: self = .invalidArgument
        case .nonFiniteValue: self = .invalidArgumentNonFinite
        case .shapeMismatch: self = .shapeMismatch
        case .notFound: self = .ioErrorNotFound
        case .notRegularFile: self = .ioErrorNotRegularFile
        case .io: self = .ioError
        case .malformedFile: self = .formatError
        case .nonFiniteWeight: self = .formatErrorNonFinite
        case .outOfMemory: self = .outOfMemory
        }
    }
}

// MARK: - Argument checks shared by the entry points

func nonNull<T>(_ p: T?, _ name: String) throws -> T {
    guard let p else { throw BoundaryError(.nullPointer, "\(name) is NULL") }
    return p
}

/// Checks a count passed as `size_t` (seen here as `Int`: values above Int.max arrive negative).
func positive(_ n: Int, _ name: String) throws {
    guard n >= 0 else { throw BoundaryError(.invalidArgument, "\(name) (\(UInt(bitPattern: n))) is too large") }
    guard n > 0 else { throw BoundaryError(.invalidArgument, "\(name) is 0; at least one is needed") }
}

/// The product of `factors`, or an error when it overflows.
func product(_ factors: [Int], _ what: String) throws -> Int {
    var total = 1
    for f in factors {
        let (r, o) = total.multipliedReportingOverflow(by: f)
        guard !o, f >= 0 else { throw BoundaryError(.outOfMemory, "\(what) is too large") }
        total = r
    }
    return total
}

/// Checks an output capacity; reports the needed size through `needed` either way.
func checkCapacity(_ need: Int, _ capacity: Int, _ needed: UnsafeMutablePointer<Int>?, _ what: String) throws {
    needed?.pointee = need
    guard capacity < 0 || capacity >= need else {  // a negative Int is a size_t above Int.max: enough
        throw BoundaryError(.bufferTooSmall, "\(what) needs \(need) elements but the capacity is \(capacity)")
    }
}

/// A Swift string from a C string, or an error naming the argument when it is NULL or not UTF-8.
func string(_ p: UnsafePointer<CChar>?, _ name: String) throws -> String {
    let p = try nonNull(p, name)
    guard let s = String(validatingCString: p) else {
        throw BoundaryError(.invalidArgument, "\(name) is not valid UTF-8")
    }
    return s
}

/// Swift strings from an array of `n` C strings.
func strings(_ array: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int, _ name: String) throws -> [String] {
    let array = try nonNull(array, name)
    try positive(n, "the number of \(name)")
    return try (0..<n).map { try string(array[$0], "\(name)[\($0)]") }
}

func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("cleanclip_status_name")
public func cleanclip_status_name(_ status: Int32) -> UnsafePointer<CChar> {
    cString(Status(rawValue: status)?.name ?? "CLEANCLIP_UNKNOWN_STATUS")
}

@_cdecl("cleanclip_errstr")
public func cleanclip_errstr(_ code: Int32) -> UnsafePointer<CChar> {
    cString((Status(rawValue: code) ?? Status(rawValue: code & 0xFF))?.text ?? "Unknown status.")
}

@_cdecl("cleanclip_last_error")
public func cleanclip_last_error() -> UnsafePointer<CChar> { LastError.message }

@_cdecl("cleanclip_extended_status")
public func cleanclip_extended_status() -> Int32 { LastError.status }

@_cdecl("cleanclip_version")
public func cleanclip_version() -> UInt32 {
    UInt32(Version.major * 10000 + Version.minor * 100 + Version.patch)
}

@_cdecl("cleanclip_version_string")
public func cleanclip_version_string() -> UnsafePointer<CChar> { cString(Version.string) }

@_cdecl("cleanclip_set_num_threads")
public func cleanclip_set_num_threads(_ n: Int32) -> Int32 {
    boundary {
        guard n >= 1, n <= Threads.maximum else {
            throw BoundaryError(.invalidArgument, "thread count \(n) must be between 1 and \(Threads.maximum)")
        }
        Threads.count = Int(n)
    }
}

@_cdecl("cleanclip_get_num_threads")
public func cleanclip_get_num_threads() -> Int32 { Int32(clamping: Threads.count) }
