/// Entry point: reads any supported checkpoint file into named raw tensors.
///
/// The format is detected from the first bytes, not the file name:
/// - a u64 header length that fits the file, followed by `{` → safetensors
/// - `PK\x03\x04` → torch zip (`torch.save`) or TorchScript (`torch.jit.save`) archive
/// - `0x80` (pickle PROTO) → legacy `torch.save` stream
///
/// Thread safety: every reader is reentrant (no shared state); `RawTensor`, `TensorArchive` and
/// `PickleValue` are immutable values that may be shared across threads.
/// Nothing in a pickle is ever executed: see `PickleAllowList` for the only names it may use.
public enum CheckpointReader {
    /// Reads the tensors of a checkpoint.
    ///
    /// For torch files the state dict is found as follows:
    /// - a TorchScript module tree: tensor attributes collected into dotted names
    ///   (`visual.conv1.weight`, `logit_scale`, ...); top-level integer attributes and integer
    ///   scalar tensors go to `metadata` too (`input_resolution`, `context_length`, `vocab_size`);
    /// - a dict with a `"state_dict"` (CleanCLIP `{"epoch","name","state_dict","optimizer"}`,
    ///   open_clip) or `"model"` dict: that dict, with a leading `"module."` stripped from every
    ///   key that has one; the outer dict's scalar entries (epoch, name, ...) go to `metadata`;
    /// - otherwise a bare `{name: tensor}` dict (non-tensor entries are skipped; scalar ones are
    ///   reported in `metadata`).
    /// Use `readTorchPickle(path:)` to reach everything else (e.g. the optimizer state).
    public static func read(path: String) throws -> TensorArchive {
        let file = try MappedFile(path: path)
        switch container(of: file.bytes) {
        case .safetensors?:
            return try SafetensorsReader.parse(file)
        case .torch?:
            let loaded = try TorchArchiveReader.load(file)
            return try TorchStateDict.extract(loaded.value, format: loaded.format, path: path)
        case nil:
            if file.size < 9 {
                throw CheckpointError(path: path, "file is too short (\(file.size) bytes) to be a checkpoint")
            }
            throw CheckpointError(path: path, "unrecognised checkpoint format (not safetensors, a torch zip, or a torch pickle)")
        }
    }

    /// The two families of checkpoint files, told apart by their first bytes.
    public enum Container: Sendable {
        /// A safetensors file: a u64 header length, then a JSON header.
        case safetensors
        /// A `torch.save` / `torch.jit.save` file: a zip archive or a legacy pickle stream.
        case torch
    }

    /// The container the file at `path` starts like, or nil when it is not a regular, readable
    /// file or looks like neither. The one format detector: every reader of checkpoints uses it.
    public static func container(path: String) -> Container? {
        guard let file = try? MappedFile(path: path) else { return nil }
        return container(of: file.bytes)
    }

    static func container(of b: UnsafeRawBufferPointer) -> Container? {
        let length = b.count >= 9 ? b.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian : nil
        let fits = length.map { $0 <= UInt64(b.count - 8) } ?? false
        // safetensors first: its header length is arbitrary, so its first byte may be 0x80 too.
        // A pickle's first eight bytes never read as a length that fits the file.
        if fits, b[8] == UInt8(ascii: "{") { return .safetensors }
        if TorchArchiveReader.isZip(b) || (b.count >= 2 && b[0] == 0x80) { return .torch }
        // A plausible length without the '{', or a '{' after an implausible length, still goes
        // to the safetensors validator so that its message says what is wrong.
        if length != nil, fits || b[8] == UInt8(ascii: "{") { return .safetensors }
        return nil
    }

    /// Decodes the whole pickle of a `torch.save` / `torch.jit.save` file (zip or legacy) with
    /// tensors resolved, e.g. to reach CleanCLIP's `"optimizer"` entry:
    ///
    /// ```swift
    /// let root = try CheckpointReader.readTorchPickle(path: "epoch_10.pt")
    /// let adam = root["optimizer"]?["state"]   // {param index: {"step", "exp_avg", "exp_avg_sq"}}
    /// ```
    /// Tensors inside keep the file mapped while they live.
    public static func readTorchPickle(path: String) throws -> PickleValue {
        let file = try MappedFile(path: path)
        guard container(of: file.bytes) == .torch else {
            throw CheckpointError(path: path, "not a torch checkpoint (neither a zip archive nor a pickle stream)")
        }
        return try TorchArchiveReader.load(file).value
    }
}

