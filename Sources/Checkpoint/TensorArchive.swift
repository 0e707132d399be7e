/// Which container a checkpoint came from.
public enum CheckpointFormat: String, Sendable {
    /// Hugging Face safetensors.
    case safetensors
    /// `torch.save` zip archive (PyTorch >= 1.6 default): `.pt`, `.pth`, `.bin`.
    case torchZip
    /// `torch.save(..., _use_new_zipfile_serialization=False)` legacy stream (pickles + raw storages).
    case torchLegacy
    /// `torch.jit.save` archive (OpenAI's original CLIP downloads).
    case torchScript
}

/// Named raw tensors read from one checkpoint file.
public struct TensorArchive: Sendable {
    /// Tensors by name (for torch files: the state-dict keys, "module." stripped; for TorchScript:
    /// dotted attribute paths such as `visual.conv1.weight`).
    public var tensors: [String: RawTensor]
    /// Names in file order (safetensors: data-offset order; torch: pickle order).
    public var order: [String]
    /// safetensors `__metadata__`; for torch files the top-level scalars of the saved dict
    /// (e.g. CleanCLIP's "epoch", "name"); for TorchScript the top-level integer attributes
    /// (e.g. "input_resolution", "context_length", "vocab_size") when present.
    public var metadata: [String: String]
    /// The container format.
    public var format: CheckpointFormat

    public init(tensors: [String: RawTensor], order: [String], metadata: [String: String], format: CheckpointFormat) {
        self.tensors = tensors
        self.order = order
        self.metadata = metadata
        self.format = format
    }
}
