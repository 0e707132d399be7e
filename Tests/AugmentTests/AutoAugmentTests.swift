import CleanCLIP
import Foundation
import Testing

/// Manifest of Tests/Fixtures/augment/autoaugment_ops.{json,bin}, written by
/// scripts/fixtures/make_augment_fixtures.py from torchvision's `_apply_op`.
private struct OpsManifest: Decodable {
    struct Image: Decodable { let width: Int; let height: Int; let offset: Int }
    struct Case: Decodable {
        let image: String; let op: String; let bin: Int?; let sign: Int; let magnitude: Double; let offset: Int
    }
    let images: [String: Image]
    let cases: [Case]
    let magnitudes: [String: [String: [Double]]]
    let policies: [[[JSONValue]]]
}

/// Just enough JSON to read the policy triples ("Posterize", 0.4, 8) / (…, null).
private enum JSONValue: Decodable {
    case string(String), number(Double), null
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null } else if let s = try? c.decode(String.self) { self = .string(s) } else { self = .number(try c.decode(Double.self)) }
    }
}

private let manifest: OpsManifest = try! loadJSON(OpsManifest.self, "autoaugment_ops.json")
private let blob: [UInt8] = [UInt8](try! Data(contentsOf: augmentFixtures.appendingPathComponent("autoaugment_ops.bin")))

/// Allowed number of differing bytes per op (all ops currently match torchvision exactly; the
/// affine family would be the one to differ, by nearest-sampling ties at a few pixels).
private let tolerance: [String: Int] = [:]

@Test func magnitudeTablesMatchTorch() throws {
    for (name, tables) in manifest.magnitudes {
        let image = try #require(manifest.images[name])
        for (opName, expected) in tables {
            let op = try #require(AutoAugment.Operation(rawValue: opName))
            let mine = AutoAugment.magnitudes(op, width: image.width, height: image.height).values.map(Double.init)
            #expect(mine == expected, "\(name) \(opName)")
        }
    }
}

@Test func imageNetPolicyMatchesTorchvision() {
    let expected = manifest.policies.map { sub in
        sub.map { triple -> AutoAugment.Step in
            guard case .string(let name) = triple[0], case .number(let p) = triple[1],
                  let op = AutoAugment.Operation(rawValue: name) else { fatalError("bad fixture") }
            var bin: Int? = nil
            if case .number(let b) = triple[2] { bin = Int(b) }
            return AutoAugment.Step(op, p, bin)
        }
    }
    #expect(AutoAugment.imageNetPolicy == expected)
}

@Test(arguments: AutoAugment.Operation.allCases)
func operationMatchesTorchvision(_ op: AutoAugment.Operation) throws {
    var checked = 0, worst = 0
    for c in manifest.cases where c.op == op.rawValue {
        let image = try #require(manifest.images[c.image])
        let n = image.width * image.height * 3
        let input = Array(blob[image.offset..<image.offset + n])
        let expected = Array(blob[c.offset..<c.offset + n])
        let out = AutoAugment.apply(op, magnitude: c.magnitude, to: input, width: image.width, height: image.height)
        let differing = zip(out, expected).filter { $0 != $1 }.count
        worst = max(worst, differing)
        #expect(differing <= tolerance[op.rawValue, default: 0],
                "\(op.rawValue) on \(c.image) bin \(String(describing: c.bin)) sign \(c.sign): \(differing) of \(n) bytes differ")
        checked += 1
    }
    #expect(checked > 0)
}

@Test func policyChoiceIsReproducibleWithASeed() {
    let aa = AutoAugment()
    let w = 16, h = 12
    let pixels = (0..<(w * h * 3)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
    var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42)
    for _ in 0..<50 {
        let ca = aa.choose(using: &a), cb = aa.choose(using: &b)
        #expect(ca == cb)
        #expect(aa.apply(pixels, width: w, height: h, choice: ca) == aa.apply(pixels, width: w, height: h, choice: cb))
    }
    // Different seeds explore different sub-policies; all 25 are reachable.
    var rng = SeededRandom(seed: 1)
    var seen = Set<Int>()
    for _ in 0..<2000 { seen.insert(aa.choose(using: &rng).policyIndex) }
    #expect(seen.count == 25)
}

@Test func applyFollowsProbabilitiesAndSigns() {
    let w = 8, h = 6
    let pixels = (0..<(w * h * 3)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
    let aa = AutoAugment()
    // Sub-policy 0: Posterize(0.4, bin 8) then Rotate(0.6, bin 9). Draws above both probabilities: identity.
    let none = AutoAugment.Choice(policyIndex: 0, draws: [0.9, 0.9], negative: [false, false])
    #expect(aa.apply(pixels, width: w, height: h, choice: none) == pixels)
    // Both applied, rotation negative: posterize to 4 bits, then rotate by -30 degrees.
    let both = AutoAugment.Choice(policyIndex: 0, draws: [0.1, 0.1], negative: [true, true])
    let expected = PixelOps.rotate(PixelOps.posterize(pixels, bits: 4), width: w, height: h, angle: -30)
    #expect(aa.apply(pixels, width: w, height: h, choice: both) == expected)
}
