import Files
import Foundation
import TensorCore

/// Hugging Face `CLIPModel` support: its `config.json` and the key remap from its naming to
/// OpenAI's (q/k/v concatenated into in_proj, projections transposed, `pre_layrnorm` -> ln_pre).
enum HuggingFace {
    /// Whether a set of keys uses HF CLIPModel naming.
    static func isHFNaming<S: Sequence>(_ keys: S) -> Bool where S.Element == String {
        keys.contains { $0.hasPrefix("vision_model.") || $0.hasPrefix("text_model.") }
    }

    /// Reads the model hyperparameters from an HF CLIP `config.json`.
    static func config(at path: String) throws -> CLIPConfig {
        let root = try readJSONObject(path)
        let vision = root["vision_config"] as? [String: Any] ?? [:]
        let text = root["text_config"] as? [String: Any] ?? [:]
        func int(_ d: [String: Any], _ key: String, _ fallback: Int) throws -> Int {
            guard let v = d[key] else { return fallback }
            guard let n = v as? Int else { throw WeightError("\(path): '\(key)' is not an integer") }
            return n
        }
        func activation(_ d: [String: Any]) throws -> Activation {
            let name = d["hidden_act"] as? String ?? "quick_gelu"
            switch name {
            case "quick_gelu": return .quickGELU
            case "gelu": return .gelu
            default: throw WeightError("\(path): unsupported hidden_act '\(name)' (quick_gelu or gelu)")
            }
        }
        let vAct = try activation(vision), tAct = try activation(text)
        guard vAct == tAct else { throw WeightError("\(path): vision and text towers use different activations") }
        let vWidth = try int(vision, "hidden_size", 768), tWidth = try int(text, "hidden_size", 512)
        let config = CLIPConfig(
            embedDim: try int(root, "projection_dim", 512),
            vision: .vit(patch: try int(vision, "patch_size", 32), width: vWidth,
                         layers: try int(vision, "num_hidden_layers", 12),
                         heads: try int(vision, "num_attention_heads", 12),
                         resolution: try int(vision, "image_size", 224)),
            contextLength: try int(text, "max_position_embeddings", 77),
            vocabSize: try int(text, "vocab_size", 49408),
            textWidth: tWidth, textHeads: try int(text, "num_attention_heads", 8),
            textLayers: try int(text, "num_hidden_layers", 12), activation: vAct)
        // Checked here, not only when the model is built, so the message names config.json.
        do { try config.validate() } catch let e as WeightError { throw WeightError("\(path): \(e.description)", kind: e.errorKind) }
        for (d, w, tower) in [(vision, vWidth, "vision"), (text, tWidth, "text")] {
            let inter = try int(d, "intermediate_size", 4 * w)
            guard inter == 4 * w else {
                throw WeightError("\(path): \(tower) intermediate_size \(inter) is not 4 x hidden_size \(w); only CLIP's MLP ratio 4 is supported")
            }
        }
        return config
    }

    /// HF name pieces and their OpenAI names, applied in this order to a key whose tower prefix
    /// (`vision_model.` -> `visual.`, `text_model.` -> none) has been replaced; `hfName` applies
    /// them backwards.
    static let renames: [(hf: String, openAI: String)] = [
        ("visual.embeddings.patch_embedding.weight", "visual.conv1.weight"),
        ("visual.embeddings.class_embedding", "visual.class_embedding"),
        ("visual.embeddings.position_embedding.weight", "visual.positional_embedding"),
        ("visual.pre_layrnorm.", "visual.ln_pre."),
        ("visual.post_layernorm.", "visual.ln_post."),
        ("visual.encoder.layers.", "visual.transformer.resblocks."),
        ("embeddings.token_embedding.weight", "token_embedding.weight"),
        ("embeddings.position_embedding.weight", "positional_embedding"),
        ("final_layer_norm.", "ln_final."),
        ("encoder.layers.", "transformer.resblocks."),
        (".layer_norm1.", ".ln_1."), (".layer_norm2.", ".ln_2."),
        (".mlp.fc1.", ".mlp.c_fc."), (".mlp.fc2.", ".mlp.c_proj."),
        (".self_attn.out_proj.", ".attn.out_proj."),
    ]

