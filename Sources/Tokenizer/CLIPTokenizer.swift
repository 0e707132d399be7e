import Files
import Foundation

/// OpenAI CLIP's byte-pair-encoding tokenizer, token for token identical to open_clip's
/// `SimpleTokenizer` / `open_clip.tokenize` (and OpenAI's `clip.tokenize`).
///
/// Text is cleaned (ftfy `fix_text`, `html.unescape` twice, whitespace collapsed,
/// Python `str.lower()`), split into words by CLIP's regex, mapped to GPT-2's byte
/// alphabet and merged by BPE. ``tokenize(_:contextLength:truncate:)`` adds
/// `<start_of_text>` (49406) and `<end_of_text>` (49407) and pads with zeros to 77.
///
///     let tokenizer = CLIPTokenizer.standard
///     tokenizer.encode("a photo of a cat")          // [320, 1125, 539, 320, 2368]
///     let rows = try tokenizer.tokenize(["a dog", "a cat"])   // 2 x 77, row-major
///     rows[0..<4]                                    // [49406, 320, 1929, 49407]
///
/// Thread safety: immutable after initialisation except an internal, locked BPE cache;
/// all methods may be called concurrently from any thread.
public final class CLIPTokenizer: @unchecked Sendable {
    /// OpenAI CLIP's context length.
    public static let defaultContextLength = 77

    /// Id of `<start_of_text>` (49406 in the standard vocabulary).
    public let sot: Int32
    /// Id of `<end_of_text>` (49407 in the standard vocabulary).
    public let eot: Int32
    /// Number of ids (49408 in the standard vocabulary).
    public let vocabSize: Int
    /// The id written after `<end_of_text>` up to the context length: 0 for OpenAI and
    /// open_clip (``standard``); Hugging Face pads with `<|endoftext|>` instead.
    public let padToken: Int32

    private let bpe: BytePairEncoder
    private let preTokenizer: PreTokenizer

    private init(vocabulary: Vocabulary, padToken: Int32?) {
        sot = vocabulary.startOfText
        eot = vocabulary.endOfText
        vocabSize = vocabulary.tokens.count
        self.padToken = padToken ?? 0
        bpe = BytePairEncoder(vocabulary: vocabulary)
        preTokenizer = PreTokenizer(specials: [vocabulary.startOfTextName, vocabulary.endOfTextName])
    }

    private static let standardResult: Result<CLIPTokenizer, TokenizerError> = {
        do {
            let vocabulary = try Vocabulary.openCLIP(mergesText: EmbeddedVocabulary.mergesText())
            return .success(CLIPTokenizer(vocabulary: vocabulary, padToken: 0))
        } catch let error as TokenizerError {
            return .failure(error)
        } catch {
            return .failure(TokenizerError(.malformedVocabulary, "\(error)"))
        }
    }()

    /// The tokenizer with the vocabulary compiled into this library (open_clip's
    /// `bpe_simple_vocab_16e6.txt.gz`). Built once, lazily and thread-safely, on first use.
    /// The embedded data is checked by the test suite, so a failure here is a build defect.
    public static var standard: CLIPTokenizer {
        switch standardResult {
        case .success(let tokenizer): return tokenizer
        case .failure(let error): fatalError("the embedded CLIP vocabulary is corrupt: \(error)")
        }
    }

    /// Loads the standard vocabulary, reporting a corrupt embedded vocabulary as an error.
    public static func loadStandard() throws -> CLIPTokenizer { try standardResult.get() }

