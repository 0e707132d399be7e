// Character classes and case mapping exactly as the Python reference sees them.
//
// The reference tokenizer runs on CPython 3.11 (Unicode 14) and the `regex` module (its
// own, newer Unicode tables). Swift's `Unicode.Scalar.Properties` follow whatever Unicode
// version the toolchain ships, so for every decision that changes tokens we use tables
// generated from the reference (GeneratedTables.swift) instead.

/// A set of code points stored as sorted, disjoint closed ranges.
struct ScalarSet: Sendable {
    private let lows: [UInt32]
    private let highs: [UInt32]
    /// Fast path for the first 256 code points.
    private let latin: [Bool]

    /// Parses `"41-5A 61-7A"` (hex ranges) or `"C2 C3"` (single hex code points).
    init(_ encoded: String) {
        var lows: [UInt32] = []
        var highs: [UInt32] = []
        for item in encoded.split(separator: " ") {
            let parts = item.split(separator: "-")
            let lo = UInt32(parts[0], radix: 16)!
            let hi = parts.count > 1 ? UInt32(parts[1], radix: 16)! : lo
            lows.append(lo)
            highs.append(hi)
        }
        let order = lows.indices.sorted { lows[$0] < lows[$1] }
        self.lows = order.map { lows[$0] }
        self.highs = order.map { highs[$0] }
        var latin = [Bool](repeating: false, count: 256)
        for (lo, hi) in zip(self.lows, self.highs) where lo < 256 {
            for value in lo...min(hi, 255) { latin[Int(value)] = true }
        }
        self.latin = latin
    }

    func contains(_ value: UInt32) -> Bool {
        if value < 256 { return latin[Int(value)] }
        var lo = 0
        var hi = lows.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if lows[mid] <= value { lo = mid + 1 } else { hi = mid }
        }
        return lo > 0 && value <= highs[lo - 1]
    }

    func contains(_ scalar: Unicode.Scalar) -> Bool { contains(scalar.value) }
}

/// Parses `"key=hex,hex key=hex"` into a dictionary of key -> scalars.
func parseScalarTable(_ encoded: String) -> [Substring: [Unicode.Scalar]] {
    var table: [Substring: [Unicode.Scalar]] = [:]
    for item in encoded.split(separator: " ") {
        guard let eq = item.lastIndex(of: "=") else { continue }
        let values = item[item.index(after: eq)...].split(separator: ",").map {
            Unicode.Scalar(UInt32($0, radix: 16)!)!
        }
        table[item[..<eq]] = values
    }
    return table
}

enum CharacterTables {
    /// `\p{L}` of the `regex` module.
    static let letters = ScalarSet(GeneratedTables.letterRanges)
    /// `\p{N}` of the `regex` module.
    static let numbers = ScalarSet(GeneratedTables.numberRanges)
    /// `\s` of the `regex` module.
    static let regexSpaces = ScalarSet(GeneratedTables.regexSpaceRanges)
    /// Python `str.isspace()`: what `str.split()` and `str.strip()` remove.
    static let pythonSpaces = ScalarSet(GeneratedTables.pythonSpaceRanges)

    /// Python `str.lower()` for one code point, where it changes it.
    static let lowerMap: [UInt32: [Unicode.Scalar]] = {
        var map: [UInt32: [Unicode.Scalar]] = [:]
        for item in GeneratedTables.lowerMap.split(separator: " ") {
            let parts = item.split(separator: ":")
            map[UInt32(parts[0], radix: 16)!] = parts[1].split(separator: ",").map {
                Unicode.Scalar(UInt32($0, radix: 16)!)!
            }
        }
        return map
    }()
}

extension String {
    /// Python's `str.lower()`: full lower-case mapping per code point, plus the
    /// context-sensitive final sigma (U+03A3 becomes U+03C2 at the end of a word).
    var pythonLowercased: String {
        let scalars = Array(unicodeScalars)
        var out = String.UnicodeScalarView()
        out.reserveCapacity(scalars.count)
        for (index, scalar) in scalars.enumerated() {
            if scalar.value < 0x80 {
                let v = scalar.value
                out.append((v >= 0x41 && v <= 0x5A) ? Unicode.Scalar(v + 0x20)! : scalar)
            } else if scalar.value == 0x3A3 {
                out.append(Self.isFinalSigma(scalars, at: index) ? "\u{3C2}" : "\u{3C3}")
            } else if let mapped = CharacterTables.lowerMap[scalar.value] {
                out.append(contentsOf: mapped)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// CPython's `handle_capital_sigma`: preceded by a cased letter and not followed by one,
    /// skipping case-ignorable characters in both directions.
    private static func isFinalSigma(_ scalars: [Unicode.Scalar], at index: Int) -> Bool {
        var j = index - 1
        while j >= 0, scalars[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0, scalars[j].properties.isCased else { return false }
        j = index + 1
        while j < scalars.count, scalars[j].properties.isCaseIgnorable { j += 1 }
        return !(j < scalars.count && scalars[j].properties.isCased)
    }

    /// Python's `" ".join(text.split())`: split on `str.isspace()` runs, join with one space.
    var pythonWhitespaceCollapsed: String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in unicodeScalars {
            if CharacterTables.pythonSpaces.contains(scalar) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" ") }
                pendingSpace = false
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Python's `str.strip()` (no arguments).
    var pythonStripped: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !CharacterTables.pythonSpaces.contains($0) }),
              let last = scalars.lastIndex(where: { !CharacterTables.pythonSpaces.contains($0) })
        else { return "" }
        return String(scalars[first...last])
    }
}
