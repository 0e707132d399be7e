import ErrorKinds
import Files

/// A failure to read, decode, encode or transform an image. The description
/// names the file (or the caller-supplied name of an in-memory buffer) and what
/// was wrong, e.g. `photo.jpg: JPEG: image data is truncated (premature end of file)`.
public struct ImageError: KindedError, Sendable, Equatable {
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

    /// The general kind: from `kind`, except that an unreadable file keeps the kind of the
    /// `FileError` behind it (a file that does not exist, a named pipe).
    public let errorKind: ErrorKind

    package init(_ kind: Kind, source: String, detail: String) {
        self.init(kind, source: source, detail: detail, errorKind: nil)
    }

    /// A file error met while reading or writing the image at `path`.
    init(_ kind: Kind, path: String, _ error: FileError) {
        self.init(kind, source: path, detail: error.reason, errorKind: error.errorKind)
    }

    private init(_ kind: Kind, source: String, detail: String, errorKind: ErrorKind?) {
        self.kind = kind
        self.source = source
        self.detail = detail
        switch kind {
        case .unreadable, .writeFailed: self.errorKind = errorKind ?? .io
        case .outOfMemory: self.errorKind = .outOfMemory
        case .invalidArgument, .tooLarge: self.errorKind = .invalidArgument
        case .empty, .unsupportedFormat, .truncated, .corrupt: self.errorKind = .malformedFile
        }
    }

    public var description: String { "\(source): \(detail)" }

    /// Equal when kind, source and detail are: the general kind follows from them.
    public static func == (a: ImageError, b: ImageError) -> Bool {
        a.kind == b.kind && a.source == b.source && a.detail == b.detail
    }
}
