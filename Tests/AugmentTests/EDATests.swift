import CleanCLIP
import Foundation
import Testing

@Test func cleaningKeepsLowercaseLettersAndSingleSpaces() {
    #expect(EDA.clean("A Dog's  photo -- in\tthe\nPark, 2023!") == "a dogs photo in the park")
    #expect(EDA.clean("  well-known  ") == "well known")
    #expect(EDA.clean("123 !!") == "")
    #expect(EDA.clean("Café") == "caf")
}

@Test func randomSwapAndDeletionBehave() {
    let words = ["a", "photo", "of", "a", "red", "dog", "on", "the", "beach", "today"]
    var rng = SeededRandom(seed: 3)
    for _ in 0..<100 {
        let swapped = EDA.randomSwap(words, n: 1, using: &rng)
        #expect(swapped.sorted() == words.sorted())
        let moved = zip(swapped, words).filter { $0 != $1 }.count
        #expect(moved == 0 || moved == 2)
        let deleted = EDA.randomDeletion(words, p: 0.1, using: &rng)
        #expect(!deleted.isEmpty && deleted.count <= words.count)
        // Deletion keeps the order of the remaining words.
        var it = words.makeIterator()
        #expect(deleted.allSatisfy { w in while let x = it.next() { if x == w { return true } }; return false })
    }
    #expect(EDA.randomDeletion(["one"], p: 1.0, using: &rng) == ["one"])
    #expect(EDA.randomDeletion(words, p: 1.0, using: &rng).count == 1)
    #expect(EDA.randomSwap(["one"], n: 1, using: &rng) == ["one"])
}

@Suite(.enabled(if: wordNetInstalled, "needs /usr/share/wordnet (apt-get install wordnet-base)"))
struct EDAWordNetTests {
    let eda = EDA(wordNet: try! WordNet.shared())
    let caption = "A photo of a small dog running on the beach with a red ball near the water"

    @Test func synonymReplacementReplacesNonStopWordsWithSynonyms() throws {
        let words = EDA.words(caption)
        var rng = SeededRandom(seed: 11)
        for _ in 0..<20 {
            let out = try eda.synonymReplacement(words, n: 1, using: &rng)
            // One distinct non-stop word was replaced (all its occurrences); it can reappear
            // inside a multi-word synonym ("dog" -> "hot dog"), so at most one is missing.
            #expect(out != words)
            let original = Set(words).subtracting(EDA.stopWords)
            let missing = original.subtracting(out)
            #expect(missing.count <= 1)
            if let gone = missing.first {
                let syns = try eda.synonyms(of: gone)
                let joined = out.joined(separator: " ")
                #expect(syns.contains { !$0.isEmpty && joined.contains($0) })
            }
            #expect(out.filter { EDA.stopWords.contains($0) && $0 != "" }.count >= words.filter { EDA.stopWords.contains($0) }.count)
        }
    }

    @Test func randomInsertionAddsASynonymOfAWord() throws {
        let words = EDA.words(caption)
        var rng = SeededRandom(seed: 5)
        for _ in 0..<20 {
            let out = try eda.randomInsertion(words, n: 1, using: &rng)
            #expect(out.count == words.count + 1)
            let i = (0..<words.count).first { out[$0] != words[$0] } ?? words.count
            #expect(i < words.count, "never inserted at the end")
            #expect(Array(out[(i + 1)...]) == Array(words[i...]))
            let inserted = out[i]
            var allSynonyms = Set<String>()
            for w in words { allSynonyms.formUnion(try eda.synonyms(of: w)) }
            #expect(allSynonyms.contains(inserted), "\(inserted) is a synonym of some word")
        }
    }

    @Test func augmentIsDeterministicWithASeed() throws {
        var a = SeededRandom(seed: 99), b = SeededRandom(seed: 99)
        var outputs = Set<String>()
        for _ in 0..<30 {
            let x = try eda.augment(caption, using: &a), y = try eda.augment(caption, using: &b)
            #expect(x == y)
            #expect(x == EDA.clean(x))
            outputs.insert(x)
        }
        #expect(outputs.count > 5)
        var c = SeededRandom(seed: 1)
        #expect(try eda.augment("", using: &c) == "")
        #expect(try eda.augment("!!!", using: &c) == "")
        #expect(try eda.augment("dog", using: &c).isEmpty == false)
    }

    @Test func candidatesCoverTheFourOperations() throws {
        var rng = SeededRandom(seed: 2)
        let cands = try eda.candidates(caption, using: &rng)
        let n = EDA.words(caption).count
        #expect(cands.count == 4)
        #expect(EDA.words(cands[1]).count >= n + 1)      // insertion (synonyms may have several words)
        #expect(EDA.words(cands[2]).sorted() == EDA.words(caption).sorted())  // swap
        #expect(EDA.words(cands[3]).count <= n)          // deletion
    }
}

@Suite(.enabled(if: wordNetInstalled, "needs /usr/share/wordnet (apt-get install wordnet-base)"))
struct DatasetCaptionAugmentationTests {
    @Test func augmentedCaptionsAreComputedOnceAndSeeded() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try writeDataset(in: dir, count: 4)
        let eda = EDA(wordNet: try WordNet.shared())
        let data = try ImageCaptionDataset(csvPath: path)
        let a = try data.augmentingCaptions(with: eda, seed: 9), b = try data.augmentingCaptions(with: eda, seed: 9)
        #expect(a.items.map(\.augmentedCaption) == b.items.map(\.augmentedCaption))
        #expect(a.items.allSatisfy { $0.augmentedCaption != nil })
        for (i, item) in a.items.enumerated() {
            var rng = SeededRandom(seed: mixSeed(9, 0x4544_4120, UInt64(i)))
            #expect(item.augmentedCaption == (try eda.augment(item.caption, using: &rng)))
        }
        // Precomputed columns win over EDA.
        let pre = try writeDataset(in: dir, count: 2, extraHeader: ",augmented_caption") { ",given \($0)" }
        let kept = try ImageCaptionDataset(csvPath: pre).augmentingCaptions(with: eda, seed: 9)
        #expect(kept.items.map(\.augmentedCaption) == ["given 0", "given 1"])
    }
}
