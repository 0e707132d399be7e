import ErrorKinds
import Files

/// An error raised while reading or writing a checkpoint file.
///
/// The message always names the file and what was wrong with it, e.g.
/// `model.safetensors: tensor 'visual.proj': data_offsets [0, 12) hold 12 bytes but shape [2, 3] of F32 needs 24`.
/// Readers never trap on malformed input: every problem is reported through this type.
public struct CheckpointError: KindedError, Sendable {
    /// The file the error concerns (as given by the caller).
    public let path: String
    /// What was wrong, without the path.
    public let reason: String
    /// `.malformedFile` for the contents; a file that could not be opened, read or written
    /// keeps the kind of its `FileError`.
    public let errorKind: ErrorKind

    package init(path: String, _ reason: String, kind: ErrorKind = .malformedFile) {
        self.path = path
        self.reason = reason
        self.errorKind = kind
    }

    /// A file error met while reading or writing the checkpoint at `path`.
    public init(path: String, _ error: FileError) {
        self.init(path: path, error.reason, kind: error.errorKind)
    }

    public var description: String { "\(path): \(reason)" }
}
