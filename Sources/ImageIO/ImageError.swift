/// A failure to read, decode, encode or transform an image. The description
/// names the file (or the caller-supplied name of an in-memory buffer) and what
/// was wrong, e.g. `photo.jpg: JPEG: image data is truncated (premature end of file)`.
public struct ImageError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The file could not be opened or read (missing, permissions, ...).
        case unreadable
        /// The file or buffer has no bytes.
        case empty
        /// The data is neither JPEG nor PNG.
        case unsupportedFormat
        /// The data ends before the image is complete.
        case truncated
        /// The data is damaged or not valid for its format.
        case corrupt
        /// The image has more pixels than the allowed limit (decompression bomb guard).
        case tooLarge
        /// Memory for the image could not be allocated.
        case outOfMemory
        /// A caller-supplied value is out of range (size, quality, buffer length).
        case invalidArgument
        /// Writing the output file failed.
        case writeFailed
    }

    public let kind: Kind
    /// The file path, buffer name or operation the error concerns.
    public let source: String
    /// What was wrong, in words.
    public let detail: String

    package init(_ kind: Kind, source: String, detail: String) {
        self.kind = kind
        self.source = source
        self.detail = detail
    }

    public var description: String { "\(source): \(detail)" }
}
