// ftfy 6.3 `fix_encoding`: detect mojibake (UTF-8 decoded as a single-byte encoding)
// and undo it. A port of `ftfy/__init__.py` (`_fix_encoding_one_step_and_explain`),
// `ftfy/fixes.py` (the byte-level transcoders) and `ftfy/bad_codecs`.

/// One of ftfy's single-byte encodings (`chardata.CHARMAP_ENCODINGS`).
struct Charmap: Sendable {
    let name: String
    let decodeTable: [Unicode.Scalar]
    let encodeTable: [UInt32: UInt8]
    /// `chardata.possible_encoding`: ASCII except 0x1A, plus the decodings of 0x80...0xFF and 0x1A.
    let encodable: Set<UInt32>

    init(name: String, decodeTable: [Unicode.Scalar]) {
        self.name = name
        self.decodeTable = decodeTable
        var encode: [UInt32: UInt8] = [:]
        for (byte, scalar) in decodeTable.enumerated() { encode[scalar.value] = UInt8(byte) }
        encodeTable = encode
        var encodable = Set<UInt32>()
        for byte in 0x80...0xFF { encodable.insert(decodeTable[byte].value) }
        encodable.insert(decodeTable[0x1A].value)
        self.encodable = encodable
    }

    func canEncode(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { ($0.value < 0x80 && $0.value != 0x1A) || encodable.contains($0.value) }
    }

    func encode(_ text: String) -> [UInt8] { text.unicodeScalars.map { encodeTable[$0.value]! } }

    func decode(_ bytes: some Sequence<UInt8>) -> String {
        var out = String.UnicodeScalarView()
        for byte in bytes { out.append(decodeTable[Int(byte)]) }
        return String(out)
    }

    static let all: [Charmap] = GeneratedTables.charmaps.split(separator: " ").map { item in
        let eq = item.firstIndex(of: "=")!
        let table = item[item.index(after: eq)...].split(separator: ",").map {
            Unicode.Scalar(UInt32($0, radix: 16)!)!
        }
        return Charmap(name: String(item[..<eq]), decodeTable: table)
    }
    static let sloppyWindows1252 = all.first { $0.name == "sloppy-windows-1252" }!
}

enum MojibakeHeuristics {
    /// ftfy `badness.BADNESS_RE`. The pattern is generated from ftfy's and parses (the
    /// test suite runs it); a failure to parse would be a build defect.
    static let badness = BadnessPattern(GeneratedTables.badnessPattern)!
    static let firstOf2 = ScalarSet(GeneratedTables.utf8FirstOf2)
    static let firstOf3 = ScalarSet(GeneratedTables.utf8FirstOf3)
    static let firstOf4 = ScalarSet(GeneratedTables.utf8FirstOf4)
    static let continuation = ScalarSet(GeneratedTables.utf8Continuation)
    static let continuationStrict = ScalarSet(GeneratedTables.utf8ContinuationStrict)

    /// ftfy `badness.is_bad`.
    static func isBad(_ text: String) -> Bool { badness.search(text) }

    /// ftfy `chardata.UTF8_DETECTOR_RE`: the end of a match starting at `start`, if any.
    /// `(?<![strict]) ( [f2][c] | [f3][c]{2} | [f4][c]{3} )+`, alternatives tried in order.
    static func utf8DetectorMatch(_ s: [Unicode.Scalar], at start: Int) -> Int? {
        if start > 0, continuationStrict.contains(s[start - 1]) { return nil }
        var i = start
        while true {
            guard i < s.count else { break }
            let length: Int
            if firstOf2.contains(s[i]) && continues(s, i + 1, 1) { length = 2 }
            else if firstOf3.contains(s[i]) && continues(s, i + 1, 2) { length = 3 }
            else if firstOf4.contains(s[i]) && continues(s, i + 1, 3) { length = 4 }
            else { break }
            i += length
        }
        return i > start ? i : nil
    }

    private static func continues(_ s: [Unicode.Scalar], _ from: Int, _ count: Int) -> Bool {
        guard from + count <= s.count else { return false }
        return (from..<from + count).allSatisfy { continuation.contains(s[$0]) }
    }
}

enum FixEncoding {
    /// ftfy `fix_encoding`: repeat single steps until the text stops changing.
    static func fix(_ text: String) -> String {
        var text = text
        while true {
            let fixed = oneStep(text)
            if fixed == text { return text }
            text = fixed
        }
    }