/// Finds the state dict inside a decoded torch pickle (see `CheckpointReader.read`).
public enum TorchStateDict {
    /// Extracts named tensors from a decoded torch pickle. `path` is used in error messages.
    public static func extract(_ root: PickleValue, format: CheckpointFormat, path: String) throws -> TensorArchive {
        if case .object(let cls, _, _) = root {
            guard cls.hasPrefix("__torch__.") else {
                throw CheckpointError(path: path, "top-level object \(cls) is not a TorchScript module")
            }
            return try TorchScriptWalker.collect(root, path: path)
        }
        guard let pairs = root.dictPairs else {
            throw CheckpointError(path: path, "top-level value is a \(root.kindName), expected a dict of tensors")
        }
        var metadata: [String: String] = [:]
        var source = pairs
        var strip = false
        for key in ["state_dict", "model"] {
            if let inner = root[key], let innerPairs = inner.dictPairs {
                source = innerPairs
                strip = true
                for (k, v) in pairs {
                    if case .string(let ks) = k, let s = scalarString(v) { metadata[ks] = s }
                }
                break
            }
        }
        var tensors: [String: RawTensor] = [:]
        var order: [String] = []
        for (k, v) in source {
            guard case .string(var name) = k else { continue }
            if strip, name.hasPrefix("module.") { name.removeFirst("module.".count) }
            if case .tensor(let t) = v {
                if tensors.updateValue(t, forKey: name) != nil {
                    throw CheckpointError(path: path, "duplicate tensor name '\(name)' after stripping 'module.'")
                }
                order.append(name)
            } else if !strip, let s = scalarString(v) {
                metadata[name] = s
            }
        }
        if tensors.isEmpty {
            let keys = pairs.prefix(12).compactMap { $0.key.stringValue }.joined(separator: ", ")
            throw CheckpointError(path: path, "no state dict found: no tensors under the top-level keys [\(keys)]")
        }
        return TensorArchive(tensors: tensors, order: order, metadata: metadata, format: format)
    }

    static func scalarString(_ v: PickleValue) -> String? {
        switch v {
        case .int(let i): return String(i)
        case .float(let d): return String(d)
        case .string(let s): return s
        case .bool(let b): return b ? "True" : "False"
        default: return nil
        }
    }
}

/// Collects tensors from a TorchScript module tree (`__torch__.*` objects whose BUILD state is a
/// dict of attributes) into dotted names; non-tensor attributes are skipped.
enum TorchScriptWalker {
    static let maxDepth = 64

    static func collect(_ root: PickleValue, path: String) throws -> TensorArchive {
        var tensors: [String: RawTensor] = [:]
        var order: [String] = []
        var metadata: [String: String] = [:]
        if case .object(let cls, _, let state) = root {
            metadata["torchscript_class"] = cls
            for (k, v) in state.dictPairs ?? [] {
                guard let name = k.stringValue else { continue }
                switch v {
                case .int(let i): metadata[name] = String(i)
                case .tensor(let t) where t.count == 1 && !t.dtype.isFloatingPoint && t.shape.isEmpty:
                    if let i = try? t.toInt64s().first { metadata[name] = String(i) }
                default: break
                }
            }
        }
        func walk(_ v: PickleValue, prefix: String, depth: Int) throws {
            guard depth < maxDepth else { throw CheckpointError(path: path, "TorchScript module tree deeper than \(maxDepth) at '\(prefix)'") }
            guard case .object(_, _, let state) = v, let attrs = state.dictPairs else { return }
            for (k, value) in attrs {
                guard let key = k.stringValue else { continue }
                let name = prefix.isEmpty ? key : prefix + "." + key
                switch value {
                case .tensor(let t):
                    if tensors.updateValue(t, forKey: name) == nil { order.append(name) }
                case .object(let cls, _, _) where cls.hasPrefix("__torch__."):
                    try walk(value, prefix: name, depth: depth + 1)
                default:
                    break  // training flags, hyperparameters, None placeholders
                }
            }
        }
        try walk(root, prefix: "", depth: 0)
        if tensors.isEmpty { throw CheckpointError(path: path, "TorchScript archive holds no tensor attributes") }
        return TensorArchive(tensors: tensors, order: order, metadata: metadata, format: .torchScript)
    }
}
