import TensorCore

extension CLIPConfig {
    /// The standard architectures (OpenAI shapes), for random-weight runs and benchmarks.
    public static let presets: [String: CLIPConfig] = [
        "RN50": CLIPConfig(embedDim: 1024, vision: .resnet(layers: [3, 4, 6, 3], width: 64, heads: 32, resolution: 224),
                           textWidth: 512, textHeads: 8, textLayers: 12),
        "RN101": CLIPConfig(embedDim: 512, vision: .resnet(layers: [3, 4, 23, 3], width: 64, heads: 32, resolution: 224),
                            textWidth: 512, textHeads: 8, textLayers: 12),
        "ViT-B/32": CLIPConfig(embedDim: 512, vision: .vit(patch: 32, width: 768, layers: 12, heads: 12, resolution: 224),
                               textWidth: 512, textHeads: 8, textLayers: 12),
        "ViT-B/16": CLIPConfig(embedDim: 512, vision: .vit(patch: 16, width: 768, layers: 12, heads: 12, resolution: 224),
                               textWidth: 512, textHeads: 8, textLayers: 12),
        "ViT-L/14": CLIPConfig(embedDim: 768, vision: .vit(patch: 14, width: 1024, layers: 24, heads: 16, resolution: 224),
                               textWidth: 768, textHeads: 12, textLayers: 12),
    ]
}
