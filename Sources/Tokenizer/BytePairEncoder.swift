import Foundation

/// Byte-pair encoding of single words (CLIP's `SimpleTokenizer.bpe`), with a cache.
///
/// A word is split into its UTF-8 bytes, the last one carrying `</w>`; then, repeatedly,
/// the adjacent pair with the lowest merge rank is merged everywhere (left to right,
/// non-overlapping) until no adjacent pair has a merge. Symbols are vocabulary ids.
final class BytePairEncoder: @unchecked Sendable {
    let vocabulary: Vocabulary
    private var cache: [Substring: [Int32]] = [:]
    private let lock = NSLock()
    /// The cache is cleared when it reaches this many words (bounds memory on huge corpora).
    static let cacheLimit = 200_000

    init(vocabulary: Vocabulary) {
        self.vocabulary = vocabulary
    }

    /// Appends the ids of `word` (a chunk from `PreTokenizer`) to `ids`.
    func encode(_ word: Substring, into ids: inout [Int32]) {
        if word == vocabulary.startOfTextName[...] { ids.append(vocabulary.startOfText); return }
        if word == vocabulary.endOfTextName[...] { ids.append(vocabulary.endOfText); return }
        lock.lock()
        let cached = cache[word]
        lock.unlock()
        if let cached {
            ids.append(contentsOf: cached)
            return
        }
        let result = merge(word)
        lock.lock()
        if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[word] = result
        lock.unlock()
        ids.append(contentsOf: result)
    }

    private func merge(_ word: Substring) -> [Int32] {
        let bytes = Array(word.utf8)
        var symbols = bytes.map { vocabulary.byteSymbol[Int($0)] }
        guard let last = bytes.last else { return [] }
        symbols[symbols.count - 1] = vocabulary.finalByteSymbol[Int(last)]
        let merges = vocabulary.merges
        while symbols.count > 1 {
            var best: Vocabulary.Merge?
            var bestLeft: Int32 = 0
            var bestRight: Int32 = 0
            for k in 0..<(symbols.count - 1) {
                if let m = merges[Vocabulary.pairKey(symbols[k], symbols[k + 1])], m.rank < (best?.rank ?? .max) {
                    best = m
                    bestLeft = symbols[k]
                    bestRight = symbols[k + 1]
                }
            }
            guard let best else { break }
            var merged: [Int32] = []
            merged.reserveCapacity(symbols.count)
            var k = 0
            while k < symbols.count {
                if k < symbols.count - 1, symbols[k] == bestLeft, symbols[k + 1] == bestRight {
                    merged.append(best.merged)
                    k += 2
                } else {
                    merged.append(symbols[k])
                    k += 1
                }
            }
            symbols = merged
        }
        return symbols
    }
}
