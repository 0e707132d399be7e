/// A matcher for ftfy's `badness.BADNESS_RE`, which uses only a small regex subset:
/// alternatives of fixed sequences of character classes (`[...]`, `[^...]`, with ranges
/// and `\xhh`, `\s`, `\w`), literal characters, `.`, `\s`, `\w`, a leading `^` and `?`.
/// Swift's `Regex` handles the pattern but takes tens of milliseconds per call, so the
/// generated pattern string is compiled into this matcher instead.
struct BadnessPattern: Sendable {
    struct Element: Sendable {
        var set: Set<UInt32> = []
        var ranges: [ClosedRange<UInt32>] = []
        var space = false
        var word = false
        var anyButNewline = false
        var negated = false
        var optional = false
        var startAnchor = false

        func matches(_ c: Unicode.Scalar) -> Bool {
            let v = c.value
            var hit = anyButNewline ? v != 0x0A : set.contains(v) || ranges.contains { $0.contains(v) }
            if !hit && space { hit = CharacterTables.pythonSpaces.contains(c) }
            if !hit && word {
                hit = v == 0x5F || CharacterTables.letters.contains(c) || CharacterTables.numbers.contains(c)
            }
            return hit != negated
        }
    }

    let alternatives: [[Element]]

    /// Parses the pattern. Returns nil for a construct outside the subset.
    init?(_ pattern: String) {
        let p = Array(pattern.unicodeScalars)
        var alternatives: [[Element]] = [[]]
        var i = 0
        func escape(_ c: Unicode.Scalar, into e: inout Element) -> Bool {
            switch c {
            case "s": e.space = true
            case "w": e.word = true
            case "x":
                guard i + 2 < p.count, let v = UInt32(String(String.UnicodeScalarView(p[(i + 1)...(i + 2)])), radix: 16) else { return false }
                e.set.insert(v)
                i += 2
            default: e.set.insert(c.value)
            }
            return true
        }
        while i < p.count {
            let c = p[i]
            var e = Element()
            switch c {
            case "|":
                alternatives.append([])
                i += 1
                continue
            case "?":
                guard !alternatives[alternatives.count - 1].isEmpty else { return nil }
                alternatives[alternatives.count - 1][alternatives[alternatives.count - 1].count - 1].optional = true
                i += 1
                continue
            case "^": e.startAnchor = true
            case ".": e.anyButNewline = true
            case "\\":
                i += 1
                guard i < p.count, escape(p[i], into: &e) else { return nil }
            case "[":
                i += 1
                if i < p.count, p[i] == "^" { e.negated = true; i += 1 }
                var first = true
                while i < p.count, p[i] != "]" || first {
                    first = false
                    var lo = p[i].value
                    if p[i] == "\\" {
                        i += 1
                        var single = Element()
                        guard i < p.count, escape(p[i], into: &single) else { return nil }
                        e.space = e.space || single.space
                        e.word = e.word || single.word
                        guard let value = single.set.first else { i += 1; continue }
                        lo = value
                    }
                    if i + 2 < p.count, p[i + 1] == "-", p[i + 2] != "]" {
                        var hi = p[i + 2].value
                        i += 2
                        if p[i] == "\\" {
                            i += 1
                            var single = Element()
                            guard i < p.count, escape(p[i], into: &single), let value = single.set.first else { return nil }
                            hi = value
                        }
                        e.ranges.append(lo...max(lo, hi))
                    } else {
                        e.set.insert(lo)
                    }
                    i += 1
                }
                guard i < p.count else { return nil }
            case "(", ")", "*", "+", "{", "$": return nil
            default: e.set.insert(c.value)
            }
            alternatives[alternatives.count - 1].append(e)
            i += 1
        }
        self.alternatives = alternatives
    }

    /// `re.search(pattern, text) is not None`.
    func search(_ text: String) -> Bool {
        let s = Array(text.unicodeScalars)
        for start in 0...s.count {
            for alternative in alternatives where Self.match(alternative[...], s, start) {
                return true
            }
        }
        return false
    }

    private static func match(_ elements: ArraySlice<[Element].Element>, _ s: [Unicode.Scalar], _ i: Int) -> Bool {
        guard let e = elements.first else { return true }
        let rest = elements.dropFirst()
        if e.startAnchor { return i == 0 && match(rest, s, i) }
        if i < s.count, e.matches(s[i]), match(rest, s, i + 1) { return true }
        return e.optional && match(rest, s, i)
    }
}
