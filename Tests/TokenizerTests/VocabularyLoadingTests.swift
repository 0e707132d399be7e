import Foundation
import Testing
import Tokenizer

private let hfDirectory = Fixtures.directory.appendingPathComponent("hf")

@Test func huggingFaceDirectoryMatchesTransformers() throws {
    let tokenizer = try CLIPTokenizer(
        vocabJSONPath: hfDirectory.appendingPathComponent("vocab.json").path,
        mergesPath: hfDirectory.appendingPathComponent("merges.txt").path,
        padToken: nil)
    #expect(tokenizer.sot == 2512)
    #expect(tokenizer.eot == 2513)
    #expect(tokenizer.padToken == tokenizer.eot)
    let cases = try Fixtures.cases("hf/hf_expected.jsonl")
    #expect(cases.count > 40)
    for item in cases {
        #expect(try tokenizer.tokenize([item.text]) == item.ids, "\(item.text)")
    }
}

@Test func huggingFacePadTokenIsAnOption() throws {
    let tokenizer = try CLIPTokenizer(
        vocabJSONPath: hfDirectory.appendingPathComponent("vocab.json").path,
        mergesPath: hfDirectory.appendingPathComponent("merges.txt").path)
    #expect(tokenizer.padToken == 0)
    #expect(try tokenizer.tokenize(["a cat"], contextLength: 6) == [2512, 320, 2368, 2513, 0, 0])
}

@Test func missingFilesAreReported() {
    do {
        _ = try CLIPTokenizer(vocabJSONPath: "/nonexistent/vocab.json", mergesPath: "/nonexistent/merges.txt")
        Issue.record("expected an error")
    } catch let error as TokenizerError {
        #expect(error.kind == .unreadableFile)
        #expect(error.description.contains("/nonexistent/vocab.json"))
    } catch {
        Issue.record("unexpected error \(error)")
    }
}

@Test(arguments: [
    ("not json", "#version: 0.2\na b\n"),
    ("[1, 2]", "#version: 0.2\n"),
    ("{\"a\": \"x\"}", "#version: 0.2\n"),
    ("{\"a\": 0}", "#version: 0.2\n"),
])
func malformedVocabularyIsReported(json: String, merges: String) throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try json.write(to: dir.appendingPathComponent("vocab.json"), atomically: true, encoding: .utf8)
    try merges.write(to: dir.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)
    #expect(throws: TokenizerError.self) {
        try CLIPTokenizer(vocabJSONPath: dir.appendingPathComponent("vocab.json").path,
                          mergesPath: dir.appendingPathComponent("merges.txt").path)
    }
}

@Test func mergeWithUnknownSymbolsIsReported() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let merges = try String(contentsOf: hfDirectory.appendingPathComponent("merges.txt"), encoding: .utf8)
    try FileManager.default.copyItem(at: hfDirectory.appendingPathComponent("vocab.json"), to: dir.appendingPathComponent("vocab.json"))
    try (merges + "zz qq\n").write(to: dir.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)
    #expect(throws: TokenizerError.self) {
        try CLIPTokenizer(vocabJSONPath: dir.appendingPathComponent("vocab.json").path,
                          mergesPath: dir.appendingPathComponent("merges.txt").path)
    }
}
