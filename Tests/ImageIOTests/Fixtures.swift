import Foundation
import ImageIO
import Testing

/// The fixtures written by scripts/fixtures/make_image_fixtures.py, described
/// by Tests/Fixtures/images/manifest.json.
struct Manifest: Decodable {
    struct Image: Decodable, CustomTestStringConvertible {
        let file: String
        let width: Int
        let height: Int
        /// The mode Pillow opened the file in (RGB, L, P, RGBA, LA, 1, I;16, CMYK).
        let pil_mode: String
        let decoded_fnv1a64: String
        /// Pillow's `convert("RGB")` bytes, for small images only.
        let decoded: String?
        /// open_clip's eval transform before ToTensor, on `Image.open(file)`
        /// (resized in `pil_mode`, then converted): 224x224 RGB8.
        let clip224: String
        /// The same with Hugging Face's floor-rounded centre crop, where it differs.
        let clip224_floor: String?
        /// Modes other than RGB: FNV-1a 64 of the crop computed from
        /// `convert("RGB")` first, and whether that differs from `clip224`.
        let clip224_rgb_first_fnv1a64: String?
        let rgb_first_differs: Bool?
        var testDescription: String { file }
    }

    struct Resize: Decodable, CustomTestStringConvertible {
        let source: String
        let width: Int
        let height: Int
        let filter: String
        let expected: String
        /// Set for resizes in the source's own mode (Pillow's mode name);
        /// `expected` then holds `DecodedImage`'s samples (I;16: little-endian).
        let mode: String?
        var testDescription: String { "\(source) -> \(width)x\(height) \(filter)\(mode.map { " in \($0)" } ?? "")" }
    }

    let size: Int
    let normalize_table: String
    let images: [Image]
    let resize: [Resize]

    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/images")

    static let shared: Manifest = {
        let url = directory.appendingPathComponent("manifest.json")
        do {
            return try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot read \(url.path): \(error) — run scripts/fixtures/make_image_fixtures.py")
        }
    }()

    static func path(_ relative: String) -> String {
        directory.appendingPathComponent(relative).path
    }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(relative)))
    }

    static func floats(_ relative: String) throws -> [Float] {
        let data = try Data(contentsOf: directory.appendingPathComponent(relative))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}

/// FNV-1a, 64-bit: the hash the fixture script records for decoded bytes.
func fnv1a64(_ bytes: [UInt8]) -> String {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes {
        hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

/// How two equally long byte arrays differ: the fraction of equal elements and
/// the largest absolute difference (in uint8 steps, i.e. units of 1/255).
struct ByteAgreement: CustomStringConvertible {
    let exactFraction: Double
    let maxDifference: Int
    let count: Int

    init(_ actual: [UInt8], _ expected: [UInt8]) {
        precondition(actual.count == expected.count, "sizes differ: \(actual.count) vs \(expected.count)")
        var equal = 0, worst = 0
        for (a, b) in zip(actual, expected) {
            let difference = abs(Int(a) - Int(b))
            if difference == 0 { equal += 1 }
            worst = max(worst, difference)
        }
        count = actual.count
        exactFraction = count == 0 ? 1 : Double(equal) / Double(count)
        maxDifference = worst
    }

    var description: String {
        "\(String(format: "%.4f", exactFraction * 100))% of \(count) exact, max difference \(maxDifference)"
    }
}
