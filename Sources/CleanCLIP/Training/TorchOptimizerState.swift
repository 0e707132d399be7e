import Foundation

/// Imports the AdamW state of a CleanCLIP PyTorch checkpoint
/// (`torch.save({"epoch", "name", "state_dict", "optimizer"})`) into this library's `AdamW`.
///
/// torch's `optimizer.state_dict()` does not name parameters: `"state"` maps a parameter index
/// to `{"step", "exp_avg", "exp_avg_sq"}` and `"param_groups"` lists each group's indices. The
/// indices follow the order in which parameters were handed to the optimizer. CleanCLIP
/// (`src/main.py`) iterates `model.named_parameters()` and builds two groups, no-decay first:
/// ```
/// AdamW([{"params": names containing "bn"/"ln"/"bias"/"logit_scale", "weight_decay": 0},
///        {"params": every other parameter,                            "weight_decay": wd}])
/// ```
/// so index k is the k-th no-decay parameter, then the decay parameters follow. The order of
/// `named_parameters()` is the order of the parameter keys in the saved `state_dict` (a state
/// dict lists each module's parameters, then its buffers, module by module), so the names are
/// the state dict's keys in file order, with buffers (BatchNorm running statistics and counters,
/// recognised by this model's `WeightKind`s) skipped and a "module." prefix stripped.
/// A single group over `model.parameters()` (no split) is accepted as well.
///
/// The result holds "step", "exp_avg.<name>" and "exp_avg_sq.<name>" for every parameter of
/// `model` (OpenAI names), ready for `AdamW.load(state:)` on a contrastive `Trainer`'s
/// optimizer (see `Finetuner.importOptimizerState`).
package enum TorchOptimizerState {
    /// Whether a decoded torch checkpoint holds an optimizer state (a non-None "optimizer" dict).
    package static func isPresent(in root: PickleValue) -> Bool {
        root["optimizer"]?.dictPairs != nil
    }

    /// Reads the AdamW state of the checkpoint at `path` for `model` (whose weights must come
    /// from the same checkpoint). Throws `OptimizerStateError` when there is none or it does not
    /// fit the model; errors name the parameter and both shapes.
    package static func read(path: String, model: CLIPModel) throws -> [(String, Tensor)] {
        try read(root: try CheckpointReader.readTorchPickle(path: path), model: model, path: path)
    }

    /// As `read(path:model:)`, from an already decoded checkpoint (`CheckpointReader.readTorchPickle`).
    package static func read(root: PickleValue, model: CLIPModel, path: String) throws -> [(String, Tensor)] {
        func fail(_ message: String) -> OptimizerStateError { OptimizerStateError("\(path): \(message)") }
        guard let optimizer = root["optimizer"], optimizer.dictPairs != nil else {
            throw fail("no optimizer state (no 'optimizer' dict at the top level)")
        }
        guard let groups = optimizer["param_groups"]?.items else { throw fail("optimizer state has no 'param_groups' list") }
        guard let statePairs = optimizer["state"]?.dictPairs else { throw fail("optimizer state has no 'state' dict") }

        // Parameter names in named_parameters() order: the state dict's keys, buffers skipped.
        let archive = try TorchStateDict.extract(root, format: .torchZip, path: path)
        let kinds = Dictionary(model.weights.map { ($0.name, ($0.kind, $0.tensor)) }, uniquingKeysWith: { a, _ in a })
        var names: [String] = []
        for name in archive.order {
            guard let (kind, _) = kinds[name] else { throw fail("state dict key '\(name)' is not a tensor of this model") }
            if kind == .parameter { names.append(name) }
        }
        let expectedCount = model.parameters.count
        guard names.count == expectedCount else {
            throw fail("the state dict has \(names.count) of this model's \(expectedCount) parameters")
        }

        // Group layout: CleanCLIP's two groups (no-decay first) or one group of everything.
        let groupSizes = try groups.enumerated().map { g, group -> Int in
            guard let params = group["params"]?.items else { throw fail("param_groups[\(g)] has no 'params' list") }
            return params.count
        }
        let layout: [[String]]
        let noDecay = names.filter { !AdamWConfig.takesWeightDecay($0) }, decay = names.filter(AdamWConfig.takesWeightDecay)
        if groupSizes == [names.count] {
            layout = [names]
        } else if groupSizes == [noDecay.count, decay.count] {
            layout = [noDecay, decay]
        } else {
            throw fail("the optimizer's parameter groups have sizes \(groupSizes); this model has \(names.count) parameters, "
                + "which CleanCLIP splits into [\(noDecay.count) without weight decay, \(decay.count) with] "
                + "(or one group of all \(names.count))")
        }

        var stateByIndex: [Int: PickleValue] = [:]
        for (k, v) in statePairs {
            guard let i = k.intValue else { throw fail("optimizer state key of type \(k.kindName); expected a parameter index") }
            stateByIndex[i] = v
        }
        var out: [(String, Tensor)] = []
        var step: Double?
        var stepOwner = ""
        var seen = Set<Int>()
        for (g, groupNames) in layout.enumerated() {
            let indices = groups[g]["params"]!.items!
            for (name, indexValue) in zip(groupNames, indices) {
                guard let index = indexValue.intValue else {
                    throw fail("param_groups[\(g)]['params'] holds a \(indexValue.kindName); expected parameter indices")
                }
                seen.insert(index)
                let shape = kinds[name]!.1.shape
                guard let entry = stateByIndex[index] else {
                    if statePairs.isEmpty {  // never stepped: zero moments
                        out.append(("exp_avg.\(name)", Tensor(zeros: shape)))
                        out.append(("exp_avg_sq.\(name)", Tensor(zeros: shape)))
                        continue
                    }
                    throw fail("no optimizer state for parameter '\(name)' (index \(index))")
                }
                for key in ["exp_avg", "exp_avg_sq"] {
                    guard let raw = entry[key]?.tensorValue else {
                        throw fail("optimizer state of '\(name)' (index \(index)) has no '\(key)' tensor")
                    }
                    guard raw.shape == shape else {
                        throw fail("\(key) of parameter '\(name)' (index \(index)) has shape \(raw.shape); the parameter has \(shape)")
                    }
                    let t = Tensor(zeros: shape)
                    try raw.copyFloats(into: t.data)
                    guard UnsafeBufferPointer(start: t.data, count: t.count).allSatisfy(\.isFinite) else { throw fail("\(key) of parameter '\(name)' is not finite") }
                    out.append(("\(key).\(name)", t))
                }
                let s = try stepValue(entry["step"], name: name, fail: fail)
                if let step, step != s {
                    throw fail("parameter '\(name)' was stepped \(Int(s)) times but '\(stepOwner)' \(Int(step)) times; "
                        + "this AdamW keeps one step count for all parameters")
                }
                step = s
                stepOwner = name
            }
        }
        if let extra = stateByIndex.keys.sorted().first(where: { !seen.contains($0) }) {
            throw fail("optimizer state for index \(extra), which is in no parameter group")
        }
        return [("step", Tensor([Float(step ?? 0)], shape: []))] + out
    }

    /// torch < 1.12 stores `step` as a Python number, later versions as a (float) scalar tensor.
    private static func stepValue(_ v: PickleValue?, name: String,
                                  fail: (String) -> OptimizerStateError) throws -> Double {
        let value: Double
        switch v {
        case .int(let i)?: value = Double(i)
        case .float(let d)?: value = d
        case .tensor(let t)? where t.count == 1: value = Double(try t.toFloats()[0])
        default: throw fail("optimizer state of '\(name)' has no usable 'step' (\(v?.kindName ?? "missing"))")
        }
        guard value >= 0, value == value.rounded(), value < 1e9 else { throw fail("optimizer state of '\(name)' has step \(value)") }
        return value
    }
}

/// The AdamW state of the CleanCLIP checkpoint at `path`, for `AdamW.load(state:)`: see
/// `TorchOptimizerState`.
package func cleanCLIPOptimizerState(fromTorchCheckpoint path: String, model: CLIPModel) throws -> [(String, Tensor)] {
    try TorchOptimizerState.read(path: path, model: model)
}
