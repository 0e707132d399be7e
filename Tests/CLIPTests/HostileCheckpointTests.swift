import CLIP
import Checkpoint
import Foundation
import TensorCore
import Testing

/// Checkpoints whose bytes fit their shapes but whose shapes, counters or names make no sense
/// must be refused with a `WeightError` naming the key and the shape, never trap (issue 12).
@Suite struct HostileCheckpointTests {
    static let models = fixtures.appendingPathComponent("models")

    /// The raw tensors and metadata of a fixture model.
    static func raw(_ file: String) throws -> (tensors: [String: RawTensor], metadata: [String: String]) {
        let a = try CheckpointReader.read(path: models.appendingPathComponent(file).path)
        return (a.tensors, a.metadata)
    }

    /// Writes `tensors` as a safetensors file in a fresh temporary directory and returns its path.
    static func write(_ tensors: [String: RawTensor], metadata: [String: String] = [:], name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        try SafetensorsWriter.write(tensors.sorted { $0.key < $1.key }.map { (name: $0.key, tensor: $0.value) },
                                    metadata: metadata, to: path)
        return path
    }

    /// The error `body` throws, as text; records an issue when it throws nothing.
    static func message(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> String {
        do {
            try body()
            Issue.record("accepted a hostile checkpoint", sourceLocation: sourceLocation)
            return ""
        } catch {
            return "\(error)"
        }
    }

    static func zeros(_ shape: [Int]) -> RawTensor {
        RawTensor(floats: [Float](repeating: 0, count: shape.reduce(1, *)), shape: shape)
    }

    /// Shapes whose byte counts are consistent but which `CLIPConfig.infer` used to trap on
    /// (NaN to Int, division by zero, index out of range).
    static let absurdShapes: [(file: String, key: String, shape: [Int], expected: String)] = [
        ("vit_quickgelu.safetensors", "visual.positional_embedding", [0, 64], "'visual.positional_embedding' has shape [0, 64]"),
        ("vit_quickgelu.safetensors", "visual.positional_embedding", [1, 64], "'visual.positional_embedding' has 1 rows; expected grid² + 1"),
        ("vit_quickgelu.safetensors", "visual.conv1.weight", [64, 3, 0, 0], "'visual.conv1.weight' has shape [64, 3, 0, 0]"),
        ("vit_quickgelu.safetensors", "text_projection", [64], "'text_projection' has shape [64]"),
        ("vit_quickgelu.safetensors", "ln_final.weight", [], "'ln_final.weight' has shape []"),
        ("vit_quickgelu.safetensors", "positional_embedding", [], "'positional_embedding' has shape []"),
        ("vit_quickgelu.safetensors", "token_embedding.weight", [], "'token_embedding.weight' has shape []"),
        ("resnet.safetensors", "visual.attnpool.positional_embedding", [0, 128], "'visual.attnpool.positional_embedding' has shape [0, 128]"),
        ("resnet.safetensors", "visual.attnpool.positional_embedding", [6, 128], "'visual.attnpool.positional_embedding' has 6 rows"),
        ("resnet.safetensors", "visual.layer1.0.conv1.weight", [], "'visual.layer1.0.conv1.weight' has shape []"),
    ]

    @Test(arguments: absurdShapes.indices)
    func absurdShapesAreNamedNotTrapped(_ i: Int) throws {
        let c = Self.absurdShapes[i]
        var (tensors, _) = try Self.raw(c.file)
        tensors[c.key] = Self.zeros(c.shape)
        // In memory, straight to the inference of the configuration.
        var sd: [String: Tensor] = [:]
        for (k, v) in tensors { sd[k] = try CLIPModel.tensor(from: v) }
        let inferred = Self.message { _ = try CLIPConfig.infer(from: StateDict(sd)) }
        #expect(inferred.contains(c.expected), "\(inferred)")
        // From a file: refused (empty tensors already by the loader), naming the key.
        let path = try Self.write(tensors, name: "absurd.safetensors")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let loaded = Self.message { _ = try CLIPModel.load(path: path) }
        #expect(loaded.contains("'\(c.key)' has"), "\(loaded)")
    }

    /// A configuration that would trap while encoding is refused before any weight is taken,
    /// whoever made it (config.json, a file's shapes, a caller).
    static let invalidConfigs: [(vision: CLIPConfig.Vision, textHeads: Int, expected: String)] = [
        (.vit(patch: 8, width: 64, layers: 1, heads: 3, resolution: 32), 2, "vision heads 3 do not divide the vision width 64"),
        (.vit(patch: 8, width: 64, layers: 1, heads: 0, resolution: 32), 2, "vision heads is 0"),
        (.vit(patch: 8, width: 64, layers: 1, heads: 2, resolution: -32), 2, "image size is -32"),
        (.vit(patch: 0, width: 64, layers: 1, heads: 2, resolution: 32), 2, "patch size is 0"),
        (.vit(patch: 8, width: 64, layers: -1, heads: 2, resolution: 32), 2, "vision layers is -1"),
        (.vit(patch: 8, width: 64, layers: 1_000_000_000, heads: 2, resolution: 32), 2, "vision layers is 1000000000"),
        (.vit(patch: 8, width: 1 << 40, layers: 1, heads: 2, resolution: 32), 2, "vision width is 1099511627776"),
        (.vit(patch: 8, width: 64, layers: 1, heads: 2, resolution: 32), 0, "text heads is 0"),
        (.resnet(layers: [1, 0, 1, 1], width: 4, heads: 2, resolution: 32), 2, "blocks in ResNet stage 2 is 0"),
        (.resnet(layers: [1, 1, 1], width: 4, heads: 2, resolution: 32), 2, "a ModifiedResNet has 4 stages, not 3"),
        (.resnet(layers: [1, 1, 1, 1], width: 4, heads: 2, resolution: 48), 2, "image size 48 is not a multiple of 32"),
    ]

    @Test(arguments: invalidConfigs.indices)
    func invalidConfigurationsAreRefusedBeforeBuilding(_ i: Int) throws {
        let c = Self.invalidConfigs[i]
        let config = CLIPConfig(embedDim: 32, vision: c.vision, contextLength: 16, textWidth: 64, textHeads: c.textHeads, textLayers: 1)
        let error = Self.message { _ = try CLIPModel(config: config, weights: RandomWeights(config: config, seed: 1)) }
        #expect(error.contains("invalid configuration: " + c.expected), "\(error)")
    }

    /// `convert` used to trap converting a NaN or huge BatchNorm counter to int64.
    @Test(arguments: [Float.nan, 1e19, -1, 2.5])
    func badBatchNormCountersAreErrors(_ value: Float) throws {
        let key = "visual.bn1.num_batches_tracked"
        var (tensors, _) = try Self.raw("resnet.safetensors")
        tensors[key] = RawTensor(floats: [value], shape: [])
        let path = try Self.write(tensors, name: "counter.safetensors")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let loaded = Self.message { _ = try CLIPModel.load(path: path) }
        #expect(loaded.contains("'\(key)' holds \(value); a counter must be a whole number"), "\(loaded)")

        // A counter that went bad in memory (callers can write any tensor) fails the save, not the process.
        let model = try CLIPModel.load(path: Self.models.appendingPathComponent("resnet.safetensors").path)
        let counter = try #require(model.weights.first { $0.name == key })
        counter.tensor.data[0] = value
        let saved = Self.message { try model.save(to: path) }
        #expect(saved.contains("'\(key)' holds \(value)"), "\(saved)")
    }

    /// A file holding both `visual.proj` and `module.visual.proj` used to load with one of them
    /// chosen at random.
    @Test func duplicateNamesAfterStrippingModuleAreAnError() throws {
        var (tensors, _) = try Self.raw("vit_quickgelu.safetensors")
        tensors["module.visual.proj"] = tensors["visual.proj"]
        let path = try Self.write(tensors, name: "dup.safetensors")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let error = Self.message { _ = try CLIPModel.load(path: path) }
        #expect(error.contains("keys 'module.visual.proj' and 'visual.proj' both name the weight 'visual.proj'"), "\(error)")
    }

    /// The same for Hugging Face names, which are renamed too.
    static let huggingFaceDuplicates: [(extra: String, copyOf: String, expected: String)] = [
        ("ln_final.weight", "text_model.final_layer_norm.weight",
         "keys 'ln_final.weight' and 'text_model.final_layer_norm.weight' both name the weight 'ln_final.weight'"),
        ("visual.encoder.layers.0.self_attn.q_proj.bias", "vision_model.encoder.layers.0.self_attn.q_proj.bias",
         "keys 'vision_model.encoder.layers.0.self_attn.q_proj.bias' and 'visual.encoder.layers.0.self_attn.q_proj.bias' both name"),
    ]

    @Test(arguments: huggingFaceDuplicates.indices)
    func duplicateNamesAfterHuggingFaceRenamingAreAnError(_ i: Int) throws {
        let c = Self.huggingFaceDuplicates[i]
        var (tensors, _) = try Self.raw("hf_vit/model.safetensors")
        tensors[c.extra] = tensors[c.copyOf]
        let path = try Self.write(tensors, name: "model.safetensors")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let error = Self.message { _ = try CLIPModel.load(path: path) }
        #expect(error.contains(c.expected), "\(error)")
    }

    /// Hugging Face tensors are transposed and concatenated before any shape check: a projection
    /// that is not 2-D or a 0-d q/k/v piece used to trap there.
    static let misshapenHuggingFace: [(key: String, shape: [Int], expected: String)] = [
        ("visual_projection.weight", [], "'visual_projection.weight' has shape []"),
        ("text_projection.weight", [32], "'text_projection.weight' has shape [32]"),
        ("text_model.encoder.layers.0.self_attn.q_proj.weight", [], "self_attn.{q,k,v}_proj.weight: q [], k [], v []"),
    ]

    @Test(arguments: misshapenHuggingFace.indices)
    func misshapenHuggingFaceTensorsAreNamed(_ i: Int) throws {
        let c = Self.misshapenHuggingFace[i]
        var (tensors, _) = try Self.raw("hf_vit/model.safetensors")
        tensors[c.key] = Self.zeros(c.shape)
        if c.key.contains("q_proj") {  // k and v alike, so that only the rank is wrong
            for part in ["k", "v"] { tensors[c.key.replacingOccurrences(of: "q_proj", with: "\(part)_proj")] = Self.zeros(c.shape) }
        }
        let path = try Self.write(tensors, name: "model.safetensors")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let error = Self.message { _ = try CLIPModel.load(path: path) }
        #expect(error.contains(c.expected), "\(error)")
    }
}