    /// Loads a Hugging Face checkpoint's `vocab.json` and `merges.txt` (same algorithm;
    /// special tokens `<|startoftext|>` / `<|endoftext|>`).
    ///
    ///     let hf = try CLIPTokenizer(vocabJSONPath: dir + "/vocab.json",
    ///                                mergesPath: dir + "/merges.txt", padToken: nil)
    ///
    /// - Parameter padToken: the padding id; `nil` pads with `<|endoftext|>` as Hugging Face does.
    public convenience init(vocabJSONPath: String, mergesPath: String, padToken: Int32? = 0) throws {
        let json: Data
        let merges: String
        do {
            json = Data(try RegularFile.read(vocabJSONPath))
        } catch let e as FileError {
            throw TokenizerError(.unreadableFile, "cannot read vocab.json at \(vocabJSONPath): \(e.reason)")
        }
        do {
            guard let text = String(validating: try RegularFile.read(mergesPath), as: UTF8.self) else {
                throw TokenizerError(.unreadableFile, "cannot read merges.txt at \(mergesPath): not UTF-8 text")
            }
            merges = text
        } catch let e as FileError {
            throw TokenizerError(.unreadableFile, "cannot read merges.txt at \(mergesPath): \(e.reason)")
        }
        let vocabulary = try Vocabulary.huggingFace(vocabJSON: json, mergesText: merges)
        self.init(vocabulary: vocabulary, padToken: padToken ?? vocabulary.endOfText)
    }

    /// The cleaning CLIP applies before splitting: ftfy, `html.unescape` twice, strip,
    /// whitespace collapse, lower-case.
    ///
    ///     CLIPTokenizer.clean("  A  &amp;amp; Ｂ\n") == "a & b"
    public static func clean(_ text: String) -> String {
        let fixed = FixText.fix(text).pythonHTMLUnescaped.pythonHTMLUnescaped
        return fixed.pythonStripped.pythonWhitespaceCollapsed.pythonLowercased
    }

    /// The BPE ids of `text`, without `<start_of_text>` / `<end_of_text>`.
    ///
    ///     CLIPTokenizer.standard.encode("Hello, world!")  // [3306, 267, 1002, 256]
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        for word in preTokenizer.split(Self.clean(text)) {
            bpe.encode(word, into: &ids)
        }
        return ids
    }

    /// Tokenizes a batch into a row-major `texts.count x contextLength` matrix:
    /// `[sot, ids..., eot, pad...]`.
    ///
    /// - Parameter truncate: when a text needs more than `contextLength` tokens, `true`
    ///   keeps the first `contextLength` and makes the last one `<end_of_text>` (open_clip's
    ///   behaviour); `false` throws ``TokenizerError`` naming the text (OpenAI's default).
    public func tokenize(_ texts: [String], contextLength: Int = defaultContextLength, truncate: Bool = true) throws -> [Int32] {
        guard contextLength >= 2 else {
            throw TokenizerError(.invalidContextLength, "context length \(contextLength) cannot hold the start and end tokens")
        }
        var out = [Int32](repeating: padToken, count: texts.count * contextLength)
        for (index, text) in texts.enumerated() {
            var row: [Int32] = [sot]
            row += encode(text)
            row.append(eot)
            if row.count > contextLength {
                guard truncate else {
                    throw TokenizerError(
                        .contextOverflow(textIndex: index, tokenCount: row.count),
                        "text \(index) needs \(row.count) tokens with the start and end tokens, more than the context length \(contextLength)")
                }
                row.removeLast(row.count - contextLength)
                row[contextLength - 1] = eot
            }
            let base = index * contextLength
            for (k, id) in row.enumerated() { out[base + k] = id }
        }
        return out
    }

    /// Turns ids back into text like open_clip's `decode`: tokens are joined, mapped back
    /// to bytes, decoded as UTF-8 (invalid sequences become U+FFFD) and `</w>` becomes a
    /// space. Ids outside the vocabulary are skipped.
    ///
    ///     tokenizer.decode(tokenizer.encode("A Photo!"))  // "a photo ! "
    public func decode(_ ids: [Int32]) -> String {
        let tokens = bpe.vocabulary.tokens
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && Int(id) < tokens.count {
            for scalar in tokens[Int(id)].unicodeScalars {
                if let byte = ByteEncoder.scalarToByte[scalar.value] {
                    bytes.append(byte)
                } else {
                    bytes.append(contentsOf: String(scalar).utf8)
                }
            }
        }
        return String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "</w>", with: " ")
    }
}
