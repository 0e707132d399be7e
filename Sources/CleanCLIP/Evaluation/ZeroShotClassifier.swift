import Foundation
import TensorCore

/// Zero-shot classification by nearest class embedding: the one classifier behind evaluation,
/// the demo, the C ABI's `cleanclip_classifier` and the Swift example.
///
/// Class embedding of class c = normalise( mean_t normalise( text(template_t(c)) ) ), as CLIP and
/// CleanCLIP do; a prediction is argmax_c <normalise(image), class_c>. The temperature does not
/// change the ranking, so only `probabilities` applies it: softmax_c(exp(logit_scale) * cosine).
/// ```
/// let zs = try ZeroShotClassifier(classes: .cifar10) { prompts in try model.encodeTexts(prompts) }
/// let top5 = try zs.topK(imageEmbeddings, k: 5)
/// let (best, p) = try zs.classify(imageEmbeddings, logitScale: model.logitScaleValue)
/// ```
public struct ZeroShotClassifier: Sendable {
    public let classNames: [String]
    /// [C, E], unit rows.
    public let classEmbeddings: Tensor

    /// From ready class embeddings [C, E] (rows are normalised here).
    public init(classEmbeddings: Tensor, classNames: [String]) throws {
        guard classEmbeddings.rank == 2, classEmbeddings.shape[0] == classNames.count, classNames.count > 0 else {
            throw EvaluationError("class embeddings have shape \(classEmbeddings.shape) for \(classNames.count) class names")
        }
        self.classNames = classNames
        self.classEmbeddings = classEmbeddings.detached().l2Normalized()
    }

    /// Builds class embeddings from prompt embeddings: `embedTexts` maps a batch of prompts to
    /// [batch, E] (unnormalised) text embeddings. It is called once per class with its T prompts.
    public init(classes: ClassList, embedTexts: ([String]) throws -> Tensor) throws {
        var rows: [Float] = []
        var e = 0
        for c in 0..<classes.names.count {
            let t = try embedTexts(classes.prompts(forClass: c)).l2Normalized()
            guard t.rank == 2, t.shape[0] == classes.templates.count else {
                throw EvaluationError("text embeddings for class '\(classes.names[c])' have shape \(t.shape); expected [\(classes.templates.count), E]")
            }
            if c == 0 { e = t.shape[1]; rows.reserveCapacity(classes.names.count * e) }
            guard t.shape[1] == e, e > 0 else {
                throw EvaluationError("text embeddings for class '\(classes.names[c])' have width \(t.shape[1]); earlier classes had \(e)")
            }
            var mean = [Float](repeating: 0, count: e)
            for i in 0..<t.shape[0] { for j in 0..<e { mean[j] += t.data[i * e + j] } }
            for j in 0..<e { mean[j] /= Float(t.shape[0]) }
            rows += mean
        }
        try self.init(classEmbeddings: Tensor(rows, shape: [classes.names.count, e]), classNames: classes.names)
    }

    /// Cosine similarities [N, C] of image embeddings [N, E] with every class. A non-finite
    /// embedding is a `NonFiniteError` naming the image.
    public func similarities(_ images: Tensor) throws -> Tensor {
        guard images.rank == 2, images.shape[1] == classEmbeddings.shape[1] else {
            throw EvaluationError("image embeddings have shape \(images.shape); expected [N, \(classEmbeddings.shape[1])]")
        }
        return try Self.unitRows(images).matmul(classEmbeddings, transposeOther: true)
    }

    /// The k best classes per image, best first (ties broken by the lower class index).
    public func topK(_ images: Tensor, k: Int) throws -> [[Int]] {
        let s = try similarities(images)
        return Self.topK(scores: s, k: k)
    }

    /// The best class per image.
    public func predict(_ images: Tensor) throws -> [Int] { try topK(images, k: 1).map { $0[0] } }

