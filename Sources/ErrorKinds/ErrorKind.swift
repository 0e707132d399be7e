/// What kind of failure an error of the library is, in the terms a caller acts on: fix an
/// argument, supply another file, free memory. Every public error type of the library adopts
/// `KindedError`, so code that reports errors (the C boundary, the command-line tool) chooses
/// its status from the kind with a `switch`, never from the wording of a message.
///
/// The kinds are deliberately few; an error type's own `kind` (e.g. `ImageError.Kind`) keeps
/// the finer detail.
public enum ErrorKind: Sendable, Hashable {
    /// A value given by the caller is out of range or does not fit the others (a count, an
    /// option, a class name, settings that differ from the run being resumed).
    case invalidArgument
    /// A NaN or infinity in numbers the caller passed in, or in results computed from them.
    case nonFiniteValue
    /// An input's size does not fit the model (pixel count, token count, token id, weight shapes).
    case shapeMismatch
    /// A file or directory does not exist.
    case notFound
    /// A path names a named pipe, device or directory where a regular file is expected.
    case notRegularFile
    /// A file exists but could not be read or written.
    case io
    /// A file was read but its contents are malformed or in a variant this library does not read.
    case malformedFile
    /// A model's weights hold NaN or infinity (in a checkpoint read, or about to be saved).
    case nonFiniteWeight
    /// Memory could not be allocated.
    case outOfMemory
}

/// An error that says what kind of failure it is (see `ErrorKind`). Its `description` is the
/// message shown to users; it names the file, input or option concerned.
public protocol KindedError: Error, CustomStringConvertible {
    var errorKind: ErrorKind { get }
}
