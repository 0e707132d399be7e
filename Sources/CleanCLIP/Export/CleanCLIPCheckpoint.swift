import Foundation

/// The AdamW state of a finetuning run with the settings and finished epochs it came with: what a
/// cleanclip-pt file's "optimizer" and "epoch" entries are written from.
public struct FinetuneOptimizerState {
    /// `AdamW.state()`: "step", "exp_avg.<name>", "exp_avg_sq.<name>" for every parameter.
    let state: [(String, Tensor)]
    let config: FinetuneConfig
    let epochsDone: Int

    package init(state: [(String, Tensor)], config: FinetuneConfig = FinetuneConfig(), epochsDone: Int) {
        self.state = state
        self.config = config
        self.epochsDone = epochsDone
    }

    /// The state that `cleanclip finetune --out checkpoint` wrote beside the model file
    /// `checkpoint` (`<stem>.optimizer.safetensors`), for `model` loaded from `checkpoint`; nil
    /// when there is no such file or it belongs to a supervised run (which optimises other
    /// parameters). Files of different saves are an error.
    public static func beside(_ checkpoint: String, model: CLIPModel) throws -> FinetuneOptimizerState? {
        let path = Finetuner.optimizerPath(for: checkpoint)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let archive = try SafetensorsReader.read(path: path)
        guard archive.metadata["mode"] != "supervised" else { return nil }
        let done = try CheckpointStamp.verify([(path, archive.metadata), (checkpoint, model.loadedMetadata)], epochs: Int.max)
        var state: [(String, Tensor)] = []
        for name in archive.order {
            guard let raw = archive.tensors[name] else { throw FinetuneError("\(path): no tensor '\(name)'") }
            state.append((name, try CLIPModel.tensor(from: raw)))
        }
        let config = archive.metadata["config"].flatMap { $0.data(using: .utf8) }
            .flatMap { try? JSONDecoder().decode(FinetuneConfig.self, from: $0) } ?? FinetuneConfig()
        return FinetuneOptimizerState(state: state, config: config, epochsDone: done)
    }
}

/// CleanCLIP's checkpoint layout (`src/main.py`): `torch.save({"epoch": int, "name": str,
/// "state_dict": model.state_dict(), "optimizer": optimizer.state_dict()})`, as a torch zip
/// (`TorchZipWriter`) that `torch.load(weights_only=True)`, CleanCLIP's `--checkpoint` and our own
/// loader (`CLIPModel.load`, `TorchOptimizerState`) read.
///
/// - state_dict: OpenAI names with the "module." prefix of CleanCLIP's DDP runs (CleanCLIP strips
///   it when not distributed and adds it when distributed; our loader strips it), in PyTorch's
///   state-dict order, which is also `named_parameters()` order.
/// - optimizer: torch's `optimizer.state_dict()` for CleanCLIP's two AdamW groups (no weight
///   decay for names containing bn/ln/bias/logit_scale first, then the rest; see
///   `TorchOptimizerState`): "state" maps each parameter's index to step (a float32 scalar
///   tensor, as torch >= 1.12 keeps it), exp_avg and exp_avg_sq; "param_groups" holds lr, betas,
///   eps, weight_decay, amsgrad and the indices. CleanCLIP calls `optimizer.load_state_dict`
///   unconditionally when it trains from a checkpoint, so with no AdamW state the entry is not
///   left out: "state" is empty (AdamW then starts fresh moments, as torch does for a
///   never-stepped optimizer) and the groups are written with CleanCLIP's default settings.
/// - epoch: the finished epochs of the run the optimizer state comes from, else 0 (CleanCLIP
///   starts training at epoch + 1 unless --complete_finetune).
enum CleanCLIPCheckpoint {
    typealias V = TorchZipWriter.Value

    static func write(_ model: CLIPModel, optimizer: FinetuneOptimizerState?, dtype: DType, to path: String) throws {
        let raw = Dictionary(uniqueKeysWithValues: try model.rawStateDict(dtype: dtype).map { ($0.name, $0.tensor) })
        let stateDict = openAIOrder(model.weights.map(\.name)).map { (V.string("module." + $0), V.tensor(raw[$0]!)) }
        let root = V.dict([
            (.string("epoch"), .int(optimizer?.epochsDone ?? 0)),
            (.string("name"), .string("cleanclip")),
            (.string("state_dict"), .dict(stateDict)),
            (.string("optimizer"), try optimizerStateDict(model, optimizer)),
        ])
        try TorchZipWriter.write(root, to: path)
    }

