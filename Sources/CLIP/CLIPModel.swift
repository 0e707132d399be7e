import ErrorKinds
import Foundation
import TensorCore

/// An input the model cannot use: wrong shape, token id out of range, empty batch.
public struct CLIPInputError: KindedError, Sendable {
    public let description: String
    package init(_ description: String) { self.description = description }
    public var errorKind: ErrorKind { .shapeMismatch }
}

/// A NaN or infinite value in pixels to encode or in an embedding computed from them: an error
/// rather than a silently NaN result. The description names the input.
public struct NonFiniteError: KindedError, Sendable, Equatable {
    public let description: String
    package init(_ description: String) { self.description = description }
    public var errorKind: ErrorKind { .nonFiniteValue }
}

/// A CLIP model: an image tower, a text tower and the learned temperature `logit_scale`.
///
/// Weights live in OpenAI / open_clip naming (`weights` lists them in state-dict order).
/// Encoding is thread-safe in inference mode (the default): it reads the weights and allocates
/// its own activations. Non-finite pixels are a `NonFiniteError` naming the image; so are, in
/// inference mode, embeddings that come out non-finite (loading refuses non-finite weights, so
/// that takes extreme inputs or weights changed since). In training mode a non-finite result is
/// left to the training loop, which reports the non-finite loss with its epoch and step. Every operation records gradients for parameters with `requiresGrad`
/// (outside `GradMode.withoutGrad`), so the forward pass is differentiable end to end.
/// ```
/// let model = try CLIPModel.load(path: "ViT-B-32.safetensors")
/// let e = try model.encodeImage(pixels)      // pixels [B, 3, 224, 224]
/// ```
public final class CLIPModel: @unchecked Sendable {
    public let config: CLIPConfig
    /// The state dict: every tensor with its OpenAI name and kind.
    package let weights: [NamedTensor]
    /// log of the logit temperature (a scalar tensor).
    package let logitScale: Tensor
    /// The metadata of the checkpoint file the model was loaded from (safetensors `__metadata__`,
    /// scalars of a torch file); empty for a model built in memory. It describes that file, not
    /// later changes to the weights (e.g. finetuning, which reads it to verify a resumed run).
    package internal(set) var loadedMetadata: [String: String] = [:]

    enum VisionTower {
        case vit(VisionTransformer)
        case resnet(ModifiedResNet)
    }

    let visual: VisionTower
    let text: TextTransformer

    /// Training mode, like PyTorch's `model.train()` / `model.eval()`: when true, BatchNorm layers
    /// (ResNet towers) normalise with batch statistics and update their running statistics
    /// during `encodeImage`, so encoding is then *not* thread-safe. ViT and text towers behave
    /// the same in both modes (CLIP has no dropout). Off by default.
    public var isTraining = false

    /// Whether the activation was assumed (QuickGELU) because neither the caller nor the file said
    /// which: open_clip's laion2b / DataComp weights use GELU, and loaded as QuickGELU their
    /// embeddings are off by about 3e-2. Front ends tell the user once, naming the override.
    public internal(set) var activationAssumed = false

    /// Builds the model from `source`, which must provide exactly the tensors of `config`.
    /// The configuration is validated first (`CLIPConfig.validate()`).
    package init(config: CLIPConfig, weights source: WeightSource) throws {
        try config.validate()
        let w = WeightBuilder(source)
        switch config.vision {
        case let .vit(patch, width, layers, heads, resolution):
            visual = .vit(try VisionTransformer(w, patch: patch, width: width, layers: layers, heads: heads,
                                                resolution: resolution, embedDim: config.embedDim,
                                                activation: config.activation))
        case let .resnet(layers, width, heads, resolution):
            visual = .resnet(try ModifiedResNet(w, layers: layers, width: width, heads: heads,
                                                resolution: resolution, embedDim: config.embedDim))
        }
        text = try TextTransformer(w, config)
        logitScale = try w("logit_scale", [])
        try source.finish()
        self.config = config
        weights = w.entries
    }

