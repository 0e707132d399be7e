import CleanCLIP
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The C status codes (`cleanclip_status` in include/cleanclip.h).
enum Status: Int32, CaseIterable {
    case ok = 0
    case invalidArgument = 1
    case nullPointer = 2
    case bufferTooSmall = 3
    case ioError = 4
    case formatError = 5
    case shapeMismatch = 6
    case cancelled = 7
    case outOfMemory = 8
    case unsupported = 9
    case `internal` = 10

    var name: StaticString {
        switch self {
        case .ok: return "CLEANCLIP_OK"
        case .invalidArgument: return "CLEANCLIP_INVALID_ARGUMENT"
        case .nullPointer: return "CLEANCLIP_NULL_POINTER"
        case .bufferTooSmall: return "CLEANCLIP_BUFFER_TOO_SMALL"
        case .ioError: return "CLEANCLIP_IO_ERROR"
        case .formatError: return "CLEANCLIP_FORMAT_ERROR"
        case .shapeMismatch: return "CLEANCLIP_SHAPE_MISMATCH"
        case .cancelled: return "CLEANCLIP_CANCELLED"
        case .outOfMemory: return "CLEANCLIP_OUT_OF_MEMORY"
        case .unsupported: return "CLEANCLIP_UNSUPPORTED"
        case .internal: return "CLEANCLIP_INTERNAL"
        }
    }
}

/// A failure detected at the boundary, carrying the status to return.
struct BoundaryError: Error {
    let status: Status
    let message: String
    init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// The thread-local message behind `cleanclip_last_error`: a malloc'ed C string per thread,
/// replaced (and the old one freed) by the next call on that thread, freed at thread exit.
enum LastError {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        // Creation only fails when the process has run out of keys; then messages are lost
        // (cleanclip_last_error returns "") but statuses stay correct.
        _ = pthread_key_create(&key) { free($0) }
        return key
    }()
    private static let empty: UnsafeMutablePointer<CChar> = strdup("")!

    static func set(_ message: String) {
        let old = pthread_getspecific(key)
        if message.isEmpty && old == nil { return }
        pthread_setspecific(key, message.isEmpty ? nil : strdup(message))
        free(old)
    }

    static var current: UnsafePointer<CChar> {
        if let p = pthread_getspecific(key) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
        return UnsafePointer(empty)
    }
}

/// Runs one C entry point: maps every thrown error to a status and its message, clears the
/// message on success. Nothing thrown inside escapes to C.
func boundary(_ body: () throws -> Void) -> Int32 {
    do {
        try body()
        LastError.set("")
        return Status.ok.rawValue
    } catch {
        let (status, message) = classify(error)
        LastError.set(message)
        return status.rawValue
    }
}

/// The status and message for an error thrown by the Swift library.
func classify(_ error: Error) -> (Status, String) {
    switch error {
    case let e as BoundaryError:
        return (e.status, e.message)
    case let e as CLIPInputError:
        return (.shapeMismatch, e.description)
    case let e as FileError:
        return (.ioError, e.description)
    case let e as NonFiniteError:
        return (.invalidArgument, e.description)
    case let e as CheckpointError:
        let ioPrefixes = ["cannot open", "cannot stat", "not a regular file", "cannot create", "cannot rename", "cannot write",
                          "write failed", "fsync failed", "close failed"]
        let io = ioPrefixes.contains { e.reason.hasPrefix($0) }
        return (io ? .ioError : .formatError, e.description)
    case let e as WeightError:
        return (e.description.hasPrefix("no such file") ? .ioError : .formatError, e.description)
    default:
        if let mapped = classifyFrontendError(error) ?? classifyMethodError(error) { return mapped }
        return (.internal, "unexpected error: \(error)")
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

private func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("cleanclip_status_name")
public func cleanclip_status_name(_ status: Int32) -> UnsafePointer<CChar> {
    cString(Status(rawValue: status)?.name ?? "CLEANCLIP_UNKNOWN_STATUS")
}

@_cdecl("cleanclip_last_error")
public func cleanclip_last_error() -> UnsafePointer<CChar> { LastError.current }

@_cdecl("cleanclip_version")
public func cleanclip_version() -> UInt32 {
    UInt32(Version.major * 10000 + Version.minor * 100 + Version.patch)
}

@_cdecl("cleanclip_version_string")
public func cleanclip_version_string() -> UnsafePointer<CChar> { cString(Version.string) }

/// Must match CLEANCLIP_VERSION_* in include/cleanclip.h (checked by the C test).
enum Version {
    static let major = 0, minor = 2, patch = 0
    static let string: StaticString = "0.2.0"
}

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
