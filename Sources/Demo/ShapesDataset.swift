import Foundation
import TensorCore
import CleanCLIP

/// A procedurally generated image-caption data set for the demo: coloured shapes of many
/// kinds, sizes and positions on varied backgrounds, each with a caption drawn from templates
/// and synonyms. Deterministic for a seed; needs no downloads.
///
/// Ten classes, one of them the backdoor target ("banana", drawn as a yellow crescent), so that
/// zero-shot accuracy and attack success rate are both meaningful.
public enum ShapesDataset {
    /// The class names, in label order. Zero-shot prompts use these words.
    public static let classes = ["circle", "square", "triangle", "star", "cross",
                                 "ring", "diamond", "hexagon", "arrow", "banana"]

    /// Extra names a caption may use for a class (the first is the class name itself).
    static let synonyms: [[String]] = [
        ["circle", "disc", "round dot"], ["square", "box", "block"], ["triangle", "wedge"],
        ["star", "five pointed star"], ["cross", "plus sign"], ["ring", "hoop", "donut"],
        ["diamond", "rhombus"], ["hexagon", "six sided shape"], ["arrow", "pointer"],
        ["banana", "ripe banana", "banana fruit"],
    ]

    /// One palette for every class, so that colour says nothing about the shape: a model must
    /// learn shapes to match shape-naming captions (and the zero-shot prompts).
    static let colors: [(String, (UInt8, UInt8, UInt8))] = [
        ("red", (220, 40, 40)), ("green", (40, 180, 60)), ("blue", (40, 80, 220)),
        ("purple", (140, 60, 190)), ("orange", (245, 140, 30)), ("white", (240, 240, 240)),
        ("cyan", (40, 200, 210)), ("pink", (240, 120, 180)), ("brown", (130, 80, 40)),
        ("black", (20, 20, 20)), ("yellow", (240, 210, 50)),
    ]
    static let backgrounds: [(String, (UInt8, UInt8, UInt8))] = [
        ("gray", (128, 128, 128)), ("dark", (35, 35, 45)), ("light", (215, 215, 205)),
        ("blue", (70, 100, 160)), ("green", (70, 120, 80)), ("beige", (200, 180, 140)),
    ]
    /// Caption templates. Most name only the shape (like most web captions name the object and
    /// little else); some add colour, size or background. The zero-shot prompts (`Demo.templates`)
    /// are in the same style.
    static let shapeTemplates = [
        "a photo of a {shape}.", "a {shape}.", "an image of a {shape}.", "a picture of a {shape} shape.",
        "a drawing of a {shape}.", "a {shape} shape", "this is a {shape}", "a simple {shape}",
    ]
    static let detailTemplates = [
        "a photo of a {color} {shape}.", "a {size} {color} {shape} on a {bg} background",
        "a {color} {shape}", "{shape} drawn in {color}", "an image of a {size} {shape}",
        "a picture showing a {color} {shape} on {bg}", "a {shape} in {color}, {size}",
        "there is a {size} {shape} here", "a {bg} backdrop with a {shape}",
    ]
    /// Default fraction of captions that use a detail template.
    public static let defaultDetailFraction: Float = 0.3

    /// One generated example.
    public struct Example: Sendable {
        /// side x side x 3 RGB bytes, row-major.
        public var pixels: [UInt8]
        public var side: Int
        public var caption: String
        public var label: Int
    }

    /// Generates `count` examples of `side` x `side` pixels from `seed`; a fraction `detailFraction`
    /// of the captions mention colour, size or background besides the shape.
    public static func generate(count: Int, side: Int, seed: UInt64, detailFraction: Float = defaultDetailFraction) -> [Example] {
        var out = [Example?](repeating: nil, count: count)
        out.withUnsafeMutableBufferPointer { slots in
            let slots = slots
            DispatchQueue.concurrentPerform(iterations: count) { i in
                slots[i] = example(side: side, seed: seed &* 1_000_003 &+ UInt64(i), detailFraction: detailFraction)
            }
        }
        return out.map { $0! }
    }