    /// ftfy `_fix_encoding_one_step_and_explain` (default config).
    static func oneStep(_ text: String) -> String {
        if text.isEmpty || text.utf8.allSatisfy({ $0 < 0x80 }) || !MojibakeHeuristics.isBad(text) {
            return text
        }
        var possible: [String] = []
        for charmap in Charmap.all where charmap.canEncode(text) {
            possible.append(charmap.name)
            var bytes = charmap.encode(text)
            if charmap.name != "macroman", ByteFixes.hasAlteredUTF8(bytes) {
                bytes = ByteFixes.restoreByteA0(bytes)
            }
            if charmap.name.hasPrefix("sloppy") {
                bytes = ByteFixes.replaceLossySequences(bytes)
            }
            let decoded = (bytes.contains(0xED) || bytes.contains(0xC0))
                ? UTF8Variants.decode(bytes) : String(validating: bytes, as: UTF8.self)
            if let decoded { return decoded }
        }
        let scalars = Array(text.unicodeScalars)
        if scalars.indices.contains(where: { MojibakeHeuristics.utf8DetectorMatch(scalars, at: $0) != nil }) {
            let fixed = decodeInconsistentUTF8(scalars, whole: text)
            if fixed != text { return fixed }
        }
        if possible.contains("latin-1") {
            // ftfy checks for "windows-1252" here, which is never in CHARMAP_ENCODINGS.
            if let fixed = latin1AsWindows1252(text), fixed != text { return fixed }
        }
        if text.unicodeScalars.contains(where: { (0x80...0x9F).contains($0.value) }) {
            return fixC1Controls(text)
        }
        return text
    }

