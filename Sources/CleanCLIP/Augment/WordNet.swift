import Files
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Errors from reading a WordNet database.
public enum WordNetError: Error, CustomStringConvertible, Equatable {
    /// The database directory or one of its files is missing.
    case notInstalled(directory: String, missingFile: String)
    /// A file could not be read or a line could not be parsed.
    case malformed(file: String, detail: String)

    public var description: String {
        switch self {
        case let .notInstalled(directory, missingFile):
            return "WordNet 3.0 not found: \(directory)/\(missingFile) is missing. Install the Debian/Ubuntu "
                + "package `wordnet-base` (apt-get install wordnet-base, files in /usr/share/wordnet) or pass "
                + "the directory of a WordNet 3.0 database (index.*, data.*, *.exc files)."
        case let .malformed(file, detail):
            return "WordNet file \(file) is malformed: \(detail)"
        }
    }
}

/// A reader for the WordNet 3.0 database files (Debian's `wordnet-base`, /usr/share/wordnet),
/// answering `synsets(word)` the way NLTK's `wordnet.synsets(word)` does.
///
/// Nothing is parsed up front. Each `index.<pos>` file is read into memory the first time that
/// part of speech is queried and searched by binary search (the files are sorted bytewise); the
/// small exception lists (`<pos>.exc`) are parsed on first use; synset lines are read from
/// `data.<pos>` at their byte offset (`pread`) and cached. All methods are thread-safe.
///
/// NLTK behaviour reproduced: the word is lower-cased; parts of speech are tried in the order
/// noun, verb, adjective, adverb; for each, morphy gives the candidate base forms (the
/// exception list's entries if the word is in it, otherwise the word's one-step suffix
/// substitutions), kept if they are in that part of speech's index, the word itself first,
/// without duplicates; synsets come in index order. Lemma names keep their case and lose an
/// adjective marker such as `(a)`. Satellite adjectives are reported as `.adjective` (NLTK says
/// `s`; the offsets are the same). Not reproduced: NLTK's other-language (OMW) lookups.
public final class WordNet: @unchecked Sendable {
    public enum PartOfSpeech: String, CaseIterable, Sendable {
        case noun = "n", verb = "v", adjective = "a", adverb = "r"
        /// File suffix (`index.noun`, `data.noun`, `noun.exc`).
        public var fileSuffix: String {
            switch self { case .noun: "noun"; case .verb: "verb"; case .adjective: "adj"; case .adverb: "adv" }
        }
    }

    /// One synset: its part of speech, byte offset in `data.<pos>` and lemma names in order.
    public struct Synset: Sendable, Hashable {
        public let partOfSpeech: PartOfSpeech
        public let offset: Int
        public let lemmaNames: [String]
    }

    /// Where Debian's `wordnet-base` installs the database.
    public static let defaultDirectory = "/usr/share/wordnet"

    public let directory: String
    private let lock = NSLock()
    private var indexes: [PartOfSpeech: [UInt8]] = [:]
    private var exceptions: [PartOfSpeech: [String: [String]]] = [:]
    private var dataFiles: [PartOfSpeech: Int32] = [:]
    private var synsetCache: [PartOfSpeech: [Int: [String]]] = [:]

    /// Opens the database in `directory`, checking that its 12 files exist (nothing is read yet).
    public init(directory: String = WordNet.defaultDirectory) throws {
        self.directory = directory
        for pos in PartOfSpeech.allCases {
            for name in ["index.\(pos.fileSuffix)", "data.\(pos.fileSuffix)", "\(pos.fileSuffix).exc"]
            where !FileManager.default.isReadableFile(atPath: "\(directory)/\(name)") {
                throw WordNetError.notInstalled(directory: directory, missingFile: name)
            }
        }
    }

    deinit { for fd in dataFiles.values { close(fd) } }

    private static let sharedLock = NSLock()
    nonisolated(unsafe) private static var sharedInstance: WordNet?