    /// The best class per image and the class probabilities [N, C], as CLIP reports them:
    /// softmax_c(exp(logitScale) * cosine similarity_c), from one pass over the similarities.
    public func classify(_ images: Tensor, logitScale: Float) throws -> (best: [Int], probabilities: Tensor) {
        let s = try similarities(images)
        let n = s.shape[0], c = s.shape[1]
        let p = Tensor(zeros: [n, c])
        for i in 0..<n {
            Self.softmax(UnsafeBufferPointer(start: s.data + i * c, count: c), logitScale: logitScale,
                         into: UnsafeMutableBufferPointer(start: p.data + i * c, count: c))
        }
        return (Self.topK(scores: s, k: 1).map { $0[0] }, p)
    }

    /// The class probabilities [N, C] of `classify(_:logitScale:)`.
    public func probabilities(_ images: Tensor, logitScale: Float) throws -> Tensor {
        try classify(images, logitScale: logitScale).probabilities
    }

    /// softmax(exp(logitScale) * s) of one image's cosine similarities `s` (as many as `out`).
    ///
    /// Stable for any temperature: computed in Double as exp(t * (s_c - max s)) / sum, so the
    /// exponents are at most 0, and the best class contributes exp(0) = 1 even when t is
    /// infinite (exp(logit_scale) overflows Float from logit_scale 88.8 on, Double from 709.8):
    /// a very large temperature gives a one-hot at the best class (shared by ties), never NaN.
    private static func softmax(_ s: UnsafeBufferPointer<Float>, logitScale: Float, into out: UnsafeMutableBufferPointer<Float>) {
        guard let top = s.max() else { return }
        let t = Foundation.exp(Double(logitScale))
        var sum: Double = 0
        var e = [Double](repeating: 0, count: s.count)
        for c in 0..<s.count {
            let d = Double(s[c]) - Double(top)
            e[c] = d == 0 ? 1 : Foundation.exp(t * d)  // the d == 0 case avoids inf * 0
            sum += e[c]
        }
        for c in 0..<min(s.count, out.count) { out[c] = Float(e[c] / sum) }
    }

    /// Image embeddings [N, E] with unit rows (zero rows stay zero), detached from any graph.
    ///
    /// `l2Normalized` sums squares in Float, which overflows for entries from about 1.8e19 on and
    /// would turn such a row into zeros; those rows are divided by their largest magnitude first,
    /// so a large finite embedding is classified by its direction like any other. Ordinary rows
    /// take `l2Normalized` alone (the evaluation's numbers do not move).
    static func unitRows(_ images: Tensor) throws -> Tensor {
        let e = images.shape[1]
        for i in 0..<images.shape[0] {
            let x = UnsafeBufferPointer(start: images.data + i * e, count: e)
            if let j = x.firstIndex(where: { !$0.isFinite }) {
                throw NonFiniteError("image embedding \(i) is not finite (\(x[j]) at \(j))")
            }
        }
        let out = images.detached().l2Normalized()
        for i in 0..<images.shape[0] {
            let x = UnsafeBufferPointer(start: images.data + i * e, count: e)
            guard !x.reduce(Float(0), { $0 + $1 * $1 }).isFinite, let big = x.map(abs).max() else { continue }
            let scaled = Tensor(x.map { $0 / big }, shape: [1, e]).l2Normalized()
            (out.data + i * e).update(from: scaled.data, count: e)
        }
        return out
    }

    /// Top-k indices of each row of a score matrix [N, C].
    package static func topK(scores s: Tensor, k: Int) -> [[Int]] {
        let n = s.shape[0], c = s.shape[1], kk = min(k, c)
        var out: [[Int]] = []
        out.reserveCapacity(n)
        for i in 0..<n {
            let row = s.data + i * c
            var best: [Int] = []
            best.reserveCapacity(kk + 1)
            for j in 0..<c {
                let v = row[j]
                if best.count == kk, let last = best.last, !(v > row[last]) { continue }
                var pos = best.count
                while pos > 0 && v > row[best[pos - 1]] { pos -= 1 }
                best.insert(j, at: pos)
                if best.count > kk { best.removeLast() }
            }
            out.append(best)
        }
        return out
    }
}