    /// ftfy `fixes.decode_inconsistent_utf8`.
    private static func decodeInconsistentUTF8(_ s: [Unicode.Scalar], whole: String) -> String {
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if let end = MojibakeHeuristics.utf8DetectorMatch(s, at: i) {
                let piece = String(String.UnicodeScalarView(s[i..<end]))
                if end - i < s.count, MojibakeHeuristics.isBad(piece) {
                    out.append(contentsOf: fix(piece).unicodeScalars)
                } else {
                    out.append(contentsOf: piece.unicodeScalars)
                }
                i = end
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return String(out)
    }

    /// `text.encode("latin-1").decode("windows-1252")` (strict: five bytes are undefined).
    private static func latin1AsWindows1252(_ text: String) -> String? {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard scalar.value < 0x100 else { return nil }
            if (0x80...0x9F).contains(scalar.value) {
                if [0x81, 0x8D, 0x8F, 0x90, 0x9D].contains(scalar.value) { return nil }
                out.append(Charmap.sloppyWindows1252.decodeTable[Int(scalar.value)])
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// ftfy `fixes.fix_c1_controls`: C1 controls read as sloppy Windows-1252.
    static func fixC1Controls(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { (0x80...0x9F).contains($0.value) }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            out.append((0x80...0x9F).contains(scalar.value)
                ? Charmap.sloppyWindows1252.decodeTable[Int(scalar.value)] : scalar)
        }
        return String(out)
    }
}

/// The byte-level transcoders of `ftfy/fixes.py`, as hand-written matchers of their regexes.
enum ByteFixes {
    typealias ByteClass = (UInt8) -> Bool

    private static func any(_ bytes: UInt8...) -> ByteClass { { bytes.contains($0) } }
    private static func range(_ lo: UInt8, _ hi: UInt8) -> ByteClass { { $0 >= lo && $0 <= hi } }
    private static let altCont: ByteClass = { ($0 >= 0x80 && $0 <= 0x84) || ($0 >= 0x86 && $0 <= 0x9F) || ($0 >= 0xA1 && $0 <= 0xBF) }
    private static let cont = range(0x80, 0xBF)
    private static let space = any(0x20)

    /// `chardata.ALTERED_UTF8_RE`, alternatives in order.
    private static let alteredUTF8: [[ByteClass]] = [
        [any(0xC2, 0xC3, 0xC5, 0xCE, 0xD0, 0xD9), space],
        [any(0xE2, 0xE3), space, altCont],
        [range(0xE0, 0xE3), altCont, space],
        [any(0xF0), space, cont, cont],
        [any(0xF0), cont, space, cont],
        [any(0xF0), cont, cont, space],
    ]

    /// `chardata.LOSSY_UTF8_RE`, alternatives in order.
    private static let lossyUTF8: [[ByteClass]] = {
        let sub = any(0x1A)
        let subQ = any(0x1A, 0x3F)
        let subCont: ByteClass = { $0 == 0x1A || ($0 >= 0x80 && $0 <= 0xBF) }
        let subQCont: ByteClass = { $0 == 0x1A || $0 == 0x3F || ($0 >= 0x80 && $0 <= 0xBF) }
        return [
            [range(0xC2, 0xDF), sub],
            [range(0xC2, 0xC3), any(0x3F)],
            [any(0xED), range(0xA0, 0xAF), subQ, any(0xED), range(0xB0, 0xBF), subQCont],
            [any(0xED), range(0xA0, 0xAF), subQCont, any(0xED), range(0xB0, 0xBF), subQ],
            [range(0xE0, 0xEF), subQ, subCont],
            [range(0xE0, 0xEF), subCont, subQ],
            [range(0xF0, 0xF4), subQ, subCont, subCont],
            [range(0xF0, 0xF4), subCont, subQ, subCont],
            [range(0xF0, 0xF4), subCont, subCont, subQ],
            [sub],
        ]
    }()

    private static func match(_ alternatives: [[ByteClass]], _ b: [UInt8], at i: Int) -> Int? {
        for pattern in alternatives where i + pattern.count <= b.count {
            if pattern.indices.allSatisfy({ pattern[$0](b[i + $0]) }) { return pattern.count }
        }
        return nil
    }

    static func hasAlteredUTF8(_ b: [UInt8]) -> Bool {
        b.indices.contains { match(alteredUTF8, b, at: $0) != nil }
    }

    /// The negative lookahead of `fixes.A_GRAVE_WORD_RE` (Portuguese "às", "àquele", ...).
    private static let aGraveExceptions: [[UInt8]] = [" ", "quele", "quela", "quilo", "s "].map { Array($0.utf8) }

    /// `fixes.restore_byte_a0`.
    static func restoreByteA0(_ input: [UInt8]) -> [UInt8] {
        // A_GRAVE_WORD_RE: b"\xc3 (?! |quele|quela|quilo|s )" -> b"\xc3\xa0 "
        var b: [UInt8] = []
        var i = 0
        while i < input.count {
            if input[i] == 0xC3, i + 1 < input.count, input[i + 1] == 0x20,
               !aGraveExceptions.contains(where: { input[(i + 2)...].starts(with: $0) }) {
                b += [0xC3, 0xA0, 0x20]
                i += 2
            } else {
                b.append(input[i])
                i += 1
            }
        }
        var out: [UInt8] = []
        i = 0
        while i < b.count {
            if let length = match(alteredUTF8, b, at: i) {
                out += b[i..<(i + length)].map { $0 == 0x20 ? 0xA0 : $0 }
                i += length
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return out
    }

    /// `fixes.replace_lossy_sequences`: lossy UTF-8 sequences become U+FFFD's bytes.
    static func replaceLossySequences(_ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < b.count {
            if let length = match(lossyUTF8, b, at: i) {
                out += [0xEF, 0xBF, 0xBD]
                i += length
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return out
    }
}

/// ftfy's "utf-8-variants" codec: strict UTF-8 plus Java's `C0 80` for U+0000 and
/// CESU-8 surrogate pairs. Returns nil where Python raises `UnicodeDecodeError`.
enum UTF8Variants {
    static func decode(_ b: [UInt8]) -> String? {
        var out = ""
        var run: [UInt8] = []
        func flush() -> Bool {
            guard let text = String(validating: run, as: UTF8.self) else { return false }
            out += text
            run.removeAll()
            return true
        }
        var i = 0
        while i < b.count {
            if b[i] == 0xC0 {
                guard i + 1 < b.count, b[i + 1] == 0x80, flush() else { return nil }
                out.unicodeScalars.append("\u{0}")
                i += 2
            } else if b[i] == 0xED, i + 1 < b.count, b[i + 1] >= 0xA0 {
                guard flush(), i + 5 < b.count,
                      b[i + 1] <= 0xAF, (0x80...0xBF).contains(b[i + 2]), b[i + 3] == 0xED,
                      (0xB0...0xBF).contains(b[i + 4]), (0x80...0xBF).contains(b[i + 5])
                else { return nil }
                let high = 0xD000 | (UInt32(b[i + 1] & 0x3F) << 6) | UInt32(b[i + 2] & 0x3F)
                let low = 0xD000 | (UInt32(b[i + 4] & 0x3F) << 6) | UInt32(b[i + 5] & 0x3F)
                let value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                guard let scalar = Unicode.Scalar(value) else { return nil }
                out.unicodeScalars.append(scalar)
                i += 6
            } else {
                run.append(b[i])
                i += 1
            }
        }
        guard flush() else { return nil }
        return out
    }
}
