import TensorCore

/// CLIP's ViT image tower.
///
/// pixels [B, 3, S, S] -> conv1 (kernel = stride = patch, no bias) -> grid² tokens
/// -> prepend class_embedding -> + positional_embedding -> ln_pre -> transformer
/// -> ln_post(token 0) -> @ proj [W, E] -> [B, E].
struct VisionTransformer {
    let conv1: Tensor
    let class_embedding: Tensor
    let positional_embedding: Tensor
    let ln_pre: LayerNorm
    let transformer: Transformer
    let ln_post: LayerNorm
    let proj: Tensor
    let patch: Int
    let resolution: Int

    init(_ w: WeightBuilder, patch: Int, width: Int, layers: Int, heads: Int, resolution: Int,
         embedDim: Int, activation: Activation) throws {
        let grid = resolution / patch
        conv1 = try w("visual.conv1.weight", [width, 3, patch, patch])
        class_embedding = try w("visual.class_embedding", [width])
        positional_embedding = try w("visual.positional_embedding", [grid * grid + 1, width])
        ln_pre = try LayerNorm(w, "visual.ln_pre", width: width)
        transformer = try Transformer(w, "visual.transformer", width: width, layers: layers, heads: heads, activation: activation)
        ln_post = try LayerNorm(w, "visual.ln_post", width: width)
        proj = try w("visual.proj", [width, embedDim])
        self.patch = patch
        self.resolution = resolution
    }

    /// Patch embedding: [B, 3, S, S] -> [B, grid², W] (exactly conv1 with kernel = stride = patch).
    func patchEmbed(_ pixels: Tensor) -> Tensor {
        pixels.patchify(patch).linear(weight: conv1.reshaped([conv1.shape[0], -1]))
    }

    /// The transformer's input: the class token before the patches, positions added, ln_pre.
    /// [B, grid², W] -> [B, 1 + grid², W].
    func tokens(_ patches: Tensor) -> Tensor {
        ln_pre(patches.prependingRow(class_embedding).addingPerItem(positional_embedding))
    }

    func callAsFunction(_ pixels: Tensor) -> Tensor {
        let tokens = tokens(patchEmbed(pixels))
        let (batch, length) = (tokens.shape[0], tokens.shape[1])
        let cls = transformer(tokens.reshaped([batch * length, -1]), lengths: Array(repeating: length, count: batch),
                              causal: false, outputs: Array(repeating: 0, count: batch))
        return ln_post(cls).matmul(proj)
    }

    /// Intermediate results for parity tests: the patch embedding and the first block's output.
    func trace(_ pixels: Tensor) -> [String: Tensor] {
        let patches = patchEmbed(pixels)
        let tokens = tokens(patches)
        let (batch, length) = (tokens.shape[0], tokens.shape[1])
        let block0 = transformer.blocks.first.map {
            $0(tokens.reshaped([batch * length, -1]), lengths: Array(repeating: length, count: batch), causal: false)
                .reshaped(tokens.shape)
        } ?? tokens
        return ["patch_embed": patches, "block0": block0]
    }
}
