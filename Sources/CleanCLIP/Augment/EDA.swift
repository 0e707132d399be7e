import Foundation

/// EDA text augmentation (Wei & Zou 2019) as CleanCLIP's reference applies it to captions, made
/// reproducible.
///
/// `augment(caption, using:)`: the caption is cleaned (lower case, only a-z and single spaces);
/// with `n = max(1, int(0.1 * words))` four candidates are made — synonym replacement of up to
/// `n` distinct non-stop-words, `n` random insertions of a synonym of a random word, `n` random
/// swaps, random deletion of each word with probability 0.1 — and one of the four is returned,
/// chosen uniformly. Synonyms are WordNet lemma names of the word's synsets (see `synonyms(of:)`).
///
/// Differences from the reference (jasonwei20/eda_nlp `code/eda.py`, used by CleanCLIP):
/// - every random choice comes from the caller's `SeededRandom`;
/// - synonym lists are sorted, and the set of candidate words for replacement is taken in
///   first-occurrence order before the seeded shuffle (the reference iterates Python sets, whose
///   order changes between runs);
/// - random insertion inserts a random synonym of the sorted list (the reference takes the first
///   element of a set-ordered list, i.e. an arbitrary one);
/// - an empty or all-punctuation caption is returned cleaned (the reference raises);
/// - results are trimmed at both ends (the reference can leave a trailing space when a word is
///   replaced by an empty "synonym", e.g. the lemma "1000" of "thousand" reduced to "").
public final class EDA: @unchecked Sendable {
    public let wordNet: WordNet
    public let alphaSR: Double, alphaRI: Double, alphaRS: Double, pRD: Double

    private let lock = NSLock()
    private var cache: [String: [String]] = [:]

    public init(wordNet: WordNet, alphaSR: Double = 0.1, alphaRI: Double = 0.1, alphaRS: Double = 0.1, pRD: Double = 0.1) {
        self.wordNet = wordNet
        self.alphaSR = alphaSR; self.alphaRI = alphaRI; self.alphaRS = alphaRS; self.pRD = pRD
    }

    /// EDA's stop-word list (synonym replacement skips these).
    public static let stopWords: Set<String> = [
        "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your", "yours", "yourself",
        "yourselves", "he", "him", "his", "himself", "she", "her", "hers", "herself", "it", "its", "itself",
        "they", "them", "their", "theirs", "themselves", "what", "which", "who", "whom", "this", "that",
        "these", "those", "am", "is", "are", "was", "were", "be", "been", "being", "have", "has", "had",
        "having", "do", "does", "did", "doing", "a", "an", "the", "and", "but", "if", "or", "because", "as",
        "until", "while", "of", "at", "by", "for", "with", "about", "against", "between", "into", "through",
        "during", "before", "after", "above", "below", "to", "from", "up", "down", "in", "out", "on", "off",
        "over", "under", "again", "further", "then", "once", "here", "there", "when", "where", "why", "how",
        "all", "any", "both", "each", "few", "more", "most", "other", "some", "such", "no", "nor", "not",
        "only", "own", "same", "so", "than", "too", "very", "s", "t", "can", "will", "just", "don", "should",
        "now", "",
    ]

    /// EDA's `get_only_chars`: drop apostrophes (’ and '), hyphens/tabs/newlines to spaces, lower
    /// case, every character other than a-z and space to a space, runs of spaces collapsed, and
    /// leading/trailing spaces removed.
    public static func clean(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var lastWasSpace = true  // drops leading spaces
        let lowered = text.replacingOccurrences(of: "’", with: "").replacingOccurrences(of: "'", with: "").lowercased()
        for u in lowered.unicodeScalars {
            let keep = (u >= "a" && u <= "z")
            if keep {
                out.append(u); lastWasSpace = false
            } else if !lastWasSpace {
                out.append(" "); lastWasSpace = true
            }
        }
        var s = String(out)
        if s.hasSuffix(" ") { s.removeLast() }
        return s
    }

    /// The cleaned caption's words.
    public static func words(_ text: String) -> [String] {
        clean(text).split(separator: " ").map(String.init)
    }

    /// EDA's `get_synonyms(word)`, sorted: the lemma names of `wordNet.synsets(word)` with `_` and
    /// `-` as spaces, lower-cased, reduced to a-z and spaces, without the word itself. (May
    /// contain "", as the reference's does, for lemma names without letters.) Cached.
    public func synonyms(of word: String) throws -> [String] {
        lock.lock()
        if let hit = cache[word] { lock.unlock(); return hit }
        lock.unlock()
        var set = Set<String>()
        for synset in try wordNet.synsets(word) {
            for name in synset.lemmaNames {
                let lowered = name.replacingOccurrences(of: "_", with: " ").replacingOccurrences(of: "-", with: " ").lowercased()
                set.insert(String(String.UnicodeScalarView(lowered.unicodeScalars.filter { $0 == " " || ($0 >= "a" && $0 <= "z") })))
            }
        }
        set.remove(word)
        let sorted = set.sorted()
        lock.lock(); cache[word] = sorted; lock.unlock()
        return sorted
    }

