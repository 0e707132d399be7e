import Foundation
import TensorCore

/// Fresh weights for training from scratch or benchmarking, following OpenAI's
/// `CLIP.initialize_parameters` (and PyTorch's layer defaults where OpenAI keeps them), seeded.
package final class RandomWeights: WeightSource {
    private var rng: SeededRandom
    private let config: CLIPConfig

    package init(config: CLIPConfig, seed: UInt64) {
        self.config = config
        rng = SeededRandom(seed: seed)
    }

    package func tensor(_ name: String, shape: [Int], kind: WeightKind) throws -> Tensor {
        let fanIn = shape.dropFirst().reduce(1, *)
        func normal(_ std: Float) -> Tensor { .randomNormal(shape, std: std, using: &rng) }
        func pytorchDefault() -> Tensor { .randomUniform(shape, bound: 1 / Float(max(fanIn, 1)).squareRoot(), using: &rng) }
        let visual = name.hasPrefix("visual.")
        let width = Float(visual ? visionWidth : config.textWidth)
        let layers = Float(visual ? visionLayers : config.textLayers)
        let attnStd = 1 / width.squareRoot()
        let projStd = attnStd / (2 * layers).squareRoot()
        let fcStd = 1 / (2 * width).squareRoot()

        switch kind {
        case .buffer: return name.hasSuffix("running_var") ? Tensor(repeating: 1, shape: shape) : Tensor(zeros: shape)
        case .counter: return Tensor(zeros: shape)
        case .parameter: break
        }
        if name == "logit_scale" { return Tensor(repeating: Float(log(1 / 0.07)), shape: shape) }
        if name.hasSuffix(".bias") && !name.contains("mlp.c_fc") { return Tensor(zeros: shape) }
        if name.contains("ln_") || name.contains(".bn") || name.contains("downsample.1") {
            // LayerNorm / BatchNorm weights start at 1 (OpenAI zero-initialises each bottleneck's bn3).
            return Tensor(repeating: name.hasSuffix("bn3.weight") && name.contains(".layer") ? 0 : 1, shape: shape)
        }
        switch name {
        case "token_embedding.weight": return normal(0.02)
        case "positional_embedding": return normal(0.01)
        case "text_projection": return normal(1 / Float(config.textWidth).squareRoot())
        case "visual.class_embedding", "visual.positional_embedding", "visual.proj":
            return normal(attnStd)
        default: break
        }
        if name.hasSuffix("attn.in_proj_weight") { return normal(attnStd) }
        if name.hasSuffix("attn.out_proj.weight") || name.hasSuffix("mlp.c_proj.weight") { return normal(projStd) }
        if name.hasSuffix("mlp.c_fc.weight") { return normal(fcStd) }
        if name.hasSuffix("mlp.c_fc.bias") { return pytorchDefault() }
        if name.contains("attnpool.") {
            if name.hasSuffix("positional_embedding") { return normal(1 / Float(shape[1]).squareRoot()) }
            return normal(1 / Float(shape[1]).squareRoot())
        }
        return pytorchDefault()  // convolutions
    }

    package func finish() throws {}

    private var visionWidth: Int {
        switch config.vision {
        case let .vit(_, width, _, _, _): return width
        case let .resnet(_, width, _, _): return width * 32
        }
    }

    private var visionLayers: Int {
        switch config.vision {
        case let .vit(_, _, layers, _, _): return layers
        case let .resnet(layers, _, _, _): return layers.reduce(0, +)
        }
    }
}
