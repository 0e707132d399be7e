import CleanCLIP
import Foundation
import Testing

/// Models exported in every format come back from our own readers bit for bit; float16 exports
/// hold the float32 weights rounded to nearest even (checked against Swift's `Float16`).
@Suite struct ExportTests {
    static let models = fixtures.appendingPathComponent("models")

    func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("export-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-\(name)").path
    }

    /// Every weight of `b` equals `a`'s bit for bit, after `transform`.
    func expectSameWeights(_ a: CLIPModel, _ b: CLIPModel, _ what: String, transform: (Float) -> Float = { $0 }) {
        #expect(a.weights.map(\.name) == b.weights.map(\.name), "\(what): names or order differ")
        let other = Dictionary(uniqueKeysWithValues: b.weights.map { ($0.name, $0.tensor) })
        for w in a.weights {
            guard let t = other[w.name], t.shape == w.tensor.shape else {
                Issue.record("\(what): \(w.name) missing or misshapen")
                continue
            }
            let expected = w.kind == .counter ? w.tensor.array : w.tensor.array.map(transform)
            if let i = (0..<t.count).first(where: { t.data[$0].bitPattern != expected[$0].bitPattern }) {
                Issue.record("\(what): \(w.name)[\(i)] is \(t.data[i]), expected \(expected[i])")
            }
        }
    }

    static let cases: [(file: String, format: ModelFormat)] = [
        ("vit_quickgelu.safetensors", .safetensors), ("vit_quickgelu.safetensors", .cleanclipPT), ("vit_quickgelu.safetensors", .hf),
        ("vit_gelu.safetensors", .hf), ("resnet.safetensors", .safetensors), ("resnet.safetensors", .cleanclipPT),
    ]

    @Test(arguments: cases.indices)
    func roundTripsBitExactly(index: Int) throws {
        let (file, format) = Self.cases[index]
        let gelu = file.hasPrefix("vit_gelu")
        let model = try CLIPModel.load(path: Self.models.appendingPathComponent(file).path,
                                       options: CLIPLoadOptions(activation: gelu ? .gelu : nil))
        for dtype in [DType.f32, .f16] {
            let out = temporary("\(file).\(format.rawValue).\(dtype.rawValue)")
            defer { try? FileManager.default.removeItem(atPath: out) }
            try model.export(to: out, format: format, dtype: dtype)
            // The .pt file does not record the activation (CleanCLIP's does not either).
            let back = try CLIPModel.load(path: out, options: CLIPLoadOptions(activation: format == .cleanclipPT && gelu ? .gelu : nil))
            #expect(back.config == model.config, "\(format) \(dtype)")
            #expect(!back.activationAssumed || format == .cleanclipPT)
            if dtype == .f32 {
                expectSameWeights(model, back, "\(file) \(format)")
            } else {
                expectSameWeights(model, back, "\(file) \(format) f16") { Float(Float16($0)) }
                let file = format == .hf ? out + "/model.safetensors" : out
                let raw = try CheckpointReader.read(path: file)
                #expect(raw.tensors.values.allSatisfy { $0.dtype == .f16 || $0.dtype == .i64 }, "\(format): not stored as F16")
            }
        }
    }

    @Test func cleanCLIPCheckpointHasCleanCLIPsLayout() throws {
        let source = Self.models.appendingPathComponent("vit_quickgelu.cleanclip.pt").path
        let model = try CLIPModel.load(path: source)
        let state = try TorchOptimizerState.read(path: source, model: model)
        let out = temporary("clean.pt")
        defer { unlink(out) }
        try model.export(to: out, format: .cleanclipPT, optimizer: FinetuneOptimizerState(state: state, epochsDone: 3))

        let original = try CheckpointReader.readTorchPickle(path: source)
        let root = try CheckpointReader.readTorchPickle(path: out)
        #expect(root["epoch"]?.intValue == 3)
        #expect(root["name"]?.stringValue == "cleanclip")
        // The keys of CleanCLIP's own checkpoint, "module." included, in the order of OpenAI's
        // clip/model.py (CleanCLIP's model; this fixture was saved from open_clip, whose blocks put ln_1 first).
        let keys = root["state_dict"]?.dictPairs?.map { $0.key.stringValue ?? "" } ?? []
        #expect(Set(keys) == Set(original["state_dict"]?.dictPairs?.map { $0.key.stringValue ?? "" } ?? []))
        #expect(Array(keys.prefix(11)) == ["positional_embedding", "text_projection", "logit_scale", "visual.class_embedding",
            "visual.positional_embedding", "visual.proj", "visual.conv1.weight", "visual.ln_pre.weight", "visual.ln_pre.bias",
            "visual.transformer.resblocks.0.attn.in_proj_weight", "visual.transformer.resblocks.0.attn.in_proj_bias"].map { "module." + $0 })
        #expect(keys.firstIndex(of: "module.visual.transformer.resblocks.0.attn.out_proj.bias")! + 1
                == keys.firstIndex(of: "module.visual.transformer.resblocks.0.ln_1.weight")!)
        #expect(keys.suffix(2) == ["module.ln_final.weight", "module.ln_final.bias"])
        let groups = root["optimizer"]?["param_groups"]?.items ?? []
        #expect(groups.count == 2)
        #expect(groups.map { $0["params"]?.items?.count ?? 0 } == original["optimizer"]?["param_groups"]?.items?.map { $0["params"]?.items?.count ?? 0 })
        // The AdamW state reads back as it was written, parameter by parameter (the order differs:
        // the fixture was saved in open_clip's order).
        let again = Dictionary(uniqueKeysWithValues: try TorchOptimizerState.read(path: out, model: model))
        #expect(Set(again.keys) == Set(state.map(\.0)))
        for (name, a) in state {
            #expect(again[name]?.shape == a.shape && again[name]?.array.map(\.bitPattern) == a.array.map(\.bitPattern), "\(name)")
        }

        // Without an optimizer state: an empty one with CleanCLIP's groups, which reads as zero moments at step 0.
        try model.export(to: out, format: .cleanclipPT)
        let empty = try CheckpointReader.readTorchPickle(path: out)
        #expect(empty["optimizer"]?["state"]?.dictPairs?.isEmpty == true)
        #expect(empty["epoch"]?.intValue == 0)
        let zero = try TorchOptimizerState.read(path: out, model: model)
        #expect(zero.first?.1.array == [0])
        #expect(zero.dropFirst().allSatisfy { $0.1.array.allSatisfy { $0 == 0 } })
    }

    @Test func resnetHasNoHuggingFaceForm() throws {
        let model = try CLIPModel.load(path: Self.models.appendingPathComponent("resnet.safetensors").path)
        let out = temporary("rn-hf")
        do {
            try model.export(to: out, format: .hf)
            Issue.record("a ResNet model was written as an HF CLIPModel")
        } catch let e as WeightError {
            #expect(e.errorKind == .invalidArgument)
            #expect(e.description.contains("no ResNet"))
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func huggingFaceDirectoryReplacesOnlyAnEarlierExport() throws {
        let model = try CLIPModel.load(path: Self.models.appendingPathComponent("vit_quickgelu.safetensors").path)
        let dir = temporary("hf")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        #expect(ModelFormat.inferred(fromOutput: dir) == .hf)
        try model.export(to: dir)  // an empty directory
        try model.export(to: dir)  // an earlier export
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as? [String: Any]
        #expect((config?["text_config"] as? [String: Any])?["hidden_act"] as? String == "quick_gelu")
        #expect(FileManager.default.createFile(atPath: dir + "/notes.txt", contents: Data("mine".utf8)))
        #expect(throws: FileError.self) { try model.export(to: dir) }
        #expect(FileManager.default.fileExists(atPath: dir + "/notes.txt"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (dir as NSString).deletingLastPathComponent)
            .filter { $0.hasPrefix("." + (dir as NSString).lastPathComponent) }
        #expect(leftovers.isEmpty, "temporary directories left behind: \(leftovers)")
    }

    @Test func formatIsInferredFromTheOutput() {
        #expect(ModelFormat.inferred(fromOutput: "out/model.pt") == .cleanclipPT)
        #expect(ModelFormat.inferred(fromOutput: "model.PTH") == .cleanclipPT)
        #expect(ModelFormat.inferred(fromOutput: "out/clip-hf") == .hf)
        #expect(ModelFormat.inferred(fromOutput: "model.safetensors") == .safetensors)
        #expect(ModelFormat.inferred(fromOutput: "model.bin") == .safetensors)
        #expect(ModelFormat.inferred(fromOutput: ".hidden") == .hf)
    }

    @Test func halfRangeOverflowIsAnError() throws {
        let model = try CLIPModel.load(path: Self.models.appendingPathComponent("vit_quickgelu.safetensors").path)
        let copy = model.duplicate()
        copy.weights[0].tensor.data[0] = 70000
        #expect(throws: WeightError.self) { try copy.export(to: temporary("big.safetensors"), dtype: .f16) }
    }
}
