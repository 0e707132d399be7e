import CLIP
import Foundation
import Testing

/// Values in a Hugging Face `config.json` are checked when it is read: out-of-range values used
/// to trap at load (patch size 0, layers -1 or 10^9, a huge width) or load and then trap at the
/// first encode (heads not dividing the width, 0 heads, a negative image size) (issue 12).
@Suite struct HuggingFaceConfigTests {
    static let source = fixtures.appendingPathComponent("models/hf_vit")

    static let cases: [(tower: String, key: String, value: Any, expected: String)] = [
        ("vision_config", "patch_size", 0, "patch size is 0"),
        ("vision_config", "num_hidden_layers", -1, "vision layers is -1"),
        ("vision_config", "num_hidden_layers", 1_000_000_000, "vision layers is 1000000000"),
        ("vision_config", "hidden_size", 1 << 62, "vision width is 4611686018427387904"),
        ("text_config", "hidden_size", Int.max, "text width is 9223372036854775807"),
        ("vision_config", "num_attention_heads", 3, "vision heads 3 do not divide the vision width 64"),
        ("text_config", "num_attention_heads", 0, "text heads is 0"),
        ("vision_config", "image_size", -32, "image size is -32"),
        ("vision_config", "image_size", 36, "image size 36 is not a multiple of the patch size 8"),
        ("text_config", "max_position_embeddings", 0, "context length is 0"),
        ("text_config", "vocab_size", -5, "vocabulary size is -5"),
        ("vision_config", "patch_size", "8", "'patch_size' is not an integer"),
    ]

    @Test(arguments: cases.indices)
    func outOfRangeValuesAreRefusedAtLoad(_ i: Int) throws {
        let c = Self.cases[i]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hf-config-\(getpid())-\(i)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var root = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.source.appendingPathComponent("config.json"))) as? [String: Any])
        var tower = try #require(root[c.tower] as? [String: Any])
        tower[c.key] = c.value
        root[c.tower] = tower
        try JSONSerialization.data(withJSONObject: root).write(to: dir.appendingPathComponent("config.json"))
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("model.safetensors"),
                                                   withDestinationURL: Self.source.appendingPathComponent("model.safetensors"))
        do {
            _ = try CLIPModel.load(path: dir.path)
            Issue.record("loaded config.json with \(c.tower).\(c.key) = \(c.value)")
        } catch let e as WeightError {
            #expect(e.description.contains("config.json"), "\(e)")
            #expect(e.description.contains(c.expected), "\(e)")
        }
    }

    /// The unmodified fixture still loads (the checks refuse nothing legitimate).
    @Test func theFixtureLoads() throws {
        let model = try CLIPModel.load(path: Self.source.path)
        #expect(model.config.visionHeads == 2 && model.config.textHeads == 2)
    }
}
