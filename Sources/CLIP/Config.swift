import TensorCore

/// Hyperparameters of a CLIP model, all inferable from tensor shapes (as OpenAI's build_model).
public struct CLIPConfig: Sendable, Equatable, Codable {
    public enum Vision: Sendable, Equatable, Codable {
        /// Vision Transformer: patch size, width, layers, heads, input resolution.
        case vit(patch: Int, width: Int, layers: Int, heads: Int, resolution: Int)
        /// ModifiedResNet: blocks per stage, stem width, attention-pool heads, input resolution.
        case resnet(layers: [Int], width: Int, heads: Int, resolution: Int)
    }

    public var embedDim: Int
    public var vision: Vision
    public var contextLength: Int
    public var vocabSize: Int
    public var textWidth: Int
    public var textHeads: Int
    public var textLayers: Int
    public var activation: Activation

    public init(embedDim: Int, vision: Vision, contextLength: Int = 77, vocabSize: Int = 49408,
                textWidth: Int, textHeads: Int, textLayers: Int, activation: Activation = .quickGELU) {
        self.embedDim = embedDim
        self.vision = vision
        self.contextLength = contextLength
        self.vocabSize = vocabSize
        self.textWidth = textWidth
        self.textHeads = textHeads
        self.textLayers = textLayers
        self.activation = activation
    }

    /// Input image side in pixels.
    public var imageResolution: Int {
        switch vision {
        case .vit(_, _, _, _, let r), .resnet(_, _, _, let r): return r
        }
    }

    /// A short architecture name: "ViT-B/32"-style for known shapes, else a description.
    public var architecture: String {
        switch vision {
        case let .vit(patch, width, layers, _, _):
            if let size = [768: "B", 1024: "L", 1280: "H"][width] { return "ViT-\(size)/\(patch)" }
            return "ViT(width \(width), layers \(layers), patch \(patch))"
        case let .resnet(layers, width, _, _):
            switch (layers, width) {
            case ([3, 4, 6, 3], 64): return "RN50"
            case ([3, 4, 23, 3], 64): return "RN101"
            case ([4, 6, 10, 6], 80): return "RN50x4"
            case ([6, 8, 18, 8], 96): return "RN50x16"
            case ([3, 15, 36, 10], 128): return "RN50x64"
            default: return "ModifiedResNet(\(layers.map(String.init).joined(separator: ",")),w\(width))"
            }
        }
    }

    /// Attention heads of the vision tower (the ViT's, or the ResNet's attention pool).
    public var visionHeads: Int {
        switch vision {
        case .vit(_, _, _, let h, _), .resnet(_, _, let h, _): return h
        }
    }

    /// The vision width the heads divide: the ViT width, or the ResNet's attention-pool width (32 x stem width).
    var visionAttentionWidth: Int {
        switch vision {
        case .vit(_, let w, _, _, _): return w
        case .resnet(_, let w, _, _): return w * 32
        }
    }

    /// Replaces the inferred head counts with those a file recorded (`save(to:)` writes them),
    /// checking that each divides its width.
    mutating func applySavedHeads(vision visionText: String?, text textText: String?) throws {
        if let visionText {
            guard let h = Int(visionText), h > 0, visionAttentionWidth % h == 0 else {
                throw WeightError("metadata cleanclip.vision_heads '\(visionText)' does not divide the vision width \(visionAttentionWidth)")
            }
            switch vision {
            case let .vit(p, w, l, _, r): vision = .vit(patch: p, width: w, layers: l, heads: h, resolution: r)
            case let .resnet(l, w, _, r): vision = .resnet(layers: l, width: w, heads: h, resolution: r)
            }
        }
        if let textText {
            guard let h = Int(textText), h > 0, textWidth % h == 0 else {
                throw WeightError("metadata cleanclip.text_heads '\(textText)' does not divide the text width \(textWidth)")
            }
            textHeads = h
        }
    }

    /// Infers the configuration from an OpenAI-named state dict, as `clip.model.build_model`.
    /// The shapes it reads must have the expected rank and positive dimensions; anything else is
    /// a `WeightError` naming the key and its shape. The result is not validated here (saved head
    /// counts may still replace the inferred ones): `CLIPModel` validates it before building.
    package static func infer(from sd: StateDict, activation: Activation = .quickGELU) throws -> CLIPConfig {
        /// The shape of `key`: `expected.count` dimensions, each at least 1.
        func shape(_ key: String, _ expected: [String]) throws -> [Int] {
            guard let s = sd.shape(key) else { throw WeightError("missing key '\(key)': cannot infer the model configuration") }
            guard s.count == expected.count, s.allSatisfy({ $0 > 0 }) else {
                throw WeightError("'\(key)' has shape \(s); expected [\(expected.joined(separator: ", "))], every dimension at least 1")
            }
            return s
        }
        /// The side of the square grid of a positional embedding with `grid² + 1` rows.
        func grid(_ key: String, rows: Int) throws -> Int {
            let side = Int(Double(rows - 1).squareRoot().rounded())
            guard side >= 1, side * side + 1 == rows else {
                throw WeightError("'\(key)' has \(rows) rows; expected grid² + 1 (a square grid of at least one patch, plus the class or mean token)")
            }
            return side
        }
        func count(prefix: String) -> Int {
            Set(sd.keys.compactMap { k -> Int? in
                guard k.hasPrefix(prefix) else { return nil }
                return Int(k.dropFirst(prefix.count).split(separator: ".").first ?? "")
            }).count
        }
        let vision: Vision
        if sd.has("visual.proj") {
            let conv = try shape("visual.conv1.weight", ["width", "3", "patch", "patch"])
            let pos = "visual.positional_embedding"
            let rows = try shape(pos, ["grid² + 1", "width"])[0]
            let width = conv[0], patch = conv[3]
            vision = .vit(patch: patch, width: width, layers: count(prefix: "visual.transformer.resblocks."),
                          heads: max(1, width / 64), resolution: patch * (try grid(pos, rows: rows)))
        } else if sd.has("visual.attnpool.positional_embedding") {
            let layers = (1...4).map { count(prefix: "visual.layer\($0).") }
            let width = try shape("visual.layer1.0.conv1.weight", ["width", "width", "1", "1"])[0]
            let pos = "visual.attnpool.positional_embedding"
            let rows = try shape(pos, ["(image size / 32)² + 1", "32 x width"])[0]
            vision = .resnet(layers: layers, width: width, heads: max(1, width * 32 / 64),
                             resolution: 32 * (try grid(pos, rows: rows)))
        } else {
            throw WeightError("no vision tower found: neither 'visual.proj' (ViT) nor 'visual.attnpool.positional_embedding' (ResNet)")
        }
        let textWidth = try shape("ln_final.weight", ["text width"])[0]
        return CLIPConfig(
            embedDim: try shape("text_projection", ["text width", "embedding dimension"])[1], vision: vision,
            contextLength: try shape("positional_embedding", ["context length", "text width"])[0],
            vocabSize: try shape("token_embedding.weight", ["vocabulary size", "text width"])[0],
            textWidth: textWidth, textHeads: max(1, textWidth / 64),
            textLayers: count(prefix: "transformer.resblocks."), activation: activation)
    }
}
