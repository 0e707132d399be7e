import CleanCLIP

/// A state dict and metadata being edited, as they will be written.
struct EditableModel {
    var tensors: [String: RawTensor]
    var metadata: [String: String]

    /// Tensors created by an edit hold at most this many elements, so each run stays fast.
    static let maxElements = 1 << 16

    /// One edit, chosen and parameterised by the next bytes.
    mutating func edit(_ c: inout Choices) {
        let names = tensors.keys.sorted()
        guard !names.isEmpty else { return add(&c) }
        let name = names[c.below(names.count)]
        let t = tensors[name]!
        switch c.below(8) {
        case 0:  // another shape, same dtype, the old bytes repeated
            let shape = (0..<c.below(5)).map { _ in c.dimension() }
            if let r = Self.tensor(t.dtype, shape, from: t) { tensors[name] = r }
        case 1:  // another dtype, same shape, the old bytes reinterpreted
            if let r = Self.tensor(c.pick(DType.allCases), t.shape, from: t) { tensors[name] = r }
        case 2:
            tensors[name] = nil
        case 3:  // renamed: another block index, a "module." prefix, a suffix dropped
            var new = name
            switch c.below(3) {
            case 0:
                new = name.split(separator: ".", omittingEmptySubsequences: false)
                    .map { Int($0) == nil ? String($0) : String(c.byte() % 12) }.joined(separator: ".")
            case 1: new = "module." + name
            default: new = String(name.split(separator: ".").dropLast().joined(separator: "."))
            }
            tensors[name] = nil
            tensors[new] = t
        case 4:  // copied under "module." + name: two keys for one weight
            tensors["module." + name] = t
        case 5:
            let key = c.pick(["cleanclip.vision_heads", "cleanclip.text_heads", "cleanclip.activation", "format"])
            metadata[key] = c.pick(["0", "1", "2", "3", "4", "8", "16", "64", "-1", "99999999999999999999", "gelu", "quick_gelu", "x", ""])
        case 6:  // a hostile value: NaN, infinities, huge, negative (counters included)
            guard var values = try? t.toFloats(), !values.isEmpty else { return }
            values[c.below(values.count)] = c.pick([Float.nan, .infinity, -.infinity, 1e30, -1, 0.5, 9.3e18, 1e19])
            tensors[name] = RawTensor(floats: values, shape: t.shape)
        default:
            add(&c)
        }
    }

    /// A new tensor under a plausible name (indices beyond the model's, missing stages).
    mutating func add(_ c: inout Choices) {
        let index = c.pick(["0", "1", "2", "7", "99999999999999999999"])
        let name = c.pick([
            "visual.transformer.resblocks.\(index).ln_1.weight", "transformer.resblocks.\(index).attn.in_proj_bias",
            "visual.layer\(index).0.conv1.weight", "visual.proj", "visual.attnpool.positional_embedding",
            "text_projection", "logit_scale", "visual.bn1.num_batches_tracked", "attn_mask", "context_length",
        ])
        let shape = (0..<c.below(5)).map { _ in c.dimension() }
        guard let n = Self.count(shape) else { return }
        tensors[name] = RawTensor(floats: (0..<n).map { Float($0 % 7) / 7 }, shape: shape)
    }

    /// The product of `shape` when it is at most `maxElements`.
    static func count(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            n = p
        }
        return n <= maxElements ? n : nil
    }

    /// A tensor of `dtype` and `shape` whose bytes repeat those of `source`.
    static func tensor(_ dtype: DType, _ shape: [Int], from source: RawTensor) -> RawTensor? {
        guard let n = count(shape) else { return nil }
        let old = Array(source.bytes)
        let bytes = (0..<(n * dtype.byteSize)).map { old.isEmpty ? UInt8(truncatingIfNeeded: $0) : old[$0 % old.count] }
        return try? RawTensor(dtype: dtype, shape: shape, bytes: bytes)
    }
}

/// The tiny valid models every program starts from: a ViT, a ModifiedResNet, and the ViT in
/// Hugging Face naming.
let baseModels: [EditableModel] = {
    let models = [
        CLIPConfig(embedDim: 8, vision: .vit(patch: 4, width: 8, layers: 1, heads: 2, resolution: 8),
                   contextLength: 6, vocabSize: 20, textWidth: 8, textHeads: 2, textLayers: 1),
        CLIPConfig(embedDim: 8, vision: .resnet(layers: [1, 1, 1, 1], width: 2, heads: 2, resolution: 32),
                   contextLength: 6, vocabSize: 20, textWidth: 8, textHeads: 1, textLayers: 1, activation: .gelu),
    ].map { config in
        let model = CLIPModel(randomWith: config, seed: 1)
        var tensors: [String: RawTensor] = [:]
        for (name, t) in try! model.rawStateDict() { tensors[name] = t }
        return EditableModel(tensors: tensors, metadata: [
            "cleanclip.vision_heads": String(config.visionHeads), "cleanclip.text_heads": String(config.textHeads),
            "cleanclip.activation": config.activation.rawValue,
        ])
    }
    return models + [EditableModel(tensors: huggingFaceNamed(models[0].tensors), metadata: models[0].metadata)]
}()
