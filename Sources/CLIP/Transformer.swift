import TensorCore

/// `nn.Linear`: weight [out, in], optional bias [out].
struct Linear {
    let weight: Tensor
    let bias: Tensor?

    init(_ w: WeightBuilder, _ name: String, in inputs: Int, out outputs: Int, bias hasBias: Bool = true) throws {
        weight = try w("\(name).weight", [outputs, inputs])
        bias = hasBias ? try w("\(name).bias", [outputs]) : nil
    }

    func callAsFunction(_ x: Tensor) -> Tensor { x.linear(weight: weight, bias: bias) }
}

/// `nn.LayerNorm` over the last dimension, eps 1e-5.
struct LayerNorm {
    let weight: Tensor
    let bias: Tensor

    init(_ w: WeightBuilder, _ name: String, width: Int) throws {
        weight = try w("\(name).weight", [width])
        bias = try w("\(name).bias", [width])
    }

    func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias) }
}

/// CLIP's pre-LN transformer block: x += attn(ln_1 x); x += mlp(ln_2 x),
/// mlp = c_fc (4W) -> activation -> c_proj; attention with packed in_proj (q; k; v).
struct ResidualAttentionBlock {
    let ln_1: LayerNorm, ln_2: LayerNorm
    let in_proj_weight: Tensor, in_proj_bias: Tensor
    let out_proj: Linear
    let c_fc: Linear, c_proj: Linear
    let heads: Int
    let activation: Activation

    init(_ w: WeightBuilder, _ name: String, width: Int, heads: Int, activation: Activation) throws {
        in_proj_weight = try w("\(name).attn.in_proj_weight", [3 * width, width])
        in_proj_bias = try w("\(name).attn.in_proj_bias", [3 * width])
        out_proj = try Linear(w, "\(name).attn.out_proj", in: width, out: width)
        ln_1 = try LayerNorm(w, "\(name).ln_1", width: width)
        c_fc = try Linear(w, "\(name).mlp.c_fc", in: width, out: 4 * width)
        c_proj = try Linear(w, "\(name).mlp.c_proj", in: 4 * width, out: width)
        ln_2 = try LayerNorm(w, "\(name).ln_2", width: width)
        self.heads = heads
        self.activation = activation
    }

    /// x: [T, W], the rows of sequences of `lengths` one after another -> [T, W]; with
    /// `outputs` (one position per sequence) only those rows are computed -> [sequences, W]
    /// (keys and values still come from every position).
    func callAsFunction(_ x: Tensor, lengths: [Int], causal: Bool, outputs: [Int]? = nil) -> Tensor {
        let qkv = ln_1(x).linear(weight: in_proj_weight, bias: in_proj_bias)
        var residual = x
        if let outputs {
            var start = 0, rows: [Int] = []
            for (l, p) in zip(lengths, outputs) { rows.append(start + p); start += l }
            residual = x.selectRows(rows)
        }
        let attention = qkv.selfAttention(heads: heads, causal: causal, lengths: lengths, queryPositions: outputs)
        let h = residual + out_proj(attention)
        return h + c_proj(c_fc(ln_2(h)).activated(activation))
    }
}

/// A stack of residual attention blocks (`transformer.resblocks.N`).
struct Transformer {
    let blocks: [ResidualAttentionBlock]

    init(_ w: WeightBuilder, _ name: String, width: Int, layers: Int, heads: Int, activation: Activation) throws {
        blocks = try (0..<layers).map {
            try ResidualAttentionBlock(w, "\(name).resblocks.\($0)", width: width, heads: heads, activation: activation)
        }
    }

    /// x: [T, W], sequences of `lengths` one after another -> [T, W], or -> [sequences, W] at
    /// one position per sequence (`outputs`): a tower that reads one token (the class token,
    /// the end of text) needs no other row of the last block, so that block computes only those
    /// (exact, and 1/12 less work).
    func callAsFunction(_ x: Tensor, lengths: [Int], causal: Bool, outputs: [Int]? = nil) -> Tensor {
        var h = x
        for (i, block) in blocks.enumerated() {
            h = block(h, lengths: lengths, causal: causal, outputs: i == blocks.count - 1 ? outputs : nil)
        }
        if let outputs, blocks.isEmpty {
            var start = 0, rows: [Int] = []
            for (l, p) in zip(lengths, outputs) { rows.append(start + p); start += l }
            return h.selectRows(rows)
        }
        return h
    }
}
