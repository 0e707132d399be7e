import Foundation

/// A BPE vocabulary: token strings (in byte-encoded form, `</w>` marking a word end) with
/// their ids, and the merge table that builds them from single bytes.
struct Vocabulary: Sendable {
    /// Merge of two adjacent symbols: its priority (lower merges first) and the result.
    struct Merge: Sendable {
        let rank: Int32
        let merged: Int32
    }

    /// id -> token string.
    let tokens: [String]
    /// Symbol id of each byte inside a word, and at the end of a word (`"x</w>"`).
    let byteSymbol: [Int32]
    let finalByteSymbol: [Int32]
    /// `(left << 32 | right)` -> merge.
    let merges: [UInt64: Merge]
    let startOfText: Int32
    let endOfText: Int32
    /// The text of the special tokens, as the tokenizer's regex recognises them.
    let startOfTextName: String
    let endOfTextName: String

    static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Builds the vocabulary from a token -> id map and the ordered merge list.
    init(
        encoder: [String: Int32], mergeList: [(Substring, Substring)],
        startOfTextName: String, endOfTextName: String
    ) throws {
        guard let maxID = encoder.values.max(), encoder.values.min()! >= 0 else {
            throw TokenizerError(.malformedVocabulary, "the vocabulary is empty or has negative ids")
        }
        var tokens = [String](repeating: "", count: Int(maxID) + 1)
        for (token, id) in encoder { tokens[Int(id)] = token }
        var byteSymbol = [Int32](repeating: 0, count: 256)
        var finalByteSymbol = [Int32](repeating: 0, count: 256)
        for b in 0..<256 {
            let char = String(ByteEncoder.byteToScalar[b])
            guard let inner = encoder[char], let final = encoder[char + "</w>"] else {
                throw TokenizerError(.malformedVocabulary, "the vocabulary lacks the byte token \"\(char)\" or \"\(char)</w>\"")
            }
            byteSymbol[b] = inner
            finalByteSymbol[b] = final
        }
        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(mergeList.count)
        for (rank, (left, right)) in mergeList.enumerated() {
            let joined = String(left) + String(right)
            guard let l = encoder[String(left)], let r = encoder[String(right)], let m = encoder[joined] else {
                throw TokenizerError(.malformedVocabulary, "merge \(rank + 1) \"\(left) \(right)\" uses tokens missing from the vocabulary")
            }
            // Python's dict(zip(merges, range(...))): a repeated pair keeps its last rank.
            merges[Self.pairKey(l, r)] = Merge(rank: Int32(rank), merged: m)
        }
        guard let sot = encoder[startOfTextName], let eot = encoder[endOfTextName] else {
            throw TokenizerError(.malformedVocabulary, "the vocabulary lacks \(startOfTextName) or \(endOfTextName)")
        }
        self.tokens = tokens
        self.byteSymbol = byteSymbol
        self.finalByteSymbol = finalByteSymbol
        self.merges = merges
        self.startOfText = sot
        self.endOfText = eot
        self.startOfTextName = startOfTextName
        self.endOfTextName = endOfTextName
    }

    /// The open_clip / OpenAI layout: `bpe_simple_vocab_16e6.txt` (a version line, then
    /// merges), of which lines 1...48894 are used; ids are bytes, bytes + `</w>`, merges,
    /// then `<start_of_text>` 49406 and `<end_of_text>` 49407 (open_clip's names).
    static func openCLIP(mergesText: String) throws -> Vocabulary {
        let lines = mergesText.split(separator: "\n", omittingEmptySubsequences: false)
        let mergeCount = 49152 - 256 - 2
        guard lines.count > mergeCount else {
            throw TokenizerError(.malformedVocabulary, "the BPE merges file has \(lines.count) lines, expected more than \(mergeCount)")
        }
        let mergeList = try parseMerges(lines[1...mergeCount])
        var encoder: [String: Int32] = [:]
        var next: Int32 = 0
        func add(_ token: String) {
            encoder[token] = next // later duplicates win, as in Python's dict(zip(...))
            next += 1
        }
        let base = ByteEncoder.vocabularyOrder.map { String(ByteEncoder.byteToScalar[Int($0)]) }
        base.forEach(add)
        base.forEach { add($0 + "</w>") }
        mergeList.forEach { add(String($0.0) + String($0.1)) }
        add("<start_of_text>")
        add("<end_of_text>")
        return try Vocabulary(
            encoder: encoder, mergeList: mergeList,
            startOfTextName: "<start_of_text>", endOfTextName: "<end_of_text>")
    }

    /// A Hugging Face checkpoint's `vocab.json` and `merges.txt` (same merge slice as CLIP's
    /// slow tokenizer: lines 1...48894 at most), special tokens `<|startoftext|>` / `<|endoftext|>`.
    static func huggingFace(vocabJSON: Data, mergesText: String) throws -> Vocabulary {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: vocabJSON)
        } catch {
            throw TokenizerError(.malformedVocabulary, "vocab.json is not valid JSON: \(error.localizedDescription)")
        }
        guard let dict = object as? [String: Any] else {
            throw TokenizerError(.malformedVocabulary, "vocab.json must be an object of token -> id")
        }
        var encoder: [String: Int32] = [:]
        for (token, value) in dict {
            guard let id = (value as? NSNumber)?.int32Value else {
                throw TokenizerError(.malformedVocabulary, "vocab.json maps \"\(token)\" to a non-integer")
            }
            encoder[token] = id
        }
        let lines = mergesText.split(separator: "\n", omittingEmptySubsequences: false)
        let end = min(lines.count, 49152 - 256 - 2 + 1)
        let mergeList = try parseMerges(lines[min(1, end)..<end].filter { !$0.isEmpty })
        return try Vocabulary(
            encoder: encoder, mergeList: mergeList,
            startOfTextName: "<|startoftext|>", endOfTextName: "<|endoftext|>")
    }

    private static func parseMerges(_ lines: some Sequence<Substring>) throws -> [(Substring, Substring)] {
        var result: [(Substring, Substring)] = []
        for (index, line) in lines.enumerated() {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard parts.count == 2 else {
                throw TokenizerError(.malformedVocabulary, "merge \(index + 1) \"\(line.prefix(40))\" is not two symbols")
            }
            result.append((parts[0], parts[1]))
        }
        return result
    }
}
