// Python's `html.unescape`, character for character (CPython 3.11 `html/__init__.py`).

enum HTMLEntities {
    /// `html.entities.html5`: names with and without the trailing `;`.
    static let html5: [Substring: [Unicode.Scalar]] = parseScalarTable(GeneratedTables.html5Entities)
    /// `html._invalid_charrefs`.
    static let invalidCharrefs: [UInt32: [Unicode.Scalar]] = {
        var table: [UInt32: [Unicode.Scalar]] = [:]
        for (key, value) in parseScalarTable(GeneratedTables.htmlInvalidCharrefs) {
            table[UInt32(key, radix: 16)!] = value
        }
        return table
    }()
    /// `html._invalid_codepoints`.
    static let invalidCodepoints = ScalarSet(GeneratedTables.htmlInvalidCodepoints)
}

extension String {
    /// Python's `html.unescape(text)`: named references (longest known prefix when the
    /// `;` is missing), decimal and hex references with the HTML5 replacement rules.
    ///
    ///     "a &amp;amp; b".pythonHTMLUnescaped == "a &amp; b"
    var pythonHTMLUnescaped: String {
        guard utf8.contains(UInt8(ascii: "&")) else { return self }
        let s = Array(unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if s[i] == "&", let (replacement, end) = Self.charref(s, after: i + 1) {
                out.append(contentsOf: replacement)
                i = end
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return String(out)
    }

    /// Matches `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)` at `start` (just
    /// after the `&`) and returns the replacement and the end of the match.
    private static func charref(
        _ s: [Unicode.Scalar], after start: Int
    ) -> ([Unicode.Scalar], Int)? {
        guard start < s.count else { return nil }
        if s[start] == "#" {
            var j = start + 1
            var hex = false
            if j < s.count, s[j] == "x" || s[j] == "X",
               j + 1 < s.count, s[j + 1].properties.isASCIIHexDigit {
                hex = true
                j += 1
            }
            var number: UInt64 = 0
            let digitsStart = j
            while j < s.count, hex ? s[j].properties.isASCIIHexDigit : (s[j].value >= 0x30 && s[j].value <= 0x39) {
                let digit = UInt64(hex ? hexValue(s[j]) : s[j].value - 0x30)
                number = Swift.min(number * (hex ? 16 : 10) + digit, 0xFFFF_FFFF) // saturate past 0x10FFFF
                j += 1
            }
            guard j > digitsStart else { return nil }
            if j < s.count, s[j] == ";" { j += 1 }
            return (numericReplacement(number), j)
        }
        var j = start
        while j < s.count, j - start < 32, !"\t\n\u{C} <&#;".unicodeScalars.contains(s[j]) { j += 1 }
        guard j > start else { return nil }
        if j < s.count, s[j] == ";" { j += 1 }
        let name = String(String.UnicodeScalarView(s[start..<j]))
        if let value = HTMLEntities.html5[Substring(name)] { return (value, j) }
        let scalars = Array(name.unicodeScalars)
        var x = scalars.count - 1
        while x > 1 {
            let prefix = Substring(String(String.UnicodeScalarView(scalars[..<x])))
            if let value = HTMLEntities.html5[prefix] { return (value + scalars[x...], j) }
            x -= 1
        }
        return (["&"] + scalars, j)
    }

    private static func hexValue(_ c: Unicode.Scalar) -> UInt32 {
        switch c.value {
        case 0x30...0x39: return c.value - 0x30
        case 0x41...0x46: return c.value - 0x41 + 10
        default: return c.value - 0x61 + 10
        }
    }

    private static func numericReplacement(_ number: UInt64) -> [Unicode.Scalar] {
        if number <= 0x10FFFF, let mapped = HTMLEntities.invalidCharrefs[UInt32(number)] { return mapped }
        if (0xD800...0xDFFF).contains(number) || number > 0x10FFFF { return ["\u{FFFD}"] }
        if HTMLEntities.invalidCodepoints.contains(UInt32(number)) { return [] }
        return [Unicode.Scalar(UInt32(number))!]
    }
}
