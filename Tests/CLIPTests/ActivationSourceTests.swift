import CleanCLIP
import Foundation
import Testing

/// GELU against QuickGELU is invisible in the weights, so the activation must come from somewhere
/// the user can see: the caller, the file's own metadata, or an open_clip directory's config.
/// Anything else is assumed (QuickGELU) and flagged.
@Suite struct ActivationSourceTests {
    let config = CLIPConfig(embedDim: 16, vision: .vit(patch: 16, width: 32, layers: 1, heads: 2, resolution: 32),
                            contextLength: 16, textWidth: 32, textHeads: 2, textLayers: 1, activation: .gelu)

    func folder(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("activation-\(getpid())-\(name)")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The weights alone, as open_clip's `save_file(model.state_dict())` writes them: no metadata.
    func writeBare(_ model: CLIPModel, to path: String) throws {
        try SafetensorsWriter.write(try model.rawStateDict(), to: path)
    }

    @Test func savedFilesRecordTheirActivation() throws {
        let path = try folder("saved").appendingPathComponent("m.safetensors").path
        try CLIPModel(randomWith: config, seed: 1).save(to: path)
        let loaded = try CLIPModel.load(path: path)
        #expect(loaded.config.activation == .gelu)
        #expect(!loaded.activationAssumed)
    }

    @Test func bareFilesAreAssumedQuickGELUAndSaySo() throws {
        let path = try folder("bare").appendingPathComponent("m.safetensors").path
        try writeBare(CLIPModel(randomWith: config, seed: 1), to: path)
        let assumed = try CLIPModel.load(path: path)
        #expect(assumed.config.activation == .quickGELU)
        #expect(assumed.activationAssumed)
        let told = try CLIPModel.load(path: path, options: CLIPLoadOptions(activation: .gelu))
        #expect(told.config.activation == .gelu)
        #expect(!told.activationAssumed)
    }

    @Test(arguments: [(Bool?.some(true), Activation.quickGELU), (Bool?.some(false), .gelu), (Bool?.none, .gelu)])
    func openCLIPDirectoriesSayWhich(quickGELU: Bool?, expected: Activation) throws {
        let dir = try folder("open_clip-\(String(describing: quickGELU))")
        let model = CLIPModel(randomWith: config, seed: 2)
        try writeBare(model, to: dir.appendingPathComponent("open_clip_model.safetensors").path)
        let flag = quickGELU.map { ", \"quick_gelu\": \($0)" } ?? ""
        try Data("{\"model_cfg\": {\"embed_dim\": 16\(flag)}, \"preprocess_cfg\": {}}".utf8)
            .write(to: dir.appendingPathComponent("open_clip_config.json"))
        let loaded = try CLIPModel.load(path: dir.path)
        #expect(loaded.config.activation == expected)
        #expect(!loaded.activationAssumed)
        // The weights are the directory's: the same embeddings as the model with that activation.
        var same = config
        same.activation = expected
        let pixels = Tensor((0..<(3 * 32 * 32)).map { Float($0 % 7) / 7 }, shape: [1, 3, 32, 32])
        let reference = try CLIPModel.load(path: dir.appendingPathComponent("open_clip_model.safetensors").path,
                                           options: CLIPLoadOptions(activation: expected))
        #expect(try loaded.encodeImage(pixels).array == reference.encodeImage(pixels).array)
    }

    @Test func openCLIPDirectoryErrorsNameTheProblem() throws {
        let dir = try folder("open_clip-broken")
        try Data("{\"model_cfg\": {\"quick_gelu\": \"yes\"}}".utf8).write(to: dir.appendingPathComponent("open_clip_config.json"))
        #expect(throws: (any Error).self) { try CLIPModel.load(path: dir.path) }
        do { _ = try CLIPModel.load(path: dir.path) } catch { #expect("\(error)".contains("quick_gelu")) }
        try Data("{\"model_cfg\": {}}".utf8).write(to: dir.appendingPathComponent("open_clip_config.json"))
        #expect(throws: (any Error).self) { try CLIPModel.load(path: dir.path) }
        do { _ = try CLIPModel.load(path: dir.path) } catch { #expect("\(error)".contains("open_clip_model.safetensors")) }
    }
}
