import CleanCLIP
import Demo
import Foundation
import Testing

/// Where the training fixtures (scripts/fixtures/make_training_fixtures.py) live.
let trainingFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/training")

/// Reads a safetensors file into Float32 tensors by name (owned copies for non-F32 data).
func loadTensors(_ url: URL) throws -> [String: Tensor] {
    let archive = try SafetensorsReader.read(path: url.path)
    var out: [String: Tensor] = [:]
    for (name, raw) in archive.tensors { out[name] = try CLIPModel.tensor(from: raw) }
    return out
}

/// The two fixture models: architecture and batch as in the script.
enum FixtureModel: String, CaseIterable, Sendable {
    case vit, resnet

    var config: CLIPConfig {
        let vision: CLIPConfig.Vision = self == .vit
            ? .vit(patch: 8, width: 32, layers: 2, heads: 2, resolution: 32)
            : .resnet(layers: [1, 1, 1, 1], width: 4, heads: 2, resolution: 64)
        return CLIPConfig(embedDim: 16, vision: vision, contextLength: 16, vocabSize: 100,
                          textWidth: 32, textHeads: 2, textLayers: 2, activation: .quickGELU)
    }

    struct Loaded {
        let model: CLIPModel
        let pixels: Tensor, augPixels: Tensor
        let tokens: [Int32], augTokens: [Int32]
        let expected: [String: Tensor]
        var batch: Int { pixels.shape[0] }
    }

    /// A fresh model at the initial weights, the batch, and the reference results.
    func load() throws -> Loaded {
        var tensors = try loadTensors(trainingFixtures.appendingPathComponent("\(rawValue).safetensors"))
        let inputs = tensors.filter { $0.key.hasPrefix("input.") }
        for k in inputs.keys { tensors[k] = nil }
        let model = try CLIPModel(config: config, weights: StateDict(tensors))
        let expected = try loadTensors(trainingFixtures.appendingPathComponent("\(rawValue).expected.safetensors"))
        return Loaded(model: model, pixels: inputs["input.pixels"]!, augPixels: inputs["input.aug_pixels"]!,
                      tokens: inputs["input.tokens"]!.array.map { Int32($0) },
                      augTokens: inputs["input.aug_tokens"]!.array.map { Int32($0) }, expected: expected)
    }
}

/// The largest absolute difference between two tensors of the same shape.
func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count, "shapes \(a.shape) and \(b.shape) differ")
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a.data[i] - b.data[i])) }
    return m
}

func maxAbs(_ a: Tensor) -> Float { a.array.map(abs).max() ?? 0 }

/// Writes `count` generated 32x32 shape images (PNG) with captions and labels; returns the CSV path.
func makeCSV(count: Int, in dir: String) throws -> String {
    try FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
    var csv = "image,caption,label\n"
    for (i, e) in ShapesDataset.generate(count: count, side: 32, seed: 9).enumerated() {
        try ImageEncoder.writePNG(try RGBImage(width: 32, height: 32, pixels: e.pixels), to: "\(dir)/images/\(i).png")
        csv += "images/\(i).png,\"\(e.caption)\",\(e.label)\n"
    }
    try csv.write(toFile: dir + "/train.csv", atomically: true, encoding: .utf8)
    return dir + "/train.csv"
}

/// A fresh, empty temporary folder path for one test.
func tempDir(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cleanclip-\(name)-\(getpid())").path
    try? FileManager.default.removeItem(atPath: dir)
    return dir
}

/// A tiny ViT CLIP with the full vocabulary, for finetuning tests on real captions.
let tinyConfig = CLIPConfig(embedDim: 32, vision: .vit(patch: 8, width: 64, layers: 1, heads: 1, resolution: 32),
                            textWidth: 64, textHeads: 1, textLayers: 1)

/// Two short epochs of batch 8 for the finetuner tests (24-pair data sets give 3 steps per epoch).
var tinyFinetuneConfig: FinetuneConfig {
    var c = FinetuneConfig()
    c.batchSize = 8
    c.epochs = 2
    c.warmupSteps = 2
    c.lr = 1e-3
    c.seed = 5
    return c
}
