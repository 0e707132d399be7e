import TensorCore

/// `nn.BatchNorm2d` with running statistics (eps 1e-5).
struct BatchNorm2d {
    let weight: Tensor, bias: Tensor
    let running_mean: Tensor, running_var: Tensor
    let num_batches_tracked: Tensor

    init(_ w: WeightBuilder, _ name: String, channels: Int) throws {
        weight = try w("\(name).weight", [channels])
        bias = try w("\(name).bias", [channels])
        running_mean = try w("\(name).running_mean", [channels], kind: .buffer)
        running_var = try w("\(name).running_var", [channels], kind: .buffer)
        num_batches_tracked = try w("\(name).num_batches_tracked", [], kind: .counter)
    }

    /// Inference mode normalises with the running statistics. Training mode (`nn.BatchNorm2d`
    /// after `.train()`) normalises with the batch's statistics, updates the running ones in
    /// place (momentum 0.1, unbiased variance) and counts the batch in num_batches_tracked.
    /// `residual` and `relu` fuse the bottleneck's add and ReLU into the same pass.
    /// x: channel-major [C, N, H, W].
    func callAsFunction(_ x: Tensor, training: Bool, residual: Tensor? = nil, relu: Bool = false) -> Tensor {
        if training { num_batches_tracked.data[0] += 1 }
        return x.batchNorm2d(weight: weight, bias: bias, runningMean: running_mean, runningVar: running_var,
                             training: training, residual: residual, relu: relu)
    }
}

/// A bias-free 2-D convolution weight [out, in, k, k] with its padding.
struct Conv2d {
    let weight: Tensor
    let padding: Int

    init(_ w: WeightBuilder, _ name: String, in inputs: Int, out outputs: Int, kernel: Int, padding: Int = 0) throws {
        weight = try w("\(name).weight", [outputs, inputs, kernel, kernel])
        self.padding = padding
    }

    func callAsFunction(_ x: Tensor, stride: Int = 1) -> Tensor {
        x.conv2d(weight: weight, stride: stride, padding: padding)
    }
}

/// ModifiedResNet's anti-aliased bottleneck: every conv has stride 1 and an AvgPool2d(stride)
/// follows conv2; the downsample branch is AvgPool2d(stride) -> 1x1 conv -> BN.
struct Bottleneck {
    let conv1: Conv2d, bn1: BatchNorm2d
    let conv2: Conv2d, bn2: BatchNorm2d
    let conv3: Conv2d, bn3: BatchNorm2d
    let downsample: (conv: Conv2d, bn: BatchNorm2d)?
    let stride: Int

    static let expansion = 4

    init(_ w: WeightBuilder, _ name: String, inplanes: Int, planes: Int, stride: Int) throws {
        conv1 = try Conv2d(w, "\(name).conv1", in: inplanes, out: planes, kernel: 1)
        bn1 = try BatchNorm2d(w, "\(name).bn1", channels: planes)
        conv2 = try Conv2d(w, "\(name).conv2", in: planes, out: planes, kernel: 3, padding: 1)
        bn2 = try BatchNorm2d(w, "\(name).bn2", channels: planes)
        conv3 = try Conv2d(w, "\(name).conv3", in: planes, out: planes * Self.expansion, kernel: 1)
        bn3 = try BatchNorm2d(w, "\(name).bn3", channels: planes * Self.expansion)
        if stride > 1 || inplanes != planes * Self.expansion {
            downsample = (try Conv2d(w, "\(name).downsample.0", in: inplanes, out: planes * Self.expansion, kernel: 1),
                          try BatchNorm2d(w, "\(name).downsample.1", channels: planes * Self.expansion))
        } else {
            downsample = nil
        }
        self.stride = stride
    }

    /// x: channel-major [C, N, H, W].
    func callAsFunction(_ x: Tensor, training: Bool) -> Tensor {
        var out = bn1(conv1(x), training: training, relu: true)
        out = bn2(conv2(out), training: training, relu: true).avgPool2d(stride)
        let identity = downsample.map { $0.bn($0.conv(x.avgPool2d(stride)), training: training) } ?? x
        return bn3(conv3(out), training: training, residual: identity, relu: true)
    }
}

/// QKV attention pooling: the spatial mean token, prepended to the grid tokens, is the only
/// query; output projected by c_proj to the embedding dimension.
struct AttentionPool2d {
    let positional_embedding: Tensor
    let q_proj: Linear, k_proj: Linear, v_proj: Linear, c_proj: Linear
    let heads: Int