    /// The database in `defaultDirectory`, opened once per process.
    public static func shared() throws -> WordNet {
        sharedLock.lock(); defer { sharedLock.unlock() }
        if let wn = sharedInstance { return wn }
        let wn = try WordNet()
        sharedInstance = wn
        return wn
    }

    // MARK: Queries

    /// NLTK's `wordnet.synsets(word)`: every synset of every base form of `word`, all parts of speech.
    public func synsets(_ word: String) throws -> [Synset] {
        let lemma = word.lowercased()
        var out: [Synset] = []
        for pos in PartOfSpeech.allCases {
            for form in try morphy(lemma, pos) {
                for offset in try offsets(form, pos) { out.append(try synset(pos, offset: offset)) }
            }
        }
        return out
    }

    /// The synset offsets listed for `lemma` (lower case, underscores for spaces) in `index.<pos>`.
    public func offsets(_ lemma: String, _ pos: PartOfSpeech) throws -> [Int] {
        guard let line = try indexLine(Array(lemma.utf8), pos) else { return [] }
        // lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt offset...
        let fields = line.split(separator: " ")
        guard fields.count >= 4, let count = Int(fields[2]), count > 0, fields.count >= 4 + count else {
            throw WordNetError.malformed(file: "index.\(pos.fileSuffix)", detail: "bad entry for '\(lemma)'")
        }
        return try fields.suffix(count).map {
            guard let o = Int($0) else {
                throw WordNetError.malformed(file: "index.\(pos.fileSuffix)", detail: "bad offset for '\(lemma)'")
            }
            return o
        }
    }

    /// NLTK's `_morphy(form, pos)`: the base forms of `form` present in `index.<pos>`.
    public func morphy(_ form: String, _ pos: PartOfSpeech) throws -> [String] {
        let candidates: [String]
        if let exc = try exceptionList(pos)[form] {
            candidates = exc
        } else {
            candidates = WordNet.substitutions[pos, default: []].compactMap { old, new in
                form.hasSuffix(old) ? String(form.dropLast(old.count)) + new : nil
            }
        }
        var seen = Set<String>(), out: [String] = []
        for c in [form] + candidates where !seen.contains(c) {
            if try indexLine(Array(c.utf8), pos) != nil { out.append(c); seen.insert(c) }
        }
        return out
    }

