/// CLIP's word splitter, a hand-written scanner equivalent to
///
///     <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
///
/// compiled by the `regex` module with `re.IGNORECASE` and applied with `findall`: at each
/// position the alternatives are tried in order, whitespace that matches none is skipped.
/// The input is already lower-cased, so IGNORECASE only matters for characters that fold
/// to an ASCII letter of the pattern without being upper case: U+017F `ſ` matches `s`.
struct PreTokenizer: Sendable {
    /// The special-token alternatives, in order (e.g. `<start_of_text>`, `<end_of_text>`).
    let specials: [[Unicode.Scalar]]

    init(specials: [String]) {
        self.specials = specials.map { Array($0.unicodeScalars) }
    }

    /// Splits `text` into the chunks `findall` returns.
    func split(_ text: String) -> [Substring] {
        let view = text.unicodeScalars
        var chunks: [Substring] = []
        var i = view.startIndex
        while i < view.endIndex {
            if let end = matchAt(view, i) {
                chunks.append(Substring(view[i..<end]))
                i = end
            } else {
                view.formIndex(after: &i)
            }
        }
        return chunks
    }

    private static let contractions: [[Unicode.Scalar]] = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map {
        Array($0.unicodeScalars)
    }

    /// Case-insensitive scalar equality restricted to the pattern's ASCII characters.
    @inline(__always)
    private static func equalIgnoringCase(_ text: Unicode.Scalar, _ pattern: Unicode.Scalar) -> Bool {
        if text == pattern { return true }
        let p = pattern.value
        if p >= 0x61 && p <= 0x7A {
            if text.value == p - 0x20 { return true }
            if p == 0x73 && text.value == 0x17F { return true } // ſ folds to s
        } else if p >= 0x41 && p <= 0x5A {
            if text.value == p + 0x20 { return true }
            if p == 0x53 && text.value == 0x17F { return true }
        }
        return false
    }

    private func literalEnd(
        _ view: String.UnicodeScalarView, _ start: String.UnicodeScalarView.Index, _ literal: [Unicode.Scalar]
    ) -> String.UnicodeScalarView.Index? {
        var i = start
        for expected in literal {
            guard i < view.endIndex, Self.equalIgnoringCase(view[i], expected) else { return nil }
            view.formIndex(after: &i)
        }
        return i
    }

    private func matchAt(
        _ view: String.UnicodeScalarView, _ start: String.UnicodeScalarView.Index
    ) -> String.UnicodeScalarView.Index? {
        let first = view[start]
        for literal in specials {
            if let end = literalEnd(view, start, literal) { return end }
        }
        if first == "'" {
            for literal in Self.contractions {
                if let end = literalEnd(view, start, literal) { return end }
            }
        }
        let letters = CharacterTables.letters
        let numbers = CharacterTables.numbers
        if letters.contains(first) {
            var i = view.index(after: start)
            while i < view.endIndex, letters.contains(view[i]) { view.formIndex(after: &i) }
            return i
        }
        if numbers.contains(first) { return view.index(after: start) }
        func isOther(_ c: Unicode.Scalar) -> Bool {
            !CharacterTables.regexSpaces.contains(c) && !letters.contains(c) && !numbers.contains(c)
        }
        if isOther(first) {
            var i = view.index(after: start)
            while i < view.endIndex, isOther(view[i]) { view.formIndex(after: &i) }
            return i
        }
        return nil
    }
}