    init(_ w: WeightBuilder, _ name: String, spatial: Int, embedDim: Int, heads: Int, outputDim: Int) throws {
        positional_embedding = try w("\(name).positional_embedding", [spatial * spatial + 1, embedDim])
        k_proj = try Linear(w, "\(name).k_proj", in: embedDim, out: embedDim)
        q_proj = try Linear(w, "\(name).q_proj", in: embedDim, out: embedDim)
        v_proj = try Linear(w, "\(name).v_proj", in: embedDim, out: embedDim)
        c_proj = try Linear(w, "\(name).c_proj", in: embedDim, out: outputDim)
        self.heads = heads
    }

    /// x: channel-major [C, B, H, W] -> [B, outputDim].
    func callAsFunction(_ x: Tensor) -> Tensor {
        let (c, b) = (x.shape[0], x.shape[1])
        let grid = x.reshaped([c, b, -1]).swappingFirstTwoAxes().transposedLastTwo()  // [B, HW, C]
        let tokens = grid.prependingRow(grid.meanOverTokens())        // [B, HW+1, C]
            .addingPerItem(positional_embedding)
        let query = tokens.selectRows((0..<b).map { $0 * tokens.shape[1] }).reshaped([b, 1, c])
        let out = Tensor.attention(q: q_proj(query), k: k_proj(tokens), v: v_proj(tokens), heads: heads)
        return c_proj(out).reshaped([b, -1])
    }
}

/// CLIP's ModifiedResNet image tower (RN50, RN101, RN50x4, ...): a three-conv stem with
/// AvgPool2d(2), four stages of anti-aliased bottlenecks, and attention pooling.
struct ModifiedResNet {
    let conv1: Conv2d, bn1: BatchNorm2d
    let conv2: Conv2d, bn2: BatchNorm2d
    let conv3: Conv2d, bn3: BatchNorm2d
    let stages: [[Bottleneck]]
    let attnpool: AttentionPool2d

    init(_ w: WeightBuilder, layers: [Int], width: Int, heads: Int, resolution: Int, embedDim: Int) throws {
        conv1 = try Conv2d(w, "visual.conv1", in: 3, out: width / 2, kernel: 3, padding: 1)
        bn1 = try BatchNorm2d(w, "visual.bn1", channels: width / 2)
        conv2 = try Conv2d(w, "visual.conv2", in: width / 2, out: width / 2, kernel: 3, padding: 1)
        bn2 = try BatchNorm2d(w, "visual.bn2", channels: width / 2)
        conv3 = try Conv2d(w, "visual.conv3", in: width / 2, out: width, kernel: 3, padding: 1)
        bn3 = try BatchNorm2d(w, "visual.bn3", channels: width)
        var inplanes = width
        var stages: [[Bottleneck]] = []
        for (i, blocks) in layers.enumerated() {
            let planes = width << i
            var stage: [Bottleneck] = []
            for j in 0..<blocks {
                stage.append(try Bottleneck(w, "visual.layer\(i + 1).\(j)", inplanes: inplanes, planes: planes,
                                            stride: j == 0 && i > 0 ? 2 : 1))
                inplanes = planes * Bottleneck.expansion
            }
            stages.append(stage)
        }
        self.stages = stages
        attnpool = try AttentionPool2d(w, "visual.attnpool", spatial: resolution / 32, embedDim: width * 32,
                                       heads: heads, outputDim: embedDim)
    }

    /// The stem: pixels [B, 3, S, S] -> channel-major [W, B, S/4, S/4] (three conv-BN-ReLU
    /// units, then AvgPool2d(2)). The tower keeps its maps channel-major (see conv2d).
    func stem(_ pixels: Tensor, training: Bool) -> Tensor {
        var x = bn1(conv1(pixels.swappingFirstTwoAxes(), stride: 2), training: training, relu: true)
        x = bn2(conv2(x), training: training, relu: true)
        return bn3(conv3(x), training: training, relu: true).avgPool2d(2)
    }

    /// `training`: BatchNorm layers use and update batch statistics (see `BatchNorm2d`).
    func callAsFunction(_ pixels: Tensor, training: Bool = false) -> Tensor {
        var x = stem(pixels, training: training)
        for stage in stages { for block in stage { x = block(x, training: training) } }
        return attnpool(x)
    }
}
