import CLIP
import Foundation
import TensorCore
import Testing

/// The same small models saved the ways PyTorch users have them (scripts/fixtures/
/// make_model_fixtures.py): CleanCLIP training checkpoints ("module." keys, optimizer state),
/// open_clip {"state_dict"}, fp16 state dicts and TorchScript archives all load and give the
/// reference embeddings within 1e-4.
@Suite struct CheckpointFormatTests {
    static let cases: [(file: String, expected: String)] = [
        ("vit_quickgelu.cleanclip.pt", "vit_quickgelu"),
        ("vit_quickgelu.openclip.pt", "vit_quickgelu"),
        ("vit_quickgelu.fp16.pt", "vit_quickgelu.fp16"),
        ("vit_quickgelu.jit.pt", "vit_quickgelu"),
        ("resnet.cleanclip.pt", "resnet"),
        ("resnet.jit.pt", "resnet"),
    ]

    @Test(arguments: cases.map(\.file))
    func loadsAndMatches(file: String) throws {
        let expectedName = Self.cases.first { $0.file == file }!.expected
        let dir = fixtures.appendingPathComponent("models")
        let model = try CLIPModel.load(path: dir.appendingPathComponent(file).path)
        let expected = try loadTensors(dir.appendingPathComponent("\(expectedName).expected.safetensors").path)
        let pixels = expected["pixels"]!, tokens = expected["tokens"]!
        expectClose(try model.encodeImage(pixels), expected["image"]!, atol: 1e-4, "\(file) image")
        expectClose(try model.encodeText(tokens: tokens.int32s, batch: tokens.shape[0]), expected["text"]!,
                    atol: 1e-4, "\(file) text")
    }

    @Test func missingAndMisshapenKeysAreNamed() throws {
        let dir = fixtures.appendingPathComponent("models")
        var tensors = try loadTensors(dir.appendingPathComponent("vit_quickgelu.safetensors").path)
        tensors["visual.ln_post.bias"] = nil
        #expect(throws: WeightError.self) { try CLIPModel(config: CLIPConfig.infer(from: StateDict(tensors)), weights: StateDict(tensors)) }
        do {
            _ = try CLIPModel(config: CLIPConfig.infer(from: StateDict(tensors)), weights: StateDict(tensors))
        } catch {
            #expect("\(error)".contains("missing key 'visual.ln_post.bias'"))
        }
        tensors = try loadTensors(dir.appendingPathComponent("vit_quickgelu.safetensors").path)
        tensors["visual.ln_post.weight"] = Tensor(zeros: [63])
        do {
            _ = try CLIPModel(config: CLIPConfig.infer(from: StateDict(tensors)), weights: StateDict(tensors))
            Issue.record("a wrong shape was accepted")
        } catch {
            #expect("\(error)".contains("shape mismatch for 'visual.ln_post.weight': checkpoint has [63], model expects [64]"))
        }
        tensors = try loadTensors(dir.appendingPathComponent("vit_quickgelu.safetensors").path)
        tensors["visual.extra.weight"] = Tensor(zeros: [2])
        do {
            _ = try CLIPModel(config: CLIPConfig.infer(from: StateDict(tensors)), weights: StateDict(tensors))
            Issue.record("an unexpected key was accepted")
        } catch {
            #expect("\(error)".contains("unexpected key 'visual.extra.weight' [2]"))
        }
    }

    @Test func badPathsGiveClearErrors() throws {
        do {
            _ = try CLIPModel.load(path: "/nonexistent/model.safetensors")
            Issue.record("loaded a missing file")
        } catch {
            #expect("\(error)".contains("no such file or directory: /nonexistent/model.safetensors"))
        }
        let junk = FileManager.default.temporaryDirectory.appendingPathComponent("junk-\(getpid()).safetensors")
        try Data("this is not a checkpoint".utf8).write(to: junk)
        defer { try? FileManager.default.removeItem(at: junk) }
        #expect(throws: (any Error).self) { try CLIPModel.load(path: junk.path) }
    }

    @Test func rejectsBadInputs() throws {
        let dir = fixtures.appendingPathComponent("models")
        let model = try CLIPModel.load(path: dir.appendingPathComponent("vit_quickgelu.safetensors").path)
        #expect(throws: CLIPInputError.self) { try model.encodeImage(Tensor(zeros: [1, 3, 31, 32])) }
        #expect(throws: CLIPInputError.self) { try model.encodeImage(Tensor(zeros: [0, 3, 32, 32])) }
        #expect(throws: CLIPInputError.self) { try model.encodeText(tokens: [Int32](repeating: 0, count: 76), batch: 1) }
        var ids = [Int32](repeating: 0, count: 77)
        ids[0] = 5000
        #expect(throws: CLIPInputError.self) { try model.encodeText(tokens: ids, batch: 1) }
        #expect(throws: CLIPInputError.self) { try model.encodeText(tokens: [], batch: 0) }
    }
}

@Suite struct SavingTests {
    @Test(arguments: ["resnet.jit.pt", "vit_gelu.safetensors"])
    func saveThenLoadGivesSameEmbeddings(file: String) throws {
        let dir = fixtures.appendingPathComponent("models")
        let gelu = file.hasPrefix("vit_gelu")
        let model = try CLIPModel.load(path: dir.appendingPathComponent(file).path,
                                       options: CLIPLoadOptions(activation: gelu ? .gelu : nil))
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("saved-\(getpid())-\(file).safetensors").path
        defer { unlink(out) }
        try model.save(to: out)
        let again = try CLIPModel.load(path: out)  // the activation comes back from the metadata
        #expect(again.config == model.config)
        let expected = try loadTensors(dir.appendingPathComponent("\(file.split(separator: ".")[0]).expected.safetensors").path)
        #expect(maxAbsDiff(try again.encodeImage(expected["pixels"]!), try model.encodeImage(expected["pixels"]!)) == 0)
        let names = Set(model.weights.map(\.name))
        #expect(Set(again.weights.map(\.name)) == names)
    }

    /// Head counts are not in the tensor shapes: a model with other heads than width / 64 must
    /// come back with its own (the demo's models have 4 heads at width 64).
    @Test(arguments: [CLIPConfig.Vision.resnet(layers: [1, 1, 1, 1], width: 16, heads: 4, resolution: 32),
                      .vit(patch: 8, width: 64, layers: 1, heads: 4, resolution: 32)])
    func savedHeadCountsComeBack(vision: CLIPConfig.Vision) throws {
        let config = CLIPConfig(embedDim: 32, vision: vision, contextLength: 16, textWidth: 64, textHeads: 4, textLayers: 1)
        let model = CLIPModel(randomWith: config, seed: 3)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("heads-\(getpid())-\(config.architecture.hashValue).safetensors").path
        defer { unlink(out) }
        try model.save(to: out)
        let again = try CLIPModel.load(path: out)
        #expect(again.config == config)
        let pixels = Tensor((0..<(2 * 3 * 32 * 32)).map { Float($0 % 7) / 7 - 0.5 }, shape: [2, 3, 32, 32])
        #expect(maxAbsDiff(try again.encodeImage(pixels), try model.encodeImage(pixels)) == 0)
        let tokens: [Int32] = [49406, 320, 1929, 49407] + [Int32](repeating: 0, count: 12)
        #expect(maxAbsDiff(try again.encodeText(tokens: tokens, batch: 1), try model.encodeText(tokens: tokens, batch: 1)) == 0)
    }
}