    /// A model with fresh random weights (OpenAI's initialisation), reproducible from `seed`.
    /// - Precondition: `config.validate()` passes (an invalid configuration here is a programming error).
    public convenience init(randomWith config: CLIPConfig, seed: UInt64) {
        // RandomWeights provides every key, so building fails only on an invalid configuration.
        try! self.init(config: config, weights: RandomWeights(config: config, seed: seed))
    }

    /// The parameters an optimiser trains (buffers and counters excluded).
    package var parameters: [NamedTensor] { weights.filter { $0.kind == .parameter } }

    /// Image embeddings (unnormalised): pixels [B, 3, S, S] -> [B, E].
    public func encodeImage(_ pixels: Tensor) throws -> Tensor {
        let s = config.imageResolution
        guard pixels.shape.count == 4, pixels.shape[1] == 3, pixels.shape[2] == s, pixels.shape[3] == s else {
            throw CLIPInputError("pixels have shape \(pixels.shape); this model expects [N, 3, \(s), \(s)]")
        }
        guard pixels.shape[0] > 0 else { throw CLIPInputError("no images to encode") }
        if let i = pixels.firstNonFiniteIndex() {
            throw NonFiniteError("image \(i / (3 * s * s)) has a non-finite pixel value (\(pixels.data[i]))")
        }
        let embeddings: Tensor
        switch visual {
        case .vit(let v): embeddings = v(pixels)
        case .resnet(let r): embeddings = r(pixels, training: isTraining)
        }
        if !isTraining { try Self.checkFinite(embeddings, "image") }
        return embeddings
    }

    /// Throws when a row of `embeddings` [B, E] holds NaN or infinity, naming the input.
    private static func checkFinite(_ embeddings: Tensor, _ what: String) throws {
        guard let i = embeddings.firstNonFiniteIndex() else { return }
        throw NonFiniteError("the embedding of \(what) \(i / max(embeddings.shape.last ?? 1, 1)) is not finite "
            + "(\(embeddings.data[i])): the input or the weights hold values too large for float32")
    }

    /// Text embeddings (unnormalised) from token ids, row-major [batch, contextLength].
    public func encodeText(tokens: [Int32], batch: Int) throws -> Tensor {
        let ctx = config.contextLength
        guard batch > 0 else { throw CLIPInputError("no texts to encode") }
        guard tokens.count == batch * ctx else {
            throw CLIPInputError("\(tokens.count) token ids for \(batch) texts; expected \(batch) x \(ctx) = \(batch * ctx)")
        }
        if let bad = tokens.firstIndex(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw CLIPInputError("token id \(tokens[bad]) at text \(bad / ctx), position \(bad % ctx) is outside the vocabulary 0..<\(config.vocabSize)")
        }
        let embeddings = text(tokens, batch: batch)
        if !isTraining { try Self.checkFinite(embeddings, "text") }
        return embeddings
    }

    /// The learned logit scale, a number: zero-shot logits are exp(logitScaleValue) * cosine.
    public var logitScaleValue: Float { logitScale.scalar }

    /// exp(logit_scale), the factor applied to cosine similarities.
    public var temperature: Float { expf(logitScale.scalar) }
}

extension CLIPModel {
    /// Named intermediate outputs of the image tower, for localising parity faults:
    /// ViT: "patch_embed" [B, grid², W], "block0" [B, grid²+1, W] (output of the first block),
    /// then "image" [B, E]. ResNet: "stem" [B, W, S/4, S/4], "image" [B, E].
    package func visionTrace(_ pixels: Tensor) throws -> [String: Tensor] {
        let image = try encodeImage(pixels)
        switch visual {
        case .vit(let v):
            return v.trace(pixels).merging(["image": image]) { $1 }
        case .resnet(let r):
            return ["stem": r.stem(pixels, training: isTraining).swappingFirstTwoAxes(), "image": image]
        }
    }
}

extension CLIPModel {
    /// An independent copy with the same configuration and weight values.
    public func duplicate() -> CLIPModel {
        var copies: [String: Tensor] = [:]
        for w in weights { copies[w.name] = w.tensor.copy() }
        // The copied state dict has exactly this model's keys and shapes, so building cannot fail.
        return try! CLIPModel(config: config, weights: StateDict(copies))
    }
}
