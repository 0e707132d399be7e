import CLIP
import Checkpoint
import ImageIO
import Tokenizer
import Foundation
import TensorCore
import Testing

/// Embeddings from every checkpoint naming scheme against open_clip / transformers outputs
/// produced by scripts/fixtures/make_model_fixtures.py. Tolerance: 1e-4 on unnormalised
/// embeddings and 1e-5 on layer outputs (scale ~1).
@Suite struct ParityTests {
    static let cases: [(String, String, Activation?)] = [
        ("vit_quickgelu", "vit_quickgelu.safetensors", nil),
        ("vit_gelu", "vit_gelu.safetensors", .gelu),
        ("resnet", "resnet.safetensors", nil),
        ("hf_vit", "hf_vit", nil),
    ]

    @Test(arguments: cases.map(\.0))
    func embeddingsMatchReference(name: String) throws {
        let (_, file, activation) = Self.cases.first { $0.0 == name }!
        let dir = fixtures.appendingPathComponent("models")
        let model = try CLIPModel.load(path: dir.appendingPathComponent(file).path,
                                       options: CLIPLoadOptions(activation: activation))
        let expected = try loadTensors(dir.appendingPathComponent("\(name).expected.safetensors").path)
        let pixels = try #require(expected["pixels"]), tokens = try #require(expected["tokens"])

        let trace = try model.visionTrace(pixels)
        for key in ["patch_embed", "block0"] where expected[key] != nil {
            expectClose(try #require(trace[key]), expected[key]!, atol: 1e-5, "\(name) \(key)")
        }
        expectClose(try model.encodeImage(pixels), try #require(expected["image"]), atol: 1e-4, "\(name) image")
        let text = try model.encodeText(tokens: tokens.int32s, batch: tokens.shape[0])
        expectClose(text, try #require(expected["text"]), atol: 1e-4, "\(name) text")
        #expect(abs(model.logitScale.scalar - expected["logit_scale"]!.scalar) < 1e-6)
    }

    @Test func batchEqualsSingles() throws {
        let dir = fixtures.appendingPathComponent("models")
        for file in ["vit_quickgelu.safetensors", "resnet.safetensors"] {
            let model = try CLIPModel.load(path: dir.appendingPathComponent(file).path)
            let name = file.replacingOccurrences(of: ".safetensors", with: "")
            let expected = try loadTensors(dir.appendingPathComponent("\(name).expected.safetensors").path)
            let pixels = expected["pixels"]!, tokens = expected["tokens"]!.int32s
            let batch = try model.encodeImage(pixels)
            let per = pixels.count / pixels.shape[0]
            for i in 0..<pixels.shape[0] {
                let one = Tensor(Array(pixels.array[(i * per)..<((i + 1) * per)]), shape: [1] + pixels.shape.dropFirst())
                let e = try model.encodeImage(one)
                let row = Tensor(Array(batch.array[(i * e.count)..<((i + 1) * e.count)]), shape: e.shape)
                #expect(maxAbsDiff(e, row) <= 1e-5, "\(file) image \(i)")
            }
            let texts = try model.encodeText(tokens: tokens, batch: 4)
            for i in 0..<4 {
                let e = try model.encodeText(tokens: Array(tokens[(i * 77)..<((i + 1) * 77)]), batch: 1)
                let row = Tensor(Array(texts.array[(i * e.count)..<((i + 1) * e.count)]), shape: e.shape)
                #expect(maxAbsDiff(e, row) <= 1e-5, "\(file) text \(i)")
            }
        }
    }

    @Test func paddingAfterEndOfTextChangesNothing() throws {
        let dir = fixtures.appendingPathComponent("models")
        let model = try CLIPModel.load(path: dir.appendingPathComponent("vit_quickgelu.safetensors").path)
        let tokens = try loadTensors(dir.appendingPathComponent("vit_quickgelu.expected.safetensors").path)["tokens"]!.int32s
        var noisy = tokens
        var rng = SeededRandom(seed: 5)
        for row in 0..<4 {
            let ids = noisy[(row * 77)..<((row + 1) * 77)]
            let eot = ids.firstIndex(of: ids.max()!)!
            for j in (eot + 1)..<((row + 1) * 77) { noisy[j] = Int32(rng.next() % 900) + 1 }
        }
        let a = try model.encodeText(tokens: tokens, batch: 4), b = try model.encodeText(tokens: noisy, batch: 4)
        #expect(maxAbsDiff(a, b) == 0)
    }
}

/// Image files -> embeddings through our decoder and preprocessing equals open_clip's
/// `image_transform` + model (fixture from make_model_fixtures.py).
@Test func imageFilesMatchOpenCLIP() throws {
    let dir = fixtures.appendingPathComponent("models")
    let model = try CLIPModel.load(path: dir.appendingPathComponent("vit_quickgelu.safetensors").path)
    let path = dir.appendingPathComponent("vit_quickgelu.files.expected.safetensors").path
    let expected = try loadTensors(path)
    let names = try #require(try SafetensorsReader.read(path: path).metadata["files"]).split(separator: ",")
    let files = names.map { fixtures.appendingPathComponent("images/\($0)").path }
    let images = try files.map { try ImageDecoder.decode(path: $0) }
    expectClose(model.pixels(for: images), expected["pixels"]!, atol: 1e-6, "preprocessed pixels")
    expectClose(try model.encodeImages(paths: files), expected["image"]!, atol: 1e-4, "image embeddings from files")
}

/// Real-size architectures with random weights run end to end (shapes and finiteness).
@Test(arguments: ["ViT-B/32", "RN50"])
func fullSizeModelsRun(name: String) throws {
    let config = try #require(CLIPConfig.presets[name])
    let model = CLIPModel(randomWith: config, seed: 3)
    var rng = SeededRandom(seed: 4)
    let image = try model.encodeImage(Tensor.randomNormal([2, 3, 224, 224], std: 1, using: &rng))
    #expect(image.shape == [2, config.embedDim])
    #expect(image.array.allSatisfy { $0.isFinite })
    let ids = try CLIPTokenizer.standard.tokenize(["a photo of a dog.", "a diagram"])
    let text = try model.encodeText(tokens: ids, batch: 2)
    #expect(text.shape == [2, config.embedDim])
    #expect(text.array.allSatisfy { $0.isFinite })
    #expect(model.config.architecture == name)
}
