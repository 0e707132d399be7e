import Foundation

/// A port of `ftfy.fix_text` (ftfy 6.3, default `TextFixerConfig`), the first step of
/// CLIP's `basic_clean`. Every default fixer is applied, in ftfy's order:
///
///     FixText.fix("cafÃ© â€œquotedâ€\u{9D}")   // "café \"quoted\""
///     FixText.fix("ﬁne ＷＩＤＥ &amp; wide")   // "fine WIDE & wide"
enum FixText {
    /// ftfy's `max_decode_length`: segments are at most this many code points.
    static let maxSegmentLength = 1_000_000

    static func fix(_ text: String) -> String {
        // Plain ASCII without `&`, ESC, CR or control characters is a fixed point.
        if text.utf8.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "&")) || $0 == 0x0A || $0 == 0x09 }) {
            return text
        }
        let scalars = Array(text.unicodeScalars)
        var out = ""
        var unescapeHTML = true
        var position = 0
        while position < scalars.count {
            var end = position
            while end < scalars.count, scalars[end] != "\n" { end += 1 }
            end = min(end + 1, scalars.count, position + maxSegmentLength)
            let segment = String(String.UnicodeScalarView(scalars[position..<end]))
            // "auto": once a segment contains `<`, this and all later segments keep entities.
            if segment.utf8.contains(UInt8(ascii: "<")) { unescapeHTML = false }
            out += fixSegment(segment, unescapeHTML: unescapeHTML)
            position = end
        }
        return out
    }

    /// ftfy `fix_and_explain`: apply the fixers until the text stops changing.
    static func fixSegment(_ text: String, unescapeHTML: Bool) -> String {
        var text = text
        while true {
            let original = text
            if unescapeHTML { text = unescapeEntities(text) }
            text = FixEncoding.fix(text)
            text = FixEncoding.fixC1Controls(text)
            text = mapScalars(text, ligatures)
            text = mapScalars(text, widthMap)
            text = uncurlQuotes(text)
            text = fixLineBreaks(text)
            // fix_surrogates: Swift strings cannot hold surrogates.
            text = removeTerminalEscapes(text)
            text = String(String.UnicodeScalarView(text.unicodeScalars.filter { !isControlToRemove($0.value) }))
            if text.utf8.contains(where: { $0 >= 0x80 }) {
                text = text.precomposedStringWithCanonicalMapping
            }
            if text == original { return text }
        }
    }

    // MARK: - fixers

    /// ftfy `chardata.HTML_ENTITIES`: `&name;` (and upper-case Latin variants) -> text.
    static let entities: [Substring: [Unicode.Scalar]] = parseScalarTable(GeneratedTables.ftfyEntities)

    /// ftfy `fixes.unescape_html`: `&#?[0-9A-Za-z]{1,24};` replaced when unambiguous.
    static func unescapeEntities(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "&")) else { return text }
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            guard s[i] == "&", let end = entityEnd(s, at: i) else {
                out.append(s[i])
                i += 1
                continue
            }
            let match = String(String.UnicodeScalarView(s[i..<end]))
            if let value = entities[Substring(match)] {
                out.append(contentsOf: value)
            } else if match.hasPrefix("&#") {
                let unescaped = match.pythonHTMLUnescaped
                out.append(contentsOf: (unescaped.contains(";") ? match : unescaped).unicodeScalars)
            } else {
                out.append(contentsOf: match.unicodeScalars)
            }
            i = end
        }
        return String(out)
    }

    private static func entityEnd(_ s: [Unicode.Scalar], at start: Int) -> Int? {
        var j = start + 1
        if j < s.count, s[j] == "#" { j += 1 }
        let nameStart = j
        while j < s.count, j - nameStart < 24, s[j].isASCII, s[j].properties.isAlphabetic || s[j].properties.numericType != nil {
            j += 1
        }
        guard j > nameStart, j < s.count, s[j] == ";" else { return nil }
        return j + 1
    }

    /// ftfy `chardata.LIGATURES`.
    static let ligatures: [UInt32: String] = [
        0x132: "IJ", 0x133: "ij", 0x149: "\u{2BC}n", 0x1F1: "DZ", 0x1F2: "Dz", 0x1F3: "dz",
        0x1C4: "D\u{17D}", 0x1C5: "D\u{17E}", 0x1C6: "d\u{17E}", 0x1C7: "LJ", 0x1C8: "Lj",
        0x1C9: "lj", 0x1CA: "NJ", 0x1CB: "Nj", 0x1CC: "nj", 0xFB00: "ff", 0xFB01: "fi",
        0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl", 0xFB05: "\u{17F}t", 0xFB06: "st",
    ]

    /// ftfy `chardata.WIDTH_MAP`: full- and half-width forms -> standard width.
    static let widthMap: [UInt32: String] = {
        var map: [UInt32: String] = [:]
        for (key, value) in parseScalarTable(GeneratedTables.widthMap) {
            map[UInt32(key, radix: 16)!] = String(String.UnicodeScalarView(value))
        }
        return map
    }()

    private static func mapScalars(_ text: String, _ table: [UInt32: String]) -> String {
        guard text.unicodeScalars.contains(where: { table[$0.value] != nil }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if let replacement = table[scalar.value] {
                out.append(contentsOf: replacement.unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// ftfy `fixes.uncurl_quotes`: U+02BC, U+2018...U+201B -> `'`; U+201C...U+201F -> `"`.
    static func uncurlQuotes(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x2BC, 0x2018...0x201B: out.append("'")
            case 0x201C...0x201F: out.append("\"")
            default: out.append(scalar)
            }
        }
        return String(out)
    }

    /// ftfy `fixes.fix_line_breaks`: CRLF, CR, U+2028, U+2029, U+0085 -> LF.
    static func fixLineBreaks(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var previousCR = false
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A where previousCR: break
            case 0x0D, 0x2028, 0x2029, 0x85: out.append("\n")
            default: out.append(scalar)
            }
            previousCR = scalar.value == 0x0D
        }
        return String(out)
    }

    /// ftfy `fixes.remove_terminal_escapes`: `\x1b\[((?:\d|;)*)([a-zA-Z])` removed.
    static func removeTerminalEscapes(_ text: String) -> String {
        guard text.unicodeScalars.contains("\u{1B}") else { return text }
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if s[i] == "\u{1B}", i + 1 < s.count, s[i + 1] == "[" {
                var j = i + 2
                // Python's `\d` is any Unicode decimal digit.
                while j < s.count, s[j] == ";" || s[j].properties.numericType == .decimal { j += 1 }
                if j < s.count, s[j].isASCII, s[j].properties.isAlphabetic {
                    i = j + 1
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return String(out)
    }

    /// ftfy `chardata.CONTROL_CHARS`.
    static func isControlToRemove(_ v: UInt32) -> Bool {
        v <= 0x08 || v == 0x0B || (0x0E...0x1F).contains(v) || v == 0x7F
            || (0x206A...0x206F).contains(v) || v == 0xFEFF || (0xFFF9...0xFFFC).contains(v)
    }
}
