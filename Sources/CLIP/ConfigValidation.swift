extension CLIPConfig {
    /// The largest width, embedding dimension or context length accepted. Far above any published
    /// CLIP (ViT-bigG/14: width 1664), and small enough that every size derived from it
    /// (4 x width, 32 x width, grid² + 1, ...) stays far from Int overflow.
    public static let maxWidth = 1 << 16
    /// The most transformer blocks per tower, or bottleneck blocks per ResNet stage.
    public static let maxLayers = 1 << 10
    /// The largest input image side in pixels.
    public static let maxResolution = 1 << 14
    /// The largest vocabulary.
    public static let maxVocabSize = 1 << 24

    /// Checks that a model of this configuration can be built and run: every size positive and
    /// within the limits above, head counts dividing their widths, the image side a multiple of
    /// the patch (ViT) or of 32 (ResNet). `CLIPModel` checks this before taking any weight, so a
    /// configuration from `config.json`, a file's shapes or a caller can never make encoding trap.
    /// - Throws: `WeightError` naming the first value out of range.
    public func validate() throws {
        func check(_ value: Int, _ name: String, _ range: ClosedRange<Int>) throws {
            guard range.contains(value) else {
                throw WeightError("invalid configuration: \(name) is \(value); expected \(range.lowerBound)...\(range.upperBound)")
            }
        }
        func checkHeads(_ heads: Int, _ name: String, width: Int, _ widthName: String) throws {
            try check(heads, name, 1...width)
            guard width % heads == 0 else {
                throw WeightError("invalid configuration: \(name) \(heads) do not divide the \(widthName) \(width)")
            }
        }
        try check(embedDim, "embedding dimension", 1...Self.maxWidth)
        switch vision {
        case let .vit(patch, width, layers, heads, resolution):
            try check(width, "vision width", 1...Self.maxWidth)
            try check(layers, "vision layers", 0...Self.maxLayers)
            try checkHeads(heads, "vision heads", width: width, "vision width")
            try check(resolution, "image size", 1...Self.maxResolution)
            try check(patch, "patch size", 1...resolution)
            guard resolution % patch == 0 else {
                throw WeightError("invalid configuration: image size \(resolution) is not a multiple of the patch size \(patch)")
            }
        case let .resnet(layers, width, heads, resolution):
            guard layers.count == 4 else {
                throw WeightError("invalid configuration: a ModifiedResNet has 4 stages, not \(layers.count) (\(layers))")
            }
            for (i, blocks) in layers.enumerated() { try check(blocks, "blocks in ResNet stage \(i + 1)", 1...Self.maxLayers) }
            // The stem's first convolutions have width / 2 channels.
            try check(width, "ResNet width", 2...Self.maxWidth)
            try checkHeads(heads, "attention-pool heads", width: width * 32, "attention-pool width (32 x ResNet width)")
            try check(resolution, "image size", 32...Self.maxResolution)
            guard resolution % 32 == 0 else {
                throw WeightError("invalid configuration: image size \(resolution) is not a multiple of 32 (the ResNet's total stride)")
            }
        }
        try check(contextLength, "context length", 1...Self.maxWidth)
        try check(vocabSize, "vocabulary size", 1...Self.maxVocabSize)
        try check(textWidth, "text width", 1...Self.maxWidth)
        try check(textLayers, "text layers", 0...Self.maxLayers)
        try checkHeads(textHeads, "text heads", width: textWidth, "text width")
    }
}
