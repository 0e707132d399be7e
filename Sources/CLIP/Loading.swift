import Checkpoint
import ErrorKinds
import Foundation
import TensorCore

/// How to load a checkpoint.
public struct CLIPLoadOptions: Sendable {
    /// Overrides the activation. By default: from `config.json` for HF directories, else QuickGELU
    /// (OpenAI / CleanCLIP weights); laion2b / DataComp open_clip weights need `.gelu`.
    public var activation: Activation?

    public init(activation: Activation? = nil) { self.activation = activation }
}

extension CLIPModel {
    /// Loads a CLIP checkpoint in any supported format:
    /// - a safetensors file or PyTorch file (`torch.save` zip, TorchScript) with OpenAI / open_clip /
    ///   CleanCLIP names (a "module." prefix is stripped) or HF CLIPModel names;
    /// - an HF CLIPModel directory (`config.json` + `model.safetensors` or `pytorch_model.bin`);
    /// - an open_clip model directory (`open_clip_config.json` + `open_clip_model.safetensors` or
    ///   `open_clip_pytorch_model.bin`), whose config says whether the model uses QuickGELU.
    /// A file that does not say which activation it uses (only files written by `save(to:)` do) is
    /// loaded with QuickGELU, OpenAI's, and `activationAssumed` is set so a front end can say so.
    /// Every key and shape is verified; errors name the key and both shapes.
    public static func load(path: String, options: CLIPLoadOptions = CLIPLoadOptions()) throws -> CLIPModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw WeightError("no such file or directory: \(path)", kind: .notFound)
        }
        if isDirectory.boolValue, let openCLIP = try OpenCLIPDirectory(path: path) {
            var options = options
            options.activation = options.activation ?? openCLIP.activation
            return try load(path: openCLIP.weights, options: options)
        }
        if isDirectory.boolValue {
            let dir = URL(fileURLWithPath: path)
            var config = try HuggingFace.config(at: dir.appendingPathComponent("config.json").path)
            if let a = options.activation { config.activation = a }
            let candidates = ["model.safetensors", "pytorch_model.bin"].map { dir.appendingPathComponent($0).path }
            guard let file = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw WeightError("\(path): no model.safetensors or pytorch_model.bin in the directory")
            }
            return try wrap(file) {
                try CLIPModel(config: config, weights: StateDict(try HuggingFace.remap(try readTensors(file).tensors)))
            }
        }
        var loadedMetadata: [String: String] = [:]
        var activationAssumed = false
        let model = try wrap(path) {
            var (tensors, metadata) = try readTensors(path)
            loadedMetadata = metadata
            if HuggingFace.isHFNaming(tensors.keys) { tensors = try HuggingFace.remap(tensors) }
            let sd = StateDict(tensors)
            // Files written by `save(to:)` record their activation; others default to OpenAI's.
            let saved = metadata["cleanclip.activation"].flatMap(Activation.init(rawValue:))
            activationAssumed = options.activation == nil && saved == nil
            var config = try CLIPConfig.infer(from: sd, activation: options.activation ?? saved ?? .quickGELU)
            try config.applySavedHeads(vision: metadata["cleanclip.vision_heads"], text: metadata["cleanclip.text_heads"])
            return try CLIPModel(config: config, weights: sd)
        }
        model.loadedMetadata = loadedMetadata
        model.activationAssumed = activationAssumed
        return model
    }

    /// Prefixes weight errors with the file they came from, and refuses non-finite weights,
    /// which would make every embedding NaN.
    private static func wrap(_ path: String, _ body: () throws -> CLIPModel) throws -> CLIPModel {
        do {
            let model = try body()
            for w in model.weights where w.kind != .counter {  // counters are integers, unused by the towers
                if let i = w.tensor.firstNonFiniteIndex() {
                    throw WeightError("weight '\(w.name)' \(w.tensor.shape) holds \(w.tensor.data[i]) at index \(i); "
                        + "a checkpoint with non-finite weights cannot be used", kind: .nonFiniteWeight)
                }
            }
            return model
        } catch let e as WeightError { throw WeightError("\(path): \(e.description)", kind: e.errorKind) }
    }

    /// Reads every tensor of a checkpoint file as Float32 (F32 data stays where the file was read to),
    /// with a leading "module." (DataParallel) stripped from each name.
    static func readTensors(_ path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let archive = try CheckpointReader.read(path: path)
        var out: [String: Tensor] = [:]
        var origin: [String: String] = [:]
        for (rawName, raw) in archive.tensors {
            let name = rawName.hasPrefix("module.") ? String(rawName.dropFirst(7)) : rawName
            if let other = origin.updateValue(rawName, forKey: name) { throw WeightError.duplicate(other, rawName, name: name) }
            // No CLIP weight is empty. Refusing empty tensors here also keeps the dimensions of
            // every tensor bounded by the file's size, so shape arithmetic cannot overflow.
            guard raw.count > 0 else {
                throw WeightError("'\(rawName)' has shape \(raw.shape) with no elements; no CLIP weight is empty")
            }
            out[name] = try tensor(from: raw)
        }
        return (out, archive.metadata)
    }

    /// A Float32 tensor over `raw`: zero-copy for aligned F32 data, otherwise widened.
    package static func tensor(from raw: RawTensor) throws -> Tensor {
        if let p = raw.float32Pointer() {
            let storage = TensorStorage(borrowing: UnsafeMutablePointer(mutating: p), count: raw.count, owner: raw.owner)
            return Tensor(shape: raw.shape, storage: storage)
        }
        let t = Tensor(zeros: raw.shape)
        try raw.copyFloats(into: t.data)
        return t
    }
}
