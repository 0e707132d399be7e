import Foundation

/// The file formats a model is saved in.
public enum ModelFormat: String, CaseIterable, Sendable {
    /// One `.safetensors` file in OpenAI / open_clip naming (what `CLIPModel.save(to:)` writes).
    case safetensors
    /// CleanCLIP's own checkpoint: a `torch.save` zip of `{"epoch", "name", "state_dict",
    /// "optimizer"}` (`CleanCLIPCheckpoint`).
    case cleanclipPT = "cleanclip-pt"
    /// A Hugging Face `CLIPModel` directory: `config.json` + `model.safetensors` (ViT only).
    case hf

    /// The format an output path asks for: `.pt` / `.pth` -> cleanclip-pt; an existing directory
    /// or a name without an extension -> hf; anything else -> safetensors.
    public static func inferred(fromOutput path: String) -> ModelFormat {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { return .hf }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let ext = name.dropFirst().contains(".") ? String(name[name.index(after: name.lastIndex(of: ".")!)...]).lowercased() : ""
        switch ext {
        case "pt", "pth": return .cleanclipPT
        case "": return .hf
        default: return .safetensors
        }
    }
}

extension CLIPModel {
    /// Writes the model in `format` (nil: inferred from `path`, `ModelFormat.inferred`), floats as
    /// `dtype` (`.f32` or `.f16`, rounded to nearest even), atomically. `optimizer` goes into a
    /// cleanclip-pt file (absent: an empty AdamW state that CleanCLIP's resume accepts) and is an
    /// error for the other formats; `metadata` goes into a safetensors file's header.
    public func export(to path: String, format: ModelFormat? = nil, dtype: DType = .f32,
                       metadata: [String: String] = [:], optimizer: FinetuneOptimizerState? = nil) throws {
        let format = format ?? ModelFormat.inferred(fromOutput: path)
        if optimizer != nil && format != .cleanclipPT {
            throw WeightError("an optimizer state can only be written into a cleanclip-pt file, not \(format.rawValue)", kind: .invalidArgument)
        }
        switch format {
        case .safetensors: try save(to: path, metadata: metadata, dtype: dtype)
        case .hf: try saveHuggingFace(to: path, dtype: dtype)
        case .cleanclipPT: try CleanCLIPCheckpoint.write(self, optimizer: optimizer, dtype: dtype, to: path)
        }
    }
}
