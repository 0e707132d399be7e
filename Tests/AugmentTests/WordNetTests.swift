import CleanCLIP
import Foundation
import Testing

/// Tests/Fixtures/augment/wordnet_synsets.json: NLTK's `wordnet.synsets(word)` on the Debian
/// WordNet 3.0 files, written by scripts/fixtures/make_augment_fixtures.py.
private struct WordNetFixture: Decodable {
    struct Entry: Decodable { let word: String; let synsets: [String]; let lemmas: [String]; let synonyms: [String] }
    let entries: [Entry]
}

/// WordNet is a system package (`wordnet-base`); these tests need it and are skipped without it.
let wordNetInstalled = FileManager.default.fileExists(atPath: WordNet.defaultDirectory + "/index.noun")

@Suite(.enabled(if: wordNetInstalled, "needs /usr/share/wordnet (apt-get install wordnet-base)"))
struct WordNetTests {
    private let fixture: WordNetFixture = try! loadJSON(WordNetFixture.self, "wordnet_synsets.json")

    @Test func synsetsMatchNLTK() throws {
        let wn = try WordNet.shared()
        #expect(fixture.entries.count > 300)
        for e in fixture.entries {
            let mine = try wn.synsets(e.word)
            #expect(mine.map { "\($0.partOfSpeech.rawValue):\($0.offset)" } == e.synsets, "synsets of \(e.word)")
            #expect(mine.flatMap(\.lemmaNames) == e.lemmas, "lemma names of \(e.word)")
        }
    }

    @Test func edaSynonymsMatchReference() throws {
        let eda = EDA(wordNet: try WordNet.shared())
        for e in fixture.entries {
            #expect(try eda.synonyms(of: e.word) == e.synonyms, "synonyms of \(e.word)")
        }
    }

    @Test func morphyUsesExceptionListsAndSuffixRules() throws {
        let wn = try WordNet.shared()
        #expect(try wn.morphy("geese", .noun) == ["goose"])
        #expect(try wn.morphy("dogs", .noun) == ["dog"])
        #expect(try wn.morphy("running", .verb) == ["run"])
        #expect(try wn.morphy("better", .adjective) == ["better", "good", "well"])
        #expect(try wn.morphy("xyzzy", .noun).isEmpty)
    }

    @Test func missingDatabaseNamesThePackage() {
        do {
            _ = try WordNet(directory: "/nonexistent/wordnet")
            Issue.record("expected an error")
        } catch let error as WordNetError {
            #expect(error.description.contains("wordnet-base"))
            #expect(error.description.contains("/nonexistent/wordnet"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func concurrentLookupsAgree() async throws {
        let wn = try WordNet(directory: WordNet.defaultDirectory)  // fresh instance: lazy loading races
        let words = ["dog", "cats", "running", "better", "geese", "photo", "banana", "happiest"]
        let serial = try words.map { try WordNet.shared().synsets($0) }
        let parallel = try await withThrowingTaskGroup(of: (Int, [WordNet.Synset]).self) { group in
            for (i, w) in words.enumerated() { group.addTask { (i, try wn.synsets(w)) } }
            var out = [[WordNet.Synset]](repeating: [], count: words.count)
            for try await (i, s) in group { out[i] = s }
            return out
        }
        #expect(parallel == serial)
    }
}