    /// Module components in the order OpenAI's `clip/model.py` (which CleanCLIP uses) registers
    /// them, per module: CLIP (visual, transformer, token_embedding, ln_final), VisionTransformer
    /// (conv1, ln_pre, transformer, ln_post), ModifiedResNet and Bottleneck (conv1, bn1, ..., bn3,
    /// layer1-4, attnpool; downsample), ResidualAttentionBlock (attn, ln_1, mlp, ln_2; open_clip
    /// puts ln_1 first), AttentionPool2d (k, q, v, c_proj), the MLP (c_fc, c_proj). No two
    /// siblings conflict, so one list serves every module.
    static let childOrder = ["visual", "conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "layer1", "layer2", "layer3", "layer4",
                             "attnpool", "ln_pre", "transformer", "resblocks", "ln_post", "token_embedding", "ln_final",
                             "attn", "ln_1", "mlp", "ln_2", "out_proj", "c_fc", "k_proj", "q_proj", "v_proj", "c_proj", "downsample"]
    /// A module's own tensors in registration order (parameters, then BatchNorm's buffers).
    static let tensorOrder = ["class_embedding", "positional_embedding", "text_projection", "logit_scale", "proj",
                              "in_proj_weight", "in_proj_bias", "weight", "bias", "running_mean", "running_var", "num_batches_tracked"]

    /// `names` in the order of `state_dict()` and `named_parameters()` of CleanCLIP's model: a
    /// module's own tensors first, then its children, depth first. The optimizer's parameter
    /// indices follow this order, so it decides which moments CleanCLIP gives each parameter.
    static func openAIOrder(_ names: [String]) -> [String] {
        func rank(_ component: Substring, leaf: Bool) -> (Int, Int) {
            if leaf { return (0, tensorOrder.firstIndex(of: String(component)) ?? tensorOrder.count) }
            if let n = Int(component) { return (1, n) }  // Sequential children: 0, 1, 2, ...
            return (1, childOrder.firstIndex(of: String(component)) ?? childOrder.count)
        }
        let paths = names.map { $0.split(separator: ".") }
        let sorted = paths.indices.sorted { a, b in
            let x = paths[a], y = paths[b]
            for i in 0..<min(x.count, y.count) where x[i] != y[i] {
                let rx = rank(x[i], leaf: i == x.count - 1), ry = rank(y[i], leaf: i == y.count - 1)
                return rx != ry ? rx < ry : a < b
            }
            return a < b
        }
        return sorted.map { names[$0] }
    }

    private static func optimizerStateDict(_ model: CLIPModel, _ optimizer: FinetuneOptimizerState?) throws -> V {
        let names = openAIOrder(model.parameters.map(\.name))
        let groups = [names.filter { !AdamWConfig.takesWeightDecay($0) }, names.filter(AdamWConfig.takesWeightDecay)]
        let config = optimizer?.config ?? FinetuneConfig()
        var state: [(V, V)] = []
        if let optimizer {
            let byName = Dictionary(optimizer.state, uniquingKeysWith: { a, _ in a })
            guard let step = byName["step"], step.count == 1 else { throw FinetuneError("the optimizer state has no 'step'") }
            for (index, name) in (groups[0] + groups[1]).enumerated() {
                guard let m = byName["exp_avg.\(name)"], let v = byName["exp_avg_sq.\(name)"] else {
                    throw FinetuneError("the optimizer state has no moments for parameter '\(name)'")
                }
                state.append((.int(index), .dict([
                    (.string("step"), .tensor(RawTensor(floats: [step.data[0]], shape: []))),
                    (.string("exp_avg"), .tensor(RawTensor(floats: m.array, shape: m.shape))),
                    (.string("exp_avg_sq"), .tensor(RawTensor(floats: v.array, shape: v.shape))),
                ])))
            }
        }
        var first = 0
        let paramGroups = groups.enumerated().map { g, members -> V in
            defer { first += members.count }
            return .dict([
                (.string("lr"), .float(Double(config.lr))),
                (.string("betas"), .tuple([.float(Double(config.beta1)), .float(Double(config.beta2))])),
                (.string("eps"), .float(Double(config.eps))),
                (.string("weight_decay"), .float(g == 0 ? 0 : Double(config.weightDecay))),
                (.string("amsgrad"), .bool(false)),
                (.string("params"), .list((first..<first + members.count).map { .int($0) })),
            ])
        }
        return .dict([(.string("state"), .dict(state)), (.string("param_groups"), .list(paramGroups))])
    }
}
