import Checkpoint
import Foundation
import TensorCore

extension CLIPModel {
    /// The state dict as raw tensors in OpenAI / open_clip naming, in `weights` order: floats as
    /// `dtype` (`.f32`, or `.f16` rounded to nearest even), BatchNorm counters as int64 (as
    /// PyTorch stores them). Loadable by open_clip's `load_state_dict` after
    /// `safetensors.torch.load_file`. A non-finite weight is an error naming it (loading refuses
    /// such files; a BatchNorm's running variance can overflow when a training-mode forward pass
    /// sees huge activations), and so is one beyond the half range when `dtype` is `.f16`.
    public func rawStateDict(dtype: DType = .f32) throws -> [(name: String, tensor: RawTensor)] {
        try weights.map { w in (w.name, try Self.rawTensor(w.tensor, name: w.name, kind: w.kind, dtype: dtype)) }
    }

    /// One weight as it is saved (see `rawStateDict(dtype:)`).
    static func rawTensor(_ t: Tensor, name: String, kind: WeightKind, dtype: DType) throws -> RawTensor {
        guard dtype == .f32 || dtype == .f16 else { throw WeightError("cannot save weights as \(dtype.rawValue); use F32 or F16") }
        switch kind {
        case .counter:
            // Counters are checked on load, but training increments them and callers may write them.
            let values = try t.array.map { try WeightKind.count($0, of: name) }
            let bytes = values.withUnsafeBytes { Array($0) }
            return try RawTensor(dtype: .i64, shape: t.shape, bytes: bytes)
        case .parameter, .buffer:
            if let i = t.firstNonFiniteIndex() {
                throw WeightError("cannot save weight '\(name)' \(t.shape): it holds \(t.data[i]) at index \(i), "
                    + "and a checkpoint with non-finite weights cannot be loaded", kind: .nonFiniteWeight)
            }
            let values = t.array
            guard dtype == .f16 else { return RawTensor(floats: values, shape: t.shape) }
            if let i = values.firstIndex(where: { abs($0) >= 65520 }) {  // rounds to infinity
                throw WeightError("cannot save weight '\(name)' \(t.shape) as float16: it holds \(values[i]) at index \(i), "
                    + "beyond the float16 range (65504)", kind: .nonFiniteWeight)
            }
            return RawTensor(halvesOf: values, shape: t.shape)
        }
    }

    /// Writes the model as a safetensors file in OpenAI naming, atomically, with floats as `dtype`
    /// (`.f32` or `.f16`).
    public func save(to path: String, metadata: [String: String] = [:], dtype: DType = .f32) throws {
        var meta = metadata
        meta["format"] = meta["format"] ?? "pt"
        meta["cleanclip.architecture"] = config.architecture
        meta["cleanclip.activation"] = config.activation.rawValue
        // Head counts cannot be read from tensor shapes; record them for models whose heads are
        // not OpenAI's width / 64.
        meta["cleanclip.vision_heads"] = String(config.visionHeads)
        meta["cleanclip.text_heads"] = String(config.textHeads)
        try SafetensorsWriter.write(try rawStateDict(dtype: dtype), metadata: meta, to: path)
    }
}
