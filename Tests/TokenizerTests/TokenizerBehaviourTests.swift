import Foundation
import Testing
import Tokenizer

@Test func constantsOfTheStandardVocabulary() {
    let tokenizer = CLIPTokenizer.standard
    #expect(tokenizer.sot == 49406)
    #expect(tokenizer.eot == 49407)
    #expect(tokenizer.vocabSize == 49408)
    #expect(tokenizer.padToken == 0)
}

@Test func emptyTextIsStartEndAndPadding() throws {
    let row = try CLIPTokenizer.standard.tokenize([""])
    #expect(row.count == 77)
    #expect(Array(row[0..<2]) == [49406, 49407])
    #expect(row[2...].allSatisfy { $0 == 0 })
}

@Test func encodeHasNoSpecialTokens() {
    #expect(CLIPTokenizer.standard.encode("a photo of a cat") == [320, 1125, 539, 320, 2368])
}

@Test func batchIsRowMajorAndEqualsSingletons() throws {
    let tokenizer = CLIPTokenizer.standard
    let texts = ["a dog", "", "a very long caption about a cat", "Zürich"]
    let batch = try tokenizer.tokenize(texts, contextLength: 16)
    #expect(batch.count == texts.count * 16)
    for (index, text) in texts.enumerated() {
        #expect(Array(batch[(index * 16)..<((index + 1) * 16)]) == (try tokenizer.tokenize([text], contextLength: 16)))
    }
}

@Test func truncationKeepsEndOfTextLast() throws {
    let tokenizer = CLIPTokenizer.standard
    let text = Array(repeating: "cat", count: 100).joined(separator: " ")
    let row = try tokenizer.tokenize([text])
    #expect(row.count == 77)
    #expect(row.first == tokenizer.sot)
    #expect(row.last == tokenizer.eot)
    #expect(Array(row[1..<76]) == Array(tokenizer.encode(text)[0..<75]))
}

@Test func overflowThrowsWithTheTextIndex() throws {
    let tokenizer = CLIPTokenizer.standard
    let long = Array(repeating: "cat", count: 76).joined(separator: " ") // 78 with SOT/EOT
    let exact = Array(repeating: "cat", count: 75).joined(separator: " ") // exactly 77
    #expect(throws: Never.self) { try tokenizer.tokenize([exact], truncate: false) }
    do {
        _ = try tokenizer.tokenize(["ok", long], truncate: false)
        Issue.record("expected an overflow error")
    } catch let error as TokenizerError {
        #expect(error.kind == .contextOverflow(textIndex: 1, tokenCount: 78))
        #expect(error.description.contains("text 1"))
    }
    #expect(throws: TokenizerError.self) { try tokenizer.tokenize(["a"], contextLength: 1) }
}

@Test func decodeRoundTripsCleanedText() {
    let tokenizer = CLIPTokenizer.standard
    for text in ["a photo of a cat", "Zürich, 1999!", "猫の写真 🐱", "it's &amp; fine"] {
        let words = CLIPTokenizer.clean(text)
        let decoded = tokenizer.decode(tokenizer.encode(text))
        // Decoding puts a space after every word; re-encoding it gives the same ids.
        #expect(tokenizer.encode(decoded) == tokenizer.encode(text), "\(text)")
        #expect(decoded.replacingOccurrences(of: " ", with: "") == words.replacingOccurrences(of: " ", with: ""))
    }
    #expect(tokenizer.decode([49406, 320, 2368, 49407]) == "<start_of_text>a cat <end_of_text>")
}

@Test func cleaningFollowsFtfyAndHTML() {
    #expect(CLIPTokenizer.clean("  A  &amp;amp; Ｂ\n") == "a & b")
    #expect(CLIPTokenizer.clean("cafÃ©") == "café")
    #expect(CLIPTokenizer.clean("\u{201C}ﬁne\u{201D}") == "\"fine\"")
}

@Test func concurrentTokenizationMatchesSerial() async throws {
    let tokenizer = CLIPTokenizer.standard
    let cases = Array(try Fixtures.cases("corpus.jsonl").prefix(800))
    let expected = try cases.map { try tokenizer.tokenize([$0.text]) }
    let results = try await withThrowingTaskGroup(of: (Int, [[Int32]]).self) { group in
        for worker in 0..<8 {
            group.addTask {
                (worker, try cases.map { try tokenizer.tokenize([$0.text]) })
            }
        }
        var all: [[[Int32]]] = []
        for try await (_, rows) in group { all.append(rows) }
        return all
    }
    #expect(results.count == 8)
    for rows in results { #expect(rows == expected) }
}
