import Foundation
import TensorCore

/// A linear classifier on frozen image features (softmax regression), trained with AdamW, as
/// CleanCLIP's `get_linear_probe_metrics`: unnormalised features, cross-entropy, AdamW with
/// weight decay on the weight only (bias 0), cosine learning-rate schedule without warmup
/// (lr_t = 0.5 (1 + cos(pi t / T)) lr, T = steps per epoch x epochs), shuffled mini-batches.
///
/// This is a small dedicated loop for a [C, E] head; the model finetuning has its own optimiser.
/// ```
/// let probe = try LinearProbe.train(features: trainEmb, labels: trainLabels, classCount: 10)
/// let predictions = try probe.predict(testEmb)
/// ```
public struct LinearProbe: Sendable {
    /// [C, E] (PyTorch `nn.Linear` layout).
    public let weight: Tensor
    /// [C].
    public let bias: Tensor

    public struct Options: Sendable {
        public var epochs = 10
        public var batchSize = 128
        /// Reference: 0.005.
        public var learningRate: Float = 0.005
        /// Reference: 0.01 on the weight.
        public var weightDecay: Float = 0.01
        public var beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8
        public var seed: UInt64 = 0
        public init() {}
    }

    /// Trains on features [N, E] with labels in 0..<classCount.
    public static func train(features: Tensor, labels: [Int], classCount: Int, options o: Options = Options()) throws -> LinearProbe {
        guard features.rank == 2, features.shape[0] == labels.count, !labels.isEmpty else {
            throw EvaluationError("linear probe: \(features.rank == 2 ? features.shape[0] : 0) feature rows for \(labels.count) labels")
        }
        guard classCount >= 2 else { throw EvaluationError("linear probe needs at least 2 classes") }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
            throw EvaluationError("linear probe: label \(labels[bad]) of row \(bad) is outside 0..<\(classCount)")
        }
        guard (1...AdamW.maxStepCount).contains(o.epochs), o.batchSize >= 1 else {
            throw EvaluationError("linear probe: epochs must be between 1 and \(AdamW.maxStepCount) and the batch size positive")
        }
        let n = labels.count, e = features.shape[1], c = classCount
        var rng = SeededRandom(seed: o.seed)
        // nn.Linear's default init: U(-1/sqrt(E), 1/sqrt(E)) for weight and bias.
        let bound = 1 / Float(e).squareRoot()
        let w = Tensor.randomUniform([c, e], bound: bound, using: &rng)
        let b = Tensor.randomUniform([c], bound: bound, using: &rng)
        var mW = [Float](repeating: 0, count: c * e), vW = mW
        var mB = [Float](repeating: 0, count: c), vB = mB
        let stepsPerEpoch = n / o.batchSize + (n % o.batchSize == 0 ? 0 : 1)  // no overflow for any batch size
        let total = stepsPerEpoch * o.epochs
        var step = 0
        let x = features.detached()
        for _ in 0..<o.epochs {
            var order = Array(0..<n)
            order.shuffle(using: &rng)
            var start = 0
            while start < n {
                let idx = Array(order[start..<(start + min(o.batchSize, n - start))])
                start += idx.count
                let lr = 0.5 * (1 + cos(Float.pi * Float(step) / Float(total))) * o.learningRate
                step += 1
                let xb = x.selectRows(idx)                                  // [B, E]
                let logits = xb.linear(weight: w.detached(), bias: b.detached())  // [B, C]
                let p = logits.softmax()
                let bsz = idx.count
                // dL/dlogits = (softmax - onehot) / B
                let g = p.copy()
                for (r, i) in idx.enumerated() { g.data[r * c + labels[i]] -= 1 }
                for q in 0..<(bsz * c) { g.data[q] /= Float(bsz) }
                let gW = g.matmul(xb, transposeSelf: true)                  // [C, E]
                let gB = g.sumRows()                                         // [C]
                let t = Float(step)
                let bc1 = 1 - powf(o.beta1, t), bc2 = 1 - powf(o.beta2, t)
                func adamw(_ param: Tensor, _ grad: Tensor, _ m: inout [Float], _ v: inout [Float], decay: Float) {
                    for q in 0..<param.count {
                        let gq = grad.data[q]
                        param.data[q] *= 1 - lr * decay
                        m[q] = o.beta1 * m[q] + (1 - o.beta1) * gq
                        v[q] = o.beta2 * v[q] + (1 - o.beta2) * gq * gq
                        param.data[q] -= lr * (m[q] / bc1) / ((v[q] / bc2).squareRoot() + o.eps)
                    }
                }
                adamw(w, gW, &mW, &vW, decay: o.weightDecay)
                adamw(b, gB, &mB, &vB, decay: 0)
            }
        }
        return LinearProbe(weight: w, bias: b)
    }

    /// Logits [N, C] for features [N, E].
    public func logits(_ features: Tensor) throws -> Tensor {
        guard features.rank == 2, features.shape[1] == weight.shape[1] else {
            throw EvaluationError("linear probe: features have shape \(features.shape); expected [N, \(weight.shape[1])]")
        }
        return features.detached().linear(weight: weight.detached(), bias: bias.detached())
    }

    /// Top-1 class per row.
    public func predict(_ features: Tensor) throws -> [Int] {
        ZeroShotClassifier.topK(scores: try logits(features), k: 1).map { $0[0] }
    }

    /// CA (and with triggered features and a target, ASR and per-class ASR) on a test set.
    public func report(clean: Tensor, labels: [Int], classNames: [String],
                       triggered: Tensor? = nil, target: Int? = nil) throws -> EvaluationReport {
        guard !labels.isEmpty else { throw EvaluationError("the evaluation set is empty") }
        guard clean.rank == 2, clean.shape[0] == labels.count else {
            throw EvaluationError("\(clean.rank == 2 ? clean.shape[0] : 0) feature rows for \(labels.count) labels")
        }
        let top = ZeroShotClassifier.topK(scores: try logits(clean), k: 5)
        let acc = try Metrics.accuracy(topK: top, labels: labels)
        var r = EvaluationReport(cleanAccuracy: acc.top1, top5Accuracy: acc.top5, nImages: labels.count)
        if let triggered, let target {
            guard triggered.shape == clean.shape else { throw EvaluationError("triggered features have shape \(triggered.shape); clean \(clean.shape)") }
            let a = try Metrics.attackSuccess(predictions: try predict(triggered), labels: labels, target: target, classNames: classNames)
            r.target = target < classNames.count ? classNames[target] : "\(target)"
            r.targetLabel = target
            r.asr = a.asr
            r.nASRImages = a.count
            r.perClassASR = a.perClass
        }
        return r
    }
}
