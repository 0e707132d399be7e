import Foundation
import TensorCore

/// Attack success on one true class: of `count` triggered images of that class, `hits` were
/// predicted as the target.
public struct ClassASR: Codable, Sendable, Equatable {
    public let label: Int
    public let className: String
    public let count: Int
    public let hits: Int
    /// hits / count, in [0, 1].
    public var asr: Double { count == 0 ? 0 : Double(hits) / Double(count) }

    enum CodingKeys: String, CodingKey { case label, className = "class", count = "n_images", hits, asr }

    public init(label: Int, className: String, count: Int, hits: Int) {
        self.label = label
        self.className = className
        self.count = count
        self.hits = hits
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        label = try c.decode(Int.self, forKey: .label)
        className = try c.decode(String.self, forKey: .className)
        count = try c.decode(Int.self, forKey: .count)
        hits = try c.decode(Int.self, forKey: .hits)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(label, forKey: .label)
        try c.encode(className, forKey: .className)
        try c.encode(count, forKey: .count)
        try c.encode(hits, forKey: .hits)
        try c.encode(asr, forKey: .asr)
    }
}

/// The numbers an evaluation reports. JSON keys: clean_accuracy, top5_accuracy, n_images, and
/// with a trigger: target, target_label, asr, n_asr_images, per_class_asr; for trigger scoring
/// also mean_similarity_shift. Fractions are in [0, 1].
public struct EvaluationReport: Codable, Sendable, Equatable {
    /// Top-1 accuracy on clean images.
    public var cleanAccuracy: Double
    /// Top-5 accuracy on clean images (top-C when there are fewer than 5 classes).
    public var top5Accuracy: Double
    public var nImages: Int
    /// The backdoor target class, when a trigger was evaluated.
    public var target: String?
    public var targetLabel: Int?
    /// Attack success rate: over images whose true label is not the target, the fraction whose
    /// triggered version is predicted as the target.
    public var asr: Double?
    /// Images counted by `asr` (those not of the target class).
    public var nASRImages: Int?
    /// ASR per true class, in label order, classes without images left out.
    public var perClassASR: [ClassASR]?
    /// Mean over the ASR images of cos(triggered, target) - cos(clean, target).
    public var meanSimilarityShift: Double?

    enum CodingKeys: String, CodingKey {
        case cleanAccuracy = "clean_accuracy", top5Accuracy = "top5_accuracy", nImages = "n_images"
        case target, targetLabel = "target_label", asr, nASRImages = "n_asr_images"
        case perClassASR = "per_class_asr", meanSimilarityShift = "mean_similarity_shift"
    }

    public init(cleanAccuracy: Double, top5Accuracy: Double, nImages: Int) {
        self.cleanAccuracy = cleanAccuracy
        self.top5Accuracy = top5Accuracy
        self.nImages = nImages
    }

    /// Pretty-printed JSON with sorted keys.
    public func jsonString() throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try enc.encode(self), as: UTF8.self)
    }
}

/// Accuracy and attack-success arithmetic on predictions.
///
/// About the reference: CleanCLIP's zero-shot `--asr` path ranks triggered images and scores the
/// ranks against the true labels, i.e. it reports (triggered) accuracy, not ASR; its linear-probe
/// ASR divides target hits by all test images, target-class images included. Here ASR is what
/// the paper defines: non-target images only, hits / their number.
package enum Metrics {
    /// Fraction of rows whose top-k list (best first) contains the label, for k = 1 and k = 5.
    package static func accuracy(topK: [[Int]], labels: [Int]) throws -> (top1: Double, top5: Double) {
        guard topK.count == labels.count else { throw EvaluationError("\(topK.count) predictions for \(labels.count) labels") }
        guard !labels.isEmpty else { return (0, 0) }
        var c1 = 0, c5 = 0
        for (row, y) in zip(topK, labels) {
            if row.first == y { c1 += 1 }
            if row.prefix(5).contains(y) { c5 += 1 }
        }
        return (Double(c1) / Double(labels.count), Double(c5) / Double(labels.count))
    }

    /// ASR of top-1 predictions on triggered images: over rows with label != target, the fraction
    /// predicted as target; plus the per-class breakdown. nil ASR when every row is of the target.
    package static func attackSuccess(predictions: [Int], labels: [Int], target: Int,
                                     classNames: [String]) throws -> (asr: Double?, count: Int, perClass: [ClassASR]) {
        guard predictions.count == labels.count else { throw EvaluationError("\(predictions.count) predictions for \(labels.count) labels") }
        var n = [Int: Int](), hits = [Int: Int]()
        for (p, y) in zip(predictions, labels) where y != target {
            n[y, default: 0] += 1
            if p == target { hits[y, default: 0] += 1 }
        }
        let total = n.values.reduce(0, +), hit = hits.values.reduce(0, +)
        let per = n.keys.sorted().map { y in
            ClassASR(label: y, className: y < classNames.count ? classNames[y] : "\(y)", count: n[y]!, hits: hits[y] ?? 0)
        }
        return (total == 0 ? nil : Double(hit) / Double(total), total, per)
    }

    /// A full zero-shot report from embeddings: clean [N, E], optionally the same images with the
    /// trigger [N, E] and a target class index.
    package static func zeroShotReport(classifier: ZeroShotClassifier, clean: Tensor, labels: [Int],
                                      triggered: Tensor? = nil, target: Int? = nil) throws -> EvaluationReport {
        let c = classifier.classNames.count
        guard !labels.isEmpty else { throw EvaluationError("the evaluation set is empty") }
        guard clean.rank == 2, clean.shape[0] == labels.count else {
            throw EvaluationError("\(clean.rank == 2 ? clean.shape[0] : 0) image embeddings for \(labels.count) labels")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= c }) {
            throw EvaluationError("label \(labels[bad]) of image \(bad) is outside the \(c) classes")
        }
        let top = try classifier.topK(clean, k: 5)
        let acc = try accuracy(topK: top, labels: labels)
        var report = EvaluationReport(cleanAccuracy: acc.top1, top5Accuracy: acc.top5, nImages: labels.count)
        if let triggered {
            guard let target else { throw EvaluationError("a trigger was given without a target class") }
            guard target >= 0, target < c else { throw EvaluationError("target \(target) is outside the \(c) classes") }
            guard triggered.shape == clean.shape else {
                throw EvaluationError("triggered embeddings have shape \(triggered.shape); clean ones \(clean.shape)")
            }
            let sTrig = try classifier.similarities(triggered)
            let pred = ZeroShotClassifier.topK(scores: sTrig, k: 1).map { $0[0] }
            let a = try attackSuccess(predictions: pred, labels: labels, target: target, classNames: classifier.classNames)
            report.target = classifier.classNames[target]
            report.targetLabel = target
            report.asr = a.asr
            report.nASRImages = a.count
            report.perClassASR = a.perClass
            let sClean = try classifier.similarities(clean)
            var shift = 0.0, m = 0
            for i in 0..<labels.count where labels[i] != target {
                shift += Double(sTrig.data[i * c + target]) - Double(sClean.data[i * c + target])
                m += 1
            }
            report.meanSimilarityShift = m == 0 ? nil : shift / Double(m)
        }
        return report
    }
}