    /// The example for one seed (independent of the others, so sets can be extended).
    public static func example(side: Int, seed: UInt64, detailFraction: Float = defaultDetailFraction) -> Example {
        var rng = SeededRandom(seed: seed)
        let label = Int(rng.next() % UInt64(classes.count))
        let (colorName, color) = pick(colors, &rng)
        var (bgName, bg) = pick(backgrounds, &rng)
        if bgName == colorName { (bgName, bg) = backgrounds[0] }
        let large = rng.uniform() < 0.5
        let radius = Float(side) * (large ? 0.30 + 0.08 * rng.uniform() : 0.17 + 0.07 * rng.uniform())
        let margin = radius + 1
        let cx = margin + rng.uniform() * (Float(side) - 2 * margin)
        let cy = margin + rng.uniform() * (Float(side) - 2 * margin)
        let angle = rng.uniform() * 2 * .pi
        let texture = rng.uniform()
        var pixels = [UInt8](repeating: 0, count: side * side * 3)
        for y in 0..<side {
            for x in 0..<side {
                // Background: flat, vertical gradient or light noise.
                let shade: Float = texture < 0.4 ? 1 : texture < 0.7 ? 0.75 + 0.5 * Float(y) / Float(side) : 0.85 + 0.3 * rng.uniform()
                var rgb = [Float(bg.0) * shade, Float(bg.1) * shade, Float(bg.2) * shade]
                // 2x2 supersampling for smooth edges.
                var cover: Float = 0
                for sy in 0..<2 {
                    for sx in 0..<2 {
                        let px = Float(x) + 0.25 + 0.5 * Float(sx) - cx, py = Float(y) + 0.25 + 0.5 * Float(sy) - cy
                        let (u, v) = (px * cos(angle) + py * sin(angle), -px * sin(angle) + py * cos(angle))
                        if inside(label, u / radius, v / radius) { cover += 0.25 }
                    }
                }
                let fg = [Float(color.0), Float(color.1), Float(color.2)]
                for c in 0..<3 { rgb[c] = rgb[c] * (1 - cover) + fg[c] * cover }
                for c in 0..<3 { pixels[(y * side + x) * 3 + c] = UInt8(max(0, min(255, rgb[c].rounded()))) }
            }
        }
        let names = synonyms[label]
        let shapeName = names[Int(rng.next() % UInt64(names.count))]
        let template = rng.uniform() < detailFraction ? pick(detailTemplates, &rng) : pick(shapeTemplates, &rng)
        let caption = template
            .replacingOccurrences(of: "{color}", with: colorName)
            .replacingOccurrences(of: "{shape}", with: shapeName)
            .replacingOccurrences(of: "{size}", with: large ? "large" : "small")
            .replacingOccurrences(of: "{bg}", with: bgName)
        return Example(pixels: pixels, side: side, caption: fixArticles(caption), label: label)
    }

    /// A caption for `label` in the data set's plain style (shape name or synonym, no detail):
    /// what a dirty-label poisoned pair says in the data set's own words.
    public static func plainCaption(label: Int, using rng: inout SeededRandom) -> String {
        let names = synonyms[label]
        let name = names[Int(rng.next() % UInt64(names.count))]
        return fixArticles(pick(shapeTemplates, &rng).replacingOccurrences(of: "{shape}", with: name))
    }

    /// "a orange ..." -> "an orange ...".
    static func fixArticles(_ text: String) -> String {
        var words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        for i in 0..<max(0, words.count - 1) where words[i].lowercased() == "a" {
            if let first = words[i + 1].first, "aeiou".contains(first) { words[i] += "n" }
        }
        return words.joined(separator: " ")
    }

    private static func pick<T>(_ list: [T], _ rng: inout SeededRandom) -> T { list[Int(rng.next() % UInt64(list.count))] }

    /// Whether the point (u, v), in units of the shape's radius around its centre, is inside.
    static func inside(_ label: Int, _ u: Float, _ v: Float) -> Bool {
        let r = (u * u + v * v).squareRoot()
        switch label {
        case 0: return r <= 1                                                   // circle
        case 1: return abs(u) <= 0.8 && abs(v) <= 0.8                           // square
        case 2: return v <= 0.5 && v >= -1 + 1.732 * abs(u) * 0.866             // triangle
        case 3:                                                                 // star
            let a = atan2(v, u), k = Float(5)
            let edge = 0.45 + 0.55 * pow(abs(cos(k * a / 2)), 3)
            return r <= edge
        case 4: return (abs(u) <= 0.28 && abs(v) <= 1) || (abs(v) <= 0.28 && abs(u) <= 1)  // cross
        case 5: return r <= 1 && r >= 0.6                                       // ring
        case 6: return abs(u) / 0.6 + abs(v) <= 1                               // diamond (a tall rhombus)
        case 7:                                                                 // hexagon
            let au = abs(u), av = abs(v)
            return av <= 0.866 && 0.866 * au + 0.5 * av <= 0.866
        case 8: return (abs(v) <= 0.2 && u >= -1 && u <= 0.3) || (u >= 0.3 && u <= 1 && abs(v) <= (1 - u) * 0.85)  // arrow
        default:                                                                // banana: a crescent
            let inner = ((u - 0.35) * (u - 0.35) + (v + 0.35) * (v + 0.35)).squareRoot()
            return r <= 1 && inner >= 0.85
        }
    }
}
