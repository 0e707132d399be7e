import Foundation
import TensorCore
import Testing

/// Inputs with no entry within 0.1 of zero (for ReLU's kink).
func awayFromZero(_ t: Tensor) -> Tensor {
    for i in 0..<t.count where abs(t.data[i]) < 0.1 { t.data[i] = t.data[i] < 0 ? t.data[i] - 0.1 : t.data[i] + 0.1 }
    return t
}

/// Every differentiable operation of the tensor core, checked against finite differences.
let gradCases: [GradCase] = [
    GradCase("reshaped", { r in [randn([2, 3, 4], &r)] }) { $0[0].reshaped([4, -1]) },
    GradCase("adding", { r in [randn([3, 5], &r), randn([3, 5], &r)] }) { $0[0] + $0[1] },
    GradCase("adding the same tensor twice", { r in [randn([3, 5], &r)] }) { ($0[0] + $0[0]).multiplied($0[0]) },
    GradCase("scaled by Float", { r in [randn([3, 5], &r)] }) { $0[0].scaled(by: -1.7) },
    GradCase("scaled by tensor", { r in [randn([3, 5], &r), randn([], &r)] }) { $0[0].scaled(by: $0[1]) },
    GradCase("multiplied", { r in [randn([4, 3], &r), randn([4, 3], &r)] }) { $0[0].multiplied($0[1]) },
    GradCase("exp", { r in [randn([2, 3], &r, std: 0.5)] }) { $0[0].exp() },
    GradCase("sum", { r in [randn([3, 4], &r)] }) { $0[0].sum() },
    GradCase("mean", { r in [randn([3, 4], &r)] }) { $0[0].mean() },
    GradCase("weightedSum", { r in [randn([], &r), randn([], &r)] }) { weightedSum([(0.3, $0[0]), (2, $0[1])]) },
    GradCase("addingRowVector", { r in [randn([2, 3, 4], &r), randn([4], &r)] }) { $0[0].addingRowVector($0[1]) },
    GradCase("sumRows", { r in [randn([2, 3, 4], &r)] }) { $0[0].sumRows() },
    GradCase("quickGELU", { r in [randn([4, 6], &r, std: 2)] }) { $0[0].activated(.quickGELU) },
    GradCase("gelu", { r in [randn([4, 6], &r, std: 2)] }) { $0[0].activated(.gelu) },
    GradCase("relu", { r in [awayFromZero(randn([4, 6], &r))] }) { $0[0].activated(.relu) },
    GradCase("softmax", { r in [randn([3, 7], &r, std: 2)] }) { $0[0].softmax() },
    GradCase("logSoftmax", { r in [randn([3, 7], &r, std: 2)] }) { $0[0].logSoftmax() },
    GradCase("crossEntropy", { r in [randn([5, 4], &r, std: 2)] }) { $0[0].crossEntropy(targets: [0, 3, 1, 1, 2]) },
    GradCase("linear with bias", { r in [randn([2, 3, 5], &r), randn([4, 5], &r), randn([4], &r)] }) {
        $0[0].linear(weight: $0[1], bias: $0[2])
    },
    GradCase("linear without bias", { r in [randn([6, 5], &r), randn([4, 5], &r)] }) { $0[0].linear(weight: $0[1]) },
    GradCase("matmul", { r in [randn([3, 4], &r), randn([4, 5], &r)] }) { $0[0].matmul($0[1]) },
    GradCase("matmul A^T B", { r in [randn([4, 3], &r), randn([4, 5], &r)] }) { $0[0].matmul($0[1], transposeSelf: true) },
    GradCase("matmul A B^T", { r in [randn([3, 4], &r), randn([5, 4], &r)] }) { $0[0].matmul($0[1], transposeOther: true) },
    GradCase("matmul A^T B^T", { r in [randn([4, 3], &r), randn([5, 4], &r)] }) {
        $0[0].matmul($0[1], transposeSelf: true, transposeOther: true)
    },
    GradCase("matmul with itself", { r in [randn([3, 4], &r)] }) { $0[0].matmul($0[0], transposeOther: true) },
    GradCase("layerNorm", { r in [randn([2, 3, 6], &r), randn([6], &r), randn([6], &r)] }) {
        $0[0].layerNorm(weight: $0[1], bias: $0[2])
    },
    GradCase("selfAttention", { r in [randn([10, 3 * 8], &r)] }) { $0[0].selfAttention(heads: 2, causal: false, lengths: [5, 5]) },
    GradCase("selfAttention causal, sequences of different lengths", { r in [randn([9, 3 * 8], &r)] }) {
        $0[0].selfAttention(heads: 2, causal: true, lengths: [2, 7])
    },
    GradCase("selfAttention, one query per sequence", { r in [randn([7, 3 * 8], &r)] }) {
        $0[0].selfAttention(heads: 2, causal: false, lengths: [4, 3], queryPositions: [0, 2])
    },
    GradCase("selfAttention causal, one query per sequence", { r in [randn([8, 3 * 8], &r)] }) {
        $0[0].selfAttention(heads: 2, causal: true, lengths: [5, 3], queryPositions: [3, 2])
    },
    GradCase("attention q k v", { r in [randn([2, 1, 8], &r), randn([2, 5, 8], &r), randn([2, 5, 8], &r)] }) {
        Tensor.attention(q: $0[0], k: $0[1], v: $0[2], heads: 2)
    },
    GradCase("gatherRows with repeats", { r in [randn([6, 4], &r)] }) { Tensor.gatherRows($0[0], [1, 5, 1, 0, 1]) },
    GradCase("selectRows with repeats", { r in [randn([2, 3, 4], &r)] }) { $0[0].selectRows([0, 4, 4, 2]) },
    GradCase("l2Normalized", { r in [randn([3, 5], &r)] }) { $0[0].l2Normalized() },
    GradCase("transposedLastTwo", { r in [randn([2, 3, 4], &r)] }) { $0[0].transposedLastTwo() },
    GradCase("prependingRow shared", { r in [randn([2, 3, 4], &r), randn([4], &r)] }) { $0[0].prependingRow($0[1]) },
    GradCase("prependingRow per item", { r in [randn([2, 3, 4], &r), randn([2, 4], &r)] }) { $0[0].prependingRow($0[1]) },
    GradCase("addingPerItem", { r in [randn([2, 3, 4], &r), randn([3, 4], &r)] }) { $0[0].addingPerItem($0[1]) },
    GradCase("prefix", { r in [randn([5, 3], &r)] }) { $0[0].prefix(rows: 2) },
    GradCase("slice", { r in [randn([5, 2, 3], &r)] }) { $0[0].slice(rows: 1..<4) },
    GradCase("concatenated", { r in [randn([2, 3], &r), randn([4, 3], &r)] }) { Tensor.concatenated([$0[0], $0[1], $0[0]]) },
    GradCase("meanOverTokens", { r in [randn([2, 5, 3], &r)] }) { $0[0].meanOverTokens() },
    GradCase("patchify", { r in [randn([2, 3, 4, 6], &r)] }) { $0[0].patchify(2) },
    // Convolutions and BatchNorm take channel-major maps [C, N, H, W].
    GradCase("conv2d 3x3 pad 1", { r in [randn([3, 2, 5, 6], &r), randn([4, 3, 3, 3], &r, std: 0.3)] }) {
        $0[0].conv2d(weight: $0[1], padding: 1)
    },
    GradCase("conv2d 3x3 stride 2 pad 1", { r in [randn([2, 2, 7, 6], &r), randn([3, 2, 3, 3], &r, std: 0.3)] }) {
        $0[0].conv2d(weight: $0[1], stride: 2, padding: 1)
    },
    GradCase("conv2d 2x3 kernel, no padding", { r in [randn([2, 3, 5, 6], &r), randn([2, 2, 2, 3], &r, std: 0.3)] }) {
        $0[0].conv2d(weight: $0[1])
    },
    GradCase("conv2d 1x1", { r in [randn([5, 2, 3, 4], &r), randn([6, 5, 1, 1], &r, std: 0.3)] }) {
        $0[0].conv2d(weight: $0[1])
    },
    GradCase("conv2d frozen input", frozen: [0], { r in [randn([2, 1, 5, 5], &r), randn([3, 2, 3, 3], &r, std: 0.3)] }) {
        $0[0].conv2d(weight: $0[1], padding: 1)
    },
    GradCase("swappingFirstTwoAxes", { r in [randn([2, 3, 4], &r)] }) { $0[0].swappingFirstTwoAxes() },
    GradCase("avgPool2d 2", { r in [randn([2, 3, 4, 6], &r)] }) { $0[0].avgPool2d(2) },
    GradCase("avgPool2d 3, partial windows", { r in [randn([1, 2, 7, 8], &r)] }) { $0[0].avgPool2d(3) },
    GradCase("avgPool2d 3 ragged", { r in [randn([1, 2, 7, 8], &r)] }) { $0[0].avgPool2d(3) },
    GradCase("batchNorm2d training", { r in [randn([4, 3, 3, 2], &r, std: 2), randn([4], &r), randn([4], &r)] }) {
        $0[0].batchNorm2d(weight: $0[1], bias: $0[2], runningMean: nil, runningVar: nil, training: true)
    },
    GradCase("batchNorm2d training + residual + ReLU",
             { r in [randn([3, 3, 3, 2], &r, std: 2), randn([3], &r), randn([3], &r), randn([3, 3, 3, 2], &r)] }) {
        $0[0].batchNorm2d(weight: $0[1], bias: $0[2], runningMean: nil, runningVar: nil, training: true,
                          residual: $0[3], relu: true)
    },
    GradCase("batchNorm2d inference + ReLU",
             { r in [randn([3, 2, 2, 3], &r, std: 2), randn([3], &r), randn([3], &r)] }) {
        $0[0].batchNorm2d(weight: $0[1], bias: $0[2], runningMean: Tensor([0.5, -1, 2], shape: [3]),
                          runningVar: Tensor([0.5, 2, 1.5], shape: [3]), training: false, relu: true)
    },
    GradCase("loss-like chain", { r in [randn([4, 6], &r), randn([4, 6], &r), randn([], &r, std: 0.5)] }) {
        let a = $0[0].l2Normalized(), b = $0[1].l2Normalized()
        let logits = a.matmul(b, transposeOther: true).scaled(by: $0[2].exp())
        return weightedSum([(0.5, logits.crossEntropy(targets: [0, 1, 2, 3])),
                            (0.5, logits.transposedLastTwo().crossEntropy(targets: [0, 1, 2, 3]))])
    },
]