    /// NLTK's `MORPHOLOGICAL_SUBSTITUTIONS` (WordNet's morphy suffix rules), in order.
    static let substitutions: [PartOfSpeech: [(String, String)]] = [
        .noun: [("s", ""), ("ses", "s"), ("ves", "f"), ("xes", "x"), ("zes", "z"), ("ches", "ch"),
                ("shes", "sh"), ("men", "man"), ("ies", "y")],
        .verb: [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")],
        .adjective: [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
        .adverb: [],
    ]

    // MARK: Files

    /// The line of `index.<pos>` whose first field is `key`, found by binary search.
    private func indexLine(_ key: [UInt8], _ pos: PartOfSpeech) throws -> Substring? {
        let bytes = try index(pos)
        return bytes.withUnsafeBufferPointer { buf -> Substring? in
            var lo = 0, hi = buf.count  // search over byte positions; each probe snaps to its line
            while lo < hi {
                let mid = (lo + hi) / 2
                var start = mid
                while start > 0 && buf[start - 1] != 0x0A { start -= 1 }
                var end = start
                while end < buf.count && buf[end] != 0x0A { end += 1 }
                // License lines start with a space and come first in the file: treat as "less".
                let order: Int
                if start < buf.count && buf[start] == 0x20 {
                    order = -1
                } else {
                    var wordEnd = start
                    while wordEnd < end && buf[wordEnd] != 0x20 { wordEnd += 1 }
                    order = WordNet.compare(buf, start, wordEnd, key)
                }
                if order == 0 {
                    return Substring(decoding: UnsafeBufferPointer(rebasing: buf[start..<end]), as: UTF8.self)
                } else if order < 0 {
                    lo = end + 1
                } else {
                    hi = start
                }
            }
            return nil
        }
    }

    /// Opens one of the database's files with `body`; a file that cannot be read (gone since
    /// `init`, or not a regular file) is reported as a `WordNetError`.
    private func file<T>(_ name: String, _ body: (String) throws -> T) throws -> T {
        do { return try body("\(directory)/\(name)") } catch let e as FileError {
            throw WordNetError.malformed(file: name, detail: e.reason)
        }
    }

    /// Bytewise comparison of `buf[start..<end]` with `key` (-1, 0, 1), like C's strcmp.
    private static func compare(_ buf: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ key: [UInt8]) -> Int {
        let n = min(end - start, key.count)
        for i in 0..<n where buf[start + i] != key[i] { return buf[start + i] < key[i] ? -1 : 1 }
        return (end - start) == key.count ? 0 : ((end - start) < key.count ? -1 : 1)
    }

    private func index(_ pos: PartOfSpeech) throws -> [UInt8] {
        lock.lock(); defer { lock.unlock() }
        if let bytes = indexes[pos] { return bytes }
        let bytes = try file("index.\(pos.fileSuffix)") { try RegularFile.read($0) }
        indexes[pos] = bytes
        return bytes
    }

    private func exceptionList(_ pos: PartOfSpeech) throws -> [String: [String]] {
        lock.lock(); defer { lock.unlock() }
        if let map = exceptions[pos] { return map }
        let data = try file("\(pos.fileSuffix).exc") { try RegularFile.read($0) }
        var map: [String: [String]] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let terms = line.split(separator: " ").map(String.init)
            if let first = terms.first { map[first] = Array(terms.dropFirst()) }
        }
        exceptions[pos] = map
        return map
    }

    /// The synset at `offset` of `data.<pos>` (cached).
    public func synset(_ pos: PartOfSpeech, offset: Int) throws -> Synset {
        lock.lock()
        if let names = synsetCache[pos]?[offset] { lock.unlock(); return Synset(partOfSpeech: pos, offset: offset, lemmaNames: names) }
        let fd: Int32
        if let open = dataFiles[pos] {
            fd = open
        } else {
            do {
                fd = try file("data.\(pos.fileSuffix)") { try RegularFile.open($0).fd }
            } catch {
                lock.unlock()
                throw error
            }
            dataFiles[pos] = fd
        }
        lock.unlock()
        let line = try readLine(fd, at: offset, file: "data.\(pos.fileSuffix)")
        let names = try WordNet.lemmaNames(dataLine: line, file: "data.\(pos.fileSuffix)", offset: offset)
        lock.lock(); synsetCache[pos, default: [:]][offset] = names; lock.unlock()
        return Synset(partOfSpeech: pos, offset: offset, lemmaNames: names)
    }

    private func readLine(_ fd: Int32, at offset: Int, file: String) throws -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var position = offset
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(position)) }
            if n <= 0 {
                if bytes.isEmpty { throw WordNetError.malformed(file: file, detail: "no synset at offset \(offset)") }
                break
            }
            if let nl = chunk[0..<n].firstIndex(of: 0x0A) { bytes += chunk[0..<nl]; break }
            bytes += chunk[0..<n]
            position += n
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Lemma names of a data line: `offset lex_filenum ss_type w_cnt(hex) word lex_id ...`.
    static func lemmaNames(dataLine: String, file: String, offset: Int) throws -> [String] {
        let fields = dataLine.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 4, Int(fields[0]) == offset, let count = Int(fields[3], radix: 16),
              fields.count >= 4 + 2 * count else {
            throw WordNetError.malformed(file: file, detail: "bad synset line at offset \(offset)")
        }
        return (0..<count).map { i in
            var name = fields[4 + 2 * i]
            // Strip an adjective position marker: "(a)", "(p)", "(ip)".
            if name.hasSuffix(")"), let open = name.lastIndex(of: "("), !name[name.index(after: open)...].contains("(") {
                name = name[..<open]
            }
            return String(name)
        }
    }
}
