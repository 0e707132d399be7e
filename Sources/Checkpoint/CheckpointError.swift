/// An error raised while reading or writing a checkpoint file.
///
/// The message always names the file and what was wrong with it, e.g.
/// `model.safetensors: tensor 'visual.proj': data_offsets [0, 12) hold 12 bytes but shape [2, 3] of F32 needs 24`.
/// Readers never trap on malformed input: every problem is reported through this type.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    /// The file the error concerns (as given by the caller).
    public let path: String
    /// What was wrong, without the path.
    public let reason: String

    package init(path: String, _ reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