    /// HF projection weights ([E, width], `nn.Linear`) and their OpenAI names ([width, E]).
    static let projections = ["visual_projection.weight": "visual.proj", "text_projection.weight": "text_projection"]

    /// Renames HF tensors to OpenAI names, merging and transposing where the layouts differ.
    /// Two keys that end up with the same name (say `text_model.ln_final.weight` beside
    /// `ln_final.weight`) are an error naming both, never a silent choice of one.
    static func remap(_ hf: [String: Tensor]) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        var origin: [String: String] = [:]  // OpenAI name -> the HF key it came from
        func put(_ name: String, _ t: Tensor, from key: String) throws {
            if let other = origin.updateValue(key, forKey: name) { throw WeightError.duplicate(other, key, name: name) }
            out[name] = t
        }
        var pending: [String: [String: (tensor: Tensor, key: String)]] = [:]  // in_proj pieces by block prefix
        for (key, t) in hf {
            if key.hasSuffix("position_ids") { continue }
            var k = key
            for (from, to) in [("vision_model.", "visual."), ("text_model.", "")] where k.hasPrefix(from) {
                k = to + k.dropFirst(from.count)
            }
            for (from, to) in renames { k = k.replacingOccurrences(of: from, with: to) }
            if let name = projections[k] {
                guard t.rank == 2 else { throw WeightError("'\(key)' has shape \(t.shape); expected [embedding dimension, width]") }
                try put(name, t.transposedLastTwo(), from: key)
                continue
            }
            if let r = k.range(of: ".self_attn.") {
                let block = String(k[..<r.lowerBound]), part = String(k[r.upperBound...])  // e.g. q_proj.weight
                guard ["q", "k", "v"].contains(where: { part == "\($0)_proj.weight" || part == "\($0)_proj.bias" }) else {
                    throw WeightError("unexpected key '\(key)' \(t.shape)")
                }
                if let other = pending[block, default: [:]].updateValue((t, key), forKey: part) {
                    throw WeightError.duplicate(other.key, key, name: "\(block).self_attn.\(part)")
                }
                continue
            }
            try put(k, t, from: key)
        }
        for (block, parts) in pending {
            for kind in ["weight", "bias"] {
                let pieces = ["q", "k", "v"].map { parts["\($0)_proj.\(kind)"]?.tensor }
                guard let q = pieces[0], let k = pieces[1], let v = pieces[2] else {
                    throw WeightError("missing key: \(block).self_attn.{q,k,v}_proj.\(kind) must all be present")
                }
                guard q.shape == k.shape, k.shape == v.shape, q.rank == (kind == "weight" ? 2 : 1) else {
                    throw WeightError("shape mismatch in \(block).self_attn.{q,k,v}_proj.\(kind): q \(q.shape), k \(k.shape), v \(v.shape); "
                                      + "expected three equal \(kind == "weight" ? "[width, width]" : "[width]") shapes")
                }
                var shape = q.shape
                shape[0] *= 3
                let merged = Tensor(zeros: shape)
                for (i, p) in [q, k, v].enumerated() { (merged.data + i * p.count).update(from: p.data, count: p.count) }
                try put("\(block).attn.in_proj_\(kind)", merged, from: "\(block).self_attn.{q,k,v}_proj.\(kind)")
            }
        }
        return out
    }
}

/// A model directory's JSON config (HF `config.json`, `open_clip_config.json`) as an object.
/// Unreadable or malformed, it is a malformed model directory (FORMAT_ERROR at the C boundary),
/// whatever the file error's kind.
func readJSONObject(_ path: String) throws -> [String: Any] {
    let data: Data
    do { data = Data(try RegularFile.read(path)) } catch let e as FileError { throw WeightError("cannot read \(e)") }
    guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
        throw WeightError("\(path) is not a JSON object")
    }
    return root
}
