import Foundation
import TensorCore

/// Backdoor-sample suspicion scores over a dataset's image embeddings (Huang et al., ICLR 2025,
/// "Detecting Backdoor Samples in Contrastive Language Image Pretraining"). Poisoned pairs sit in
/// sparse neighbourhoods, so a higher score means more suspicious.
///
/// The definitions follow the authors' code (`backdoor_sample_detector/{k_distance,slof,dao}.py`,
/// image-only mode) on Euclidean distances between unnormalised embeddings. Write D_i[m] for the
/// distance from point i to its (m+1)-th nearest *other* point (m = 0 is the nearest; the point
/// itself is excluded by index) and N_i[m] for that point. Their code takes, for the query,
/// the sorted row with self removed, but for the neighbours the sorted row of the full matrix,
/// which still holds the 0 self-distance; so with their `k`:
///
/// - k-distance:  kd(i) = D_i[k]                        (i.e. the (k+1)-th other point)
/// - neighbour's k-distance: nd(n) = D_n[k-1]          (the k-th other point)
/// - SLOF:  (1/k) Σ_{m<k} kd(i) / nd(N_i[m])
/// - LID (MLE, on the full row, self included at distance 0):
///   lid(n) = -k / ( log(0 + 1e-4) + Σ_{m<k-1} log(D_n[m] / D_n[k-1] + 1e-4) )
/// - DAO:  (1/k) Σ_{m<k} lid(N_i[m]) · log( kd(i) / nd(N_i[m]) )
///
/// Non-finite scores become 1000 (NaN, +inf) or 0 (-inf), as their `torch.nan_to_num` does.
///
/// Differences from their code, on purpose:
/// - They score each mini-batch against itself (neighbours come from the batch); here the whole
///   set is the reference, which is what the method describes.
/// - Their neighbour indices come from the self-removed row and are used as row numbers of the
///   full matrix, so every neighbour listed after the query is off by one point. Here N_i[m] is
///   the true neighbour.
/// - Their image-text mode (neighbours among captions too) is not implemented; image only.
public struct SampleScores: Sendable, Codable {
    public let k: Int
    /// kd(i): distance to the (k+1)-th nearest other point.
    public let kDistance: [Float]
    /// Simplified local outlier factor.
    public let slof: [Float]
    /// Dimensionality-aware outlier score.
    public let dao: [Float]

    enum CodingKeys: String, CodingKey {
        case k, kDistance = "k_distance", slof, dao
    }

    /// Scores every row of `embeddings` [N, D] (needs N >= k + 2 and k >= 1).
    /// ```
    /// let s = try SampleScores(embeddings: imageEmbeddings, k: 16)
    /// let auc = try SampleScoring.auroc(scores: s.dao, positives: isBackdoor)
    /// ```
    public init(embeddings: Tensor, k: Int) throws {
        guard (1...Int(Int32.max)).contains(k) else { throw ScoringError("k must be between 1 and \(Int32.max); got \(k)") }
        let n = embeddings.rank == 2 ? embeddings.shape[0] : 0
        guard n >= k + 2 else { throw ScoringError("scoring with k = \(k) needs at least \(k + 2) embeddings; got \(n)") }
        let table = try NearestNeighbors.search(embeddings, k: k + 1)
        try self.init(neighbors: table, k: k)
    }

    /// Scores from a precomputed neighbour table holding at least k + 1 neighbours per point.
    package init(neighbors t: NeighborTable, k: Int) throws {
        guard k >= 1, t.k >= k + 1 else {
            throw ScoringError("scores with k = \(k) need k + 1 = \(k + 1) neighbours per point; the table has \(t.k)")
        }
        let n = t.count
        self.k = k
        let eps = 1e-4
        // Per point: own k-distance, neighbour k-distance, LID.
        var kd = [Float](repeating: 0, count: n)
        var nd = [Double](repeating: 0, count: n)
        var lid = [Double](repeating: 0, count: n)
        for i in 0..<n {
            kd[i] = t.distance(i, k)
            let ref = Double(t.distance(i, k - 1))
            nd[i] = ref
            var s = Foundation.log(0 / ref + eps)  // the self-distance, 0, in the full row
            for m in 0..<(k - 1) { s += Foundation.log(Double(t.distance(i, m)) / ref + eps) }
            lid[i] = -Double(k) / s
        }
        var slof = [Float](repeating: 0, count: n)
        var dao = [Float](repeating: 0, count: n)
        for i in 0..<n {
            var sSlof = 0.0, sDao = 0.0
            let own = Double(kd[i])
            for m in 0..<k {
                let j = t.index(i, m)
                let ratio = own / nd[j]
                sSlof += ratio
                sDao += lid[j] * Foundation.log(ratio)
            }
            slof[i] = Self.nanToNum(sSlof / Double(k))
            dao[i] = Self.nanToNum(sDao / Double(k))
        }
        kDistance = kd
        self.slof = slof
        self.dao = dao
    }

    /// torch.nan_to_num(nan = 1000, posinf = 1000, neginf = 0), after the cast to Float.
    static func nanToNum(_ v: Double) -> Float {
        let f = Float(v)
        if f.isNaN || f == .infinity { return 1000 }
        if f == -.infinity { return 0 }
        return f
    }
}

extension SampleScoring {
    /// Area under the ROC curve of `scores` for separating `positives` (true) from the rest, with
    /// tied scores counted as half (the Mann-Whitney statistic; equal to sklearn's `roc_auc_score`).
    /// Throws when the lengths differ or either class is empty.
    public static func auroc(scores: [Float], positives: [Bool]) throws -> Double {
        guard scores.count == positives.count else {
            throw ScoringError("\(scores.count) scores but \(positives.count) labels")
        }
        let p = positives.filter { $0 }.count, q = positives.count - p
        guard p > 0, q > 0 else { throw ScoringError("AUROC needs both positive and negative samples; got \(p) positive, \(q) negative") }
        if let bad = scores.firstIndex(where: { $0.isNaN }) { throw ScoringError("score \(bad) is NaN") }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0
        var a = 0
        while a < order.count {
            var b = a
            while b + 1 < order.count && scores[order[b + 1]] == scores[order[a]] { b += 1 }
            let avgRank = Double(a + b) / 2 + 1  // 1-based average rank of the tie group
            for r in a...b where positives[order[r]] { rankSum += avgRank }
            a = b + 1
        }
        return (rankSum - Double(p) * Double(p + 1) / 2) / (Double(p) * Double(q))
    }
}
