import Foundation
import TensorCore

/// An open_clip model directory, as `open_clip.push_to_hf_hub` writes it and `create_model(
/// "hf-hub:...")` reads it: `open_clip_config.json` (the model config under "model_cfg", whose
/// "quick_gelu" says the activation; open_clip's default is GELU) beside the weights in
/// `open_clip_model.safetensors` or `open_clip_pytorch_model.bin`, with open_clip's names.
struct OpenCLIPDirectory {
    /// The weights file.
    let weights: String
    /// QuickGELU when the config says `"quick_gelu": true`, else GELU.
    let activation: Activation

    /// nil when `path` holds no `open_clip_config.json`.
    init?(path: String) throws {
        let dir = URL(fileURLWithPath: path)
        let configPath = dir.appendingPathComponent("open_clip_config.json").path
        guard FileManager.default.fileExists(atPath: configPath) else { return nil }
        let model = try readJSONObject(configPath)["model_cfg"] as? [String: Any] ?? [:]
        switch model["quick_gelu"] {
        case nil: activation = .gelu
        case let flag as Bool: activation = flag ? .quickGELU : .gelu
        default: throw WeightError("\(configPath): model_cfg.quick_gelu is not true or false")
        }
        let candidates = ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"].map { dir.appendingPathComponent($0).path }
        guard let file = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw WeightError("\(path): no open_clip_model.safetensors or open_clip_pytorch_model.bin beside open_clip_config.json")
        }
        weights = file
    }
}
