import Testing
import Tokenizer

/// Every corpus text must tokenize exactly as `open_clip.tokenize` (zero padding trimmed).
@Test func corpusMatchesOpenCLIP() throws {
    let cases = try Fixtures.cases("corpus.jsonl")
    #expect(cases.count >= 5000)
    let tokenizer = CLIPTokenizer.standard
    var mismatches: [String] = []
    for (index, item) in cases.enumerated() {
        var row = try tokenizer.tokenize([item.text])
        while row.last == 0 { row.removeLast() }
        if row != item.ids {
            mismatches.append("#\(index) \(item.text.debugDescription)\n  expected \(item.ids)\n  got      \(row)")
        }
    }
    #expect(mismatches.isEmpty, "\(mismatches.count) of \(cases.count) differ; first:\n\(mismatches.prefix(8).joined(separator: "\n"))")
}
