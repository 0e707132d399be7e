import Checkpoint
import Files
import Foundation
import TensorCore

extension HuggingFace {
    /// The HF `CLIPModel` name of an OpenAI weight name: `renames` applied backwards, then the
    /// tower prefix. The projections, `logit_scale` and `in_proj_*` are handled by `hfStateDict`.
    static func hfName(_ openAI: String) -> String {
        var k = openAI
        for (hf, ours) in renames.reversed() { k = k.replacingOccurrences(of: ours, with: hf) }
        return k.hasPrefix("visual.") ? "vision_model." + k.dropFirst("visual.".count) : "text_model." + k
    }

    /// The inverse of `remap`: OpenAI-named weights (in state-dict order) -> HF names, with
    /// in_proj split into q/k/v and the projections transposed.
    static func hfStateDict(_ weights: [(name: String, tensor: Tensor)]) -> [(name: String, tensor: Tensor)] {
        var out: [(name: String, tensor: Tensor)] = []
        let projectionNames = Dictionary(uniqueKeysWithValues: projections.map { ($0.value, $0.key) })
        for (name, t) in weights {
            if name == "logit_scale" {
                out.append((name, t))
            } else if let hf = projectionNames[name] {
                out.append((hf, t.transposedLastTwo()))
            } else if let r = name.range(of: ".attn.in_proj_") {
                let block = hfName(String(name[..<r.lowerBound])), kind = String(name[r.upperBound...])  // weight | bias
                var shape = t.shape
                shape[0] /= 3
                let n = shape.reduce(1, *)
                for (i, part) in ["q", "k", "v"].enumerated() {
                    let piece = Tensor(zeros: shape)
                    piece.data.update(from: t.data + i * n, count: n)
                    out.append(("\(block).self_attn.\(part)_proj.\(kind)", piece))
                }
            } else {
                out.append((hfName(name), t))
            }
        }
        return out
    }

    /// An HF `config.json` (CLIPConfig) for a ViT model, floats stored as `dtype`.
    static func configJSON(_ model: CLIPModel, dtype: DType) throws -> Data {
        let c = model.config
        guard case .vit(let patch, let width, let layers, let heads, let resolution) = c.vision else {
            throw WeightError("\(c.architecture) is a ResNet model; Hugging Face CLIPModel has no ResNet vision tower "
                + "(save it as safetensors or cleanclip-pt)", kind: .invalidArgument)
        }
        let act = c.activation == .gelu ? "gelu" : "quick_gelu", dtypeName = dtype == .f16 ? "float16" : "float32"
        let text: [String: Any] = [
            "model_type": "clip_text_model", "hidden_size": c.textWidth, "intermediate_size": 4 * c.textWidth,
            "num_attention_heads": c.textHeads, "num_hidden_layers": c.textLayers, "max_position_embeddings": c.contextLength,
            "vocab_size": c.vocabSize, "hidden_act": act, "layer_norm_eps": 1e-5, "projection_dim": c.embedDim,
            // As OpenAI's own HF configs: eos_token_id 2 makes transformers pool at the largest token
            // id (the end-of-text token), as CLIP and `encodeTexts` do, whatever the vocabulary.
            "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1,
        ]
        let vision: [String: Any] = [
            "model_type": "clip_vision_model", "hidden_size": width, "intermediate_size": 4 * width,
            "num_attention_heads": heads, "num_hidden_layers": layers, "image_size": resolution, "patch_size": patch,
            "num_channels": 3, "hidden_act": act, "layer_norm_eps": 1e-5, "projection_dim": c.embedDim,
        ]
        let root: [String: Any] = [
            "architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": c.embedDim,
            // transformers < 5 reads "torch_dtype", 5 and later "dtype".
            "logit_scale_init_value": Double(model.logitScaleValue), "torch_dtype": dtypeName, "dtype": dtypeName,
            "text_config": text, "vision_config": vision,
        ]
        return try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
    }
}

extension CLIPModel {
    /// Writes the model as a Hugging Face `CLIPModel` directory (`config.json` +
    /// `model.safetensors`, floats as `dtype`) that `transformers.CLIPModel.from_pretrained`
    /// and `load(path:)` read. ViT models only. The directory is written beside `path` and renamed
    /// into place (`AtomicDirectory`): an existing directory is replaced only when it is empty or
    /// holds nothing but an earlier export's two files.
    public func saveHuggingFace(to path: String, dtype: DType = .f32) throws {
        let config = try HuggingFace.configJSON(self, dtype: dtype)
        let tensors = try HuggingFace.hfStateDict(weights.map { ($0.name, $0.tensor) }).map {
            (name: $0.name, tensor: try Self.rawTensor($0.tensor, name: $0.name, kind: .parameter, dtype: dtype))
        }
        try AtomicDirectory.write(to: path, replacing: ["config.json", "model.safetensors"]) { dir in
            try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: dir + "/model.safetensors")
            try AtomicFile.write([UInt8](config), to: dir + "/config.json")
        }
    }
}
