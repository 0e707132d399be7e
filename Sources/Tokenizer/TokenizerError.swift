import ErrorKinds

/// Why the tokenizer could not load a vocabulary or tokenize a batch.
///
///     do { _ = try CLIPTokenizer.standard.tokenize([longText], truncate: false) }
///     catch let error as TokenizerError { print(error) }
///     // "text 0 needs 112 tokens with the start and end tokens, more than the context length 77"
public struct TokenizerError: KindedError, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// A vocabulary or merges file could not be read.
        case unreadableFile
        /// A vocabulary or merges file was read but its contents are malformed.
        case malformedVocabulary
        /// A text needs more tokens than the context length and truncation is off.
        case contextOverflow(textIndex: Int, tokenCount: Int)
        /// A context length too small to hold `<start_of_text>` and `<end_of_text>`.
        case invalidContextLength
    }

    public let kind: Kind
    public let description: String

    init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    public var errorKind: ErrorKind {
        switch kind {
        case .unreadableFile: return .io
        case .malformedVocabulary: return .malformedFile
        case .contextOverflow, .invalidContextLength: return .invalidArgument
        }
    }
}
