import TensorCore

/// CLIP's text tower.
///
/// ids [B, ctx] -> token_embedding + positional_embedding -> transformer (causal mask)
/// -> ln_final at each row's end-of-text position (the largest id, first occurrence)
/// -> @ text_projection [W, E] -> [B, E].
///
/// Because the mask is causal, the end-of-text output depends only on tokens up to it, so each
/// text runs on its own first `eot + 1` positions only: exact, and much faster for short
/// captions.
struct TextTransformer {
    let token_embedding: Tensor
    let positional_embedding: Tensor
    let transformer: Transformer
    let ln_final: LayerNorm
    let text_projection: Tensor
    let contextLength: Int
    let vocabSize: Int

    init(_ w: WeightBuilder, _ c: CLIPConfig) throws {
        token_embedding = try w("token_embedding.weight", [c.vocabSize, c.textWidth])
        positional_embedding = try w("positional_embedding", [c.contextLength, c.textWidth])
        transformer = try Transformer(w, "transformer", width: c.textWidth, layers: c.textLayers,
                                      heads: c.textHeads, activation: c.activation)
        ln_final = try LayerNorm(w, "ln_final", width: c.textWidth)
        text_projection = try w("text_projection", [c.textWidth, c.embedDim])
        contextLength = c.contextLength
        vocabSize = c.vocabSize
    }

    /// ids: row-major [batch, contextLength], already validated.
    func callAsFunction(_ ids: [Int32], batch: Int) -> Tensor {
        let ctx = contextLength
        var eot = [Int](repeating: 0, count: batch)
        for b in 0..<batch {
            let row = ids[(b * ctx)..<((b + 1) * ctx)]
            var best = 0
            for (j, id) in row.enumerated() where id > row[row.startIndex + best] { best = j }
            eot[b] = best
        }
        // Each text runs only up to its own end of text, the texts' rows packed one after
        // another: exact (the mask is causal), and no row is spent on padding.
        let lengths = eot.map { $0 + 1 }
        var flat: [Int] = [], positions: [Int] = []
        flat.reserveCapacity(lengths.reduce(0, +))
        for b in 0..<batch {
            for j in 0..<lengths[b] { flat.append(Int(ids[b * ctx + j])); positions.append(j) }
        }
        let x = Tensor.gatherRows(token_embedding, flat) + Tensor.gatherRows(positional_embedding, positions)
        let pooled = transformer(x, lengths: lengths, causal: true, outputs: eot)
        return ln_final(pooled).matmul(text_projection)
    }
}