    // MARK: The four operations

    /// Replaces every occurrence of up to `n` distinct non-stop-words (taken in a seeded random
    /// order, skipping words without synonyms) by a random synonym each.
    public func synonymReplacement(_ words: [String], n: Int, using rng: inout SeededRandom) throws -> [String] {
        var seen = Set<String>(), candidates: [String] = []
        for w in words where !EDA.stopWords.contains(w) && !seen.contains(w) { candidates.append(w); seen.insert(w) }
        EDA.shuffle(&candidates, &rng)
        var newWords = words, replaced = 0
        for word in candidates {
            let syns = try synonyms(of: word)
            if !syns.isEmpty {
                let synonym = syns[EDA.index(syns.count, &rng)]
                newWords = newWords.map { $0 == word ? synonym : $0 }
                replaced += 1
            }
            if replaced >= n { break }
        }
        // A multi-word synonym becomes several words (the reference re-splits the joined sentence).
        return newWords.joined(separator: " ").split(separator: " ", omittingEmptySubsequences: false).map(String.init)
    }

    /// `n` times: up to 10 tries to find a random word with synonyms; if found, a random synonym
    /// is inserted at a random position in `0..<count` (as the reference, never at the end).
    public func randomInsertion(_ words: [String], n: Int, using rng: inout SeededRandom) throws -> [String] {
        var newWords = words
        guard !newWords.isEmpty else { return newWords }
        for _ in 0..<n {
            var syns: [String] = []
            for _ in 0..<10 {
                syns = try synonyms(of: newWords[EDA.index(newWords.count, &rng)])
                if !syns.isEmpty { break }
            }
            if syns.isEmpty { continue }
            let synonym = syns[EDA.index(syns.count, &rng)]
            newWords.insert(synonym, at: EDA.index(newWords.count, &rng))
        }
        return newWords
    }

    /// `n` times: swap two random positions (the second redrawn up to 3 times while equal to the first).
    public static func randomSwap(_ words: [String], n: Int, using rng: inout SeededRandom) -> [String] {
        var newWords = words
        guard !newWords.isEmpty else { return newWords }
        for _ in 0..<n {
            let i = index(newWords.count, &rng)
            var j = i, tries = 0, gaveUp = false
            while j == i {
                j = index(newWords.count, &rng)
                tries += 1
                if tries > 3 { gaveUp = true; break }
            }
            if !gaveUp { newWords.swapAt(i, j) }
        }
        return newWords
    }

    /// Deletes each word with probability `p` (a single word is kept); if all are deleted, one
    /// random word remains.
    public static func randomDeletion(_ words: [String], p: Double, using rng: inout SeededRandom) -> [String] {
        if words.count <= 1 { return words }
        let kept = words.filter { _ in rng.uniform() > Float(p) }
        return kept.isEmpty ? [words[index(words.count, &rng)]] : kept
    }

    // MARK: EDA

    /// The four candidates (SR, RI, RS, RD), cleaned.
    public func candidates(_ sentence: String, using rng: inout SeededRandom) throws -> [String] {
        let words = EDA.words(sentence)
        guard !words.isEmpty else { return [] }
        let count = Double(words.count)
        let nSR = max(1, Int(alphaSR * count)), nRI = max(1, Int(alphaRI * count)), nRS = max(1, Int(alphaRS * count))
        let results = [
            try synonymReplacement(words, n: nSR, using: &rng),
            try randomInsertion(words, n: nRI, using: &rng),
            EDA.randomSwap(words, n: nRS, using: &rng),
            EDA.randomDeletion(words, p: pRD, using: &rng),
        ]
        return results.map { EDA.clean($0.joined(separator: " ")) }
    }

    /// One augmented caption: one of the four candidates, chosen uniformly.
    public func augment(_ sentence: String, using rng: inout SeededRandom) throws -> String {
        let all = try candidates(sentence, using: &rng)
        if all.isEmpty { return EDA.clean(sentence) }
        return all[EDA.index(all.count, &rng)]
    }

    // MARK: Randomness

    static func index(_ n: Int, _ rng: inout SeededRandom) -> Int {
        Int(rng.next().multipliedFullWidth(by: UInt64(n)).high)
    }

    /// Fisher-Yates with `index`.
    static func shuffle<T>(_ a: inout [T], _ rng: inout SeededRandom) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, index(i + 1, &rng)) }
    }
}