@Suite struct GradientTests {
    @Test(arguments: gradCases)
    func backwardMatchesFiniteDifferences(_ c: GradCase) {
        let failures = gradCheck(c)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    @Test func checkerCatchesAMissingTerm() {
        // x * x with one factor detached: backward sees half the true derivative.
        let wrong = GradCase("wrong", { r in [randn([3, 3], &r)] }) { $0[0].multiplied($0[0].detached()) }
        #expect(!gradCheck(wrong).isEmpty)
        // A small error (1% of the true gradient) in the analytic value is caught as well.
        let slightlyWrong = GradCase("slightly wrong", { r in [randn([3, 3], &r)] }) {
            let x = $0[0]
            return x.scaled(by: 1.01).adding(GradMode.withoutGrad { x.scaled(by: -0.01) }).exp()
        }
        #expect(!gradCheck(slightlyWrong).isEmpty)
    }

    @Test func gradientsAccumulateAcrossBackwardCalls() {
        let x = Tensor([1, 2, 3], shape: [3])
        x.requiresGrad = true
        x.scaled(by: 2).sum().backward()
        x.scaled(by: 3).sum().backward()
        #expect(x.grad?.array == [5, 5, 5])
        x.zeroGrad()
        #expect(x.grad == nil)
    }

    /// Gradients are kept without a copy only when nothing else holds them: one backward result
    /// shared by two inputs (an addition), a caller's seed, or a view of a live tensor.
    @Test func gradientsNeverShareMemory() {
        let a = Tensor([1, 2, 3], shape: [3]), b = Tensor([4, 5, 6], shape: [3])
        a.requiresGrad = true
        b.requiresGrad = true
        (a + b).backward(gradient: Tensor([1, 1, 1], shape: [3]))
        #expect(a.grad!.data != b.grad!.data)
        a.grad!.data[0] = 7
        #expect(b.grad!.array == [1, 1, 1])

        let seed = Tensor([2, 3, 4], shape: [3])
        a.zeroGrad()
        a.backward(gradient: seed)
        #expect(a.grad!.data != seed.data && a.grad!.array == [2, 3, 4])

        let m = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        m.requiresGrad = true
        let g = Tensor([1, 1, 1, 1, 1, 1], shape: [3, 2])
        m.reshaped([3, 2]).backward(gradient: g)
        #expect(m.grad!.data != g.data && m.grad!.shape == [2, 3])
    }

    @Test func backwardFreesTheGraph() {
        let x = Tensor([1, 2, 3, 4], shape: [2, 2])
        x.requiresGrad = true
        weak var saved: TensorStorage?
        let loss: Tensor = {
            let h = x.matmul(x)
            saved = h.storage  // GELU's backward reads its input
            return h.activated(.gelu).sum()
        }()
        #expect(saved != nil)  // kept alive by the recorded graph
        loss.backward()
        #expect(saved == nil)  // released once backward has consumed it
        #expect(x.grad != nil)
    }

    @Test func graphKeepsOnlyWhatBackwardReads() {
        // ReLU's backward reads its output and a sum's reads nothing, so neither the ReLU's
        // input nor its output outlives the forward pass here; the matmul's factor x (a leaf)
        // is kept.
        let x = Tensor([1, -2, 3, 4], shape: [2, 2])
        x.requiresGrad = true
        weak var input: TensorStorage?, output: TensorStorage?
        let loss: Tensor = {
            let h = x.matmul(x)
            let r = h.activated(.relu)
            input = h.storage
            output = r.storage
            return r.scaled(by: 2).sum()
        }()
        #expect(input == nil)
        #expect(output != nil)  // the ReLU's saved output
        loss.backward()
        #expect(output == nil)
        #expect(x.grad?.array == GradMode.withoutGrad {
            // d/dx sum(2 relu(x x)) with x x = [[-5, -10], [15, 10]]: G = 2 [[0, 0], [1, 1]], dx = G x^T + x^T G.
            let g = Tensor([0, 0, 2, 2], shape: [2, 2])
            return g.matmul(x, transposeOther: true).adding(x.matmul(g, transposeSelf: true)).array
        })
    }

    @Test func forwardWithoutGradRecordsNothing() {
        let x = Tensor([1, 2], shape: [2])
        x.requiresGrad = true
        weak var intermediate: Tensor?
        let y: Tensor = GradMode.withoutGrad {
            let h = x.scaled(by: 2)
            intermediate = h
            return h.sum()
        }
        #expect(intermediate == nil)
        #expect(y.scalar == 6)
    }

    @Test func batchNormTrainingUpdatesRunningStatisticsAsPyTorch() {
        // Channel-major [C=2, N=2, H=1, W=2]: channel 0 holds 1...4, mean 2.5, unbiased variance 5/3.
        let x = Tensor([1, 2, 3, 4, 10, 10, 10, 10], shape: [2, 2, 1, 2])
        let rm = Tensor([0, 1], shape: [2]), rv = Tensor([1, 1], shape: [2])
        let y = x.batchNorm2d(weight: Tensor([1, 1], shape: [2]), bias: Tensor([0, 0], shape: [2]),
                              runningMean: rm, runningVar: rv, training: true)
        #expect(abs(rm.data[0] - 0.25) < 1e-6 && abs(rm.data[1] - 1.9) < 1e-6)
        #expect(abs(rv.data[0] - (0.9 + 0.1 * 5 / 3)) < 1e-6 && abs(rv.data[1] - 0.9) < 1e-6)
        // Normalised with the biased variance 1.25.
        #expect(abs(y.data[0] - (1 - 2.5) / (1.25 + 1e-5).squareRoot()) < 1e-5)
    }

    /// conv2d against the definition, summed in Double, forward and backward, on a map big
    /// enough that im2col runs in several steps.
    @Test func convolutionMatchesDirectSumAcrossIm2colSteps() {
        var rng = SeededRandom(seed: 3)
        let (c, n, h, w, o, k, stride, pad) = (3, 2, 203, 200, 2, 3, 1, 1)
        let x = randn([c, n, h, w], &rng), weight = randn([o, c, k, k], &rng, std: 0.3)
        x.requiresGrad = true
        weight.requiresGrad = true
        let y = x.conv2d(weight: weight, stride: stride, padding: pad)
        let (ho, wo) = (y.shape[2], y.shape[3])
        #expect(n * ho * wo > (2 << 20) / (c * k * k))  // more columns than one im2col step holds
        let g = randn(y.shape, &rng)
        y.backward(gradient: g)
        var worstY: Double = 0, dw = [Double](repeating: 0, count: weight.count), dx = [Double](repeating: 0, count: x.count)
        for oc in 0..<o { for img in 0..<n { for yy in 0..<ho { for xx in 0..<wo {
            var sum: Double = 0
            let gv = Double(g.data[((oc * n + img) * ho + yy) * wo + xx])
            for ch in 0..<c { for i in 0..<k { for j in 0..<k {
                let sy = yy * stride + i - pad, sx = xx * stride + j - pad
                guard sy >= 0, sy < h, sx >= 0, sx < w else { continue }
                let xi = ((ch * n + img) * h + sy) * w + sx, wi = ((oc * c + ch) * k + i) * k + j
                sum += Double(x.data[xi]) * Double(weight.data[wi])
                dw[wi] += gv * Double(x.data[xi])
                dx[xi] += gv * Double(weight.data[wi])
            } } }
            worstY = max(worstY, abs(sum - Double(y.data[((oc * n + img) * ho + yy) * wo + xx])))
        } } } }
        #expect(worstY < 1e-4)
        let worstW = zip(dw, weight.grad!.array).map { abs($0 - Double($1)) / max(1, abs($0)) }.max()!
        let worstX = zip(dx, x.grad!.array).map { abs($0 - Double($1)) }.max()!
        #expect(worstW < 1e-4, "dW worst relative error \(worstW)")
        #expect(worstX < 1e-4, "dx worst error \(worstX)")
    }

    /// Average pooling is the window's sum from 0, row by row, times 1/k², exactly; inputs
    /// outside every whole window get no gradient.
    @Test(arguments: [(2, [3, 2, 6, 10]), (2, [1, 1, 5, 3]), (3, [2, 1, 7, 8])]) func avgPoolIsTheWindowMean(k: Int, shape: [Int]) {
        var rng = SeededRandom(seed: 5)
        let x = randn(shape, &rng)
        x.requiresGrad = true
        let y = x.avgPool2d(k)
        let (h, w) = (shape[2], shape[3]), (ho, wo) = (h / k, w / k)
        #expect(y.shape == [shape[0], shape[1], ho, wo])
        var expected: [Float] = []
        for p in 0..<(shape[0] * shape[1]) { for i in 0..<ho { for j in 0..<wo {
            var sum: Float = 0
            for di in 0..<k { for dj in 0..<k { sum += x.data[(p * h + i * k + di) * w + j * k + dj] } }
            expected.append(sum * (1 / Float(k * k)))
        } } }
        #expect(y.array == expected)
        let g = randn(y.shape, &rng)
        y.backward(gradient: g)
        let dx = x.grad!.array
        for p in 0..<(shape[0] * shape[1]) { for r in 0..<h { for c in 0..<w {
            let inWindow = r < ho * k && c < wo * k
            let want = inWindow ? g.data[(p * ho + r / k) * wo + c / k] * (1 / Float(k * k)) : 0
            #expect(dx[(p * h + r) * w + c] == want)
        } } }
    }

    /// Packed sequences attend only within themselves: equal to each sequence on its own, and
    /// a chosen query row equals that row of the full result.
    @Test func packedAttentionEqualsSequencesAlone() {
        var rng = SeededRandom(seed: 11)
        let qkv = randn([9, 3 * 8], &rng)
        for causal in [false, true] {
            let packed = qkv.selfAttention(heads: 2, causal: causal, lengths: [2, 7])
            let first = qkv.slice(rows: 0..<2).selfAttention(heads: 2, causal: causal, lengths: [2])
            let second = qkv.slice(rows: 2..<9).selfAttention(heads: 2, causal: causal, lengths: [7])
            #expect(packed.array == first.array + second.array)
            let picked = qkv.selfAttention(heads: 2, causal: causal, lengths: [2, 7], queryPositions: [1, 4])
            #expect(picked.array == Array(packed.array[8..<16]) + Array(packed.array[48..<56]))
        }
    }

    @Test func crossEntropyValue() {
        let logits = Tensor([1, 2, 3, 0, 0, 0], shape: [2, 3])
        let ce = logits.crossEntropy(targets: [2, 0]).scalar
        let expected = ((-3 + log(exp(1.0) + exp(2.0) + exp(3.0))) + log(3.0)) / 2
        #expect(abs(Double(ce) - expected) < 1e-6)
    }
}
