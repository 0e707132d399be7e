import Checkpoint
import Foundation
import TensorCore

extension CLIPModel {
    /// The state dict as raw tensors in OpenAI / open_clip naming: Float32, with BatchNorm
    /// counters as int64 (as PyTorch stores them). Loadable by open_clip's
    /// `load_state_dict` after `safetensors.torch.load_file`. A non-finite weight is an error
    /// naming it (loading refuses such files; a BatchNorm's running variance can overflow when a
    /// training-mode forward pass sees huge activations).
    public func rawStateDict() throws -> [(name: String, tensor: RawTensor)] {
        try weights.map { w in
            switch w.kind {
            case .counter:
                // Counters are checked on load, but training increments them and callers may write them.
                let values = try w.tensor.array.map { try WeightKind.count($0, of: w.name) }
                let bytes = values.withUnsafeBytes { Array($0) }
                return (w.name, try RawTensor(dtype: .i64, shape: w.tensor.shape, bytes: bytes))
            case .parameter, .buffer:
                if let i = w.tensor.firstNonFiniteIndex() {
                    throw WeightError("cannot save weight '\(w.name)' \(w.tensor.shape): it holds \(w.tensor.data[i]) at index \(i), "
                        + "and a checkpoint with non-finite weights cannot be loaded", kind: .nonFiniteWeight)
                }
                return (w.name, RawTensor(floats: w.tensor.array, shape: w.tensor.shape))
            }
        }
    }

    /// Writes the model as a safetensors file in OpenAI naming, atomically.
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        var meta = metadata
        meta["format"] = meta["format"] ?? "pt"
        meta["cleanclip.architecture"] = config.architecture
        meta["cleanclip.activation"] = config.activation.rawValue
        // Head counts cannot be read from tensor shapes; record them for models whose heads are
        // not OpenAI's width / 64.
        meta["cleanclip.vision_heads"] = String(config.visionHeads)
        meta["cleanclip.text_heads"] = String(config.textHeads)
        try SafetensorsWriter.write(try rawStateDict(), metadata: meta, to: path)
    }
}
