import Foundation
import ImageIO
import TensorCore

/// Suspicion scores for every row of an image-caption CSV, with AUROC per score when the CSV
/// marks poisoned rows (an `is_backdoor` column holding 1/0 or true/false, as `poison` writes
/// and CleanCLIP reads).
public struct SampleScoreReport: Codable, Sendable {
    /// Image path per row, as written in the CSV.
    public var images: [String]
    /// Poisoned flag per row, when the CSV has the column.
    public var isBackdoor: [Bool]?
    public var scores: SampleScores
    /// AUROC of each score ("k_distance", "slof", "dao") for finding the poisoned rows.
    public var auroc: [String: Double]?

    enum CodingKeys: String, CodingKey { case images, isBackdoor = "is_backdoor", scores, auroc }

    /// Writes image, [is_backdoor,] k_distance, slof, dao per row.
    public func writeCSV(to path: String) throws {
        var header = ["image"]
        if isBackdoor != nil { header.append("is_backdoor") }
        header += ["k_distance", "slof", "dao"]
        let rows = images.indices.map { i -> [String] in
            var r = [images[i]]
            if let b = isBackdoor { r.append(b[i] ? "1" : "0") }
            return r + [scores.kDistance[i], scores.slof[i], scores.dao[i]].map { "\($0)" }
        }
        try BackdoorCSV(header: header, rows: rows, path: path).write(to: path)
    }
}

/// Flagging suspicious training samples by the density of their image embeddings:
/// `SampleScoring.scoreSamples(model:csv:k:)`, and the AUROC of such scores.
public enum SampleScoring {}

extension SampleScoring {
    /// Scores the rows of `csv` by their image embeddings (k-distance, SLOF, DAO; see
    /// `SampleScores`), k neighbours, with AUROC when the CSV has an `is_backdoor` column.
    /// ```
    /// let report = try SampleScoring.scoreSamples(model: model, csv: "poisoned.csv", k: 16)
    /// print(report.auroc?["dao"] ?? .nan)
    /// ```
    public static func scoreSamples(model: ImageTextEmbedder, csv: String, k: Int = 16, imageColumn: String = "image",
                             backdoorColumn: String = "is_backdoor", batchSize: Int = 64,
                             progress: EvaluationProgress? = nil) throws -> SampleScoreReport {
        try scoreSamples(model: model, csv: csv, k: k, imageColumn: imageColumn, backdoorColumn: backdoorColumn,
                         batchSize: batchSize, delimiter: ",", progress: progress)
    }
}

extension SampleScoring {
    /// `scoreSamples` for a CSV with another field delimiter ("\t" for TSV).
    /// With N ranks (`communicator`, e.g. `Communicators.world()` under mpirun) each rank embeds
    /// its share of the rows, then the embeddings are all-gathered so every rank holds all of them
    /// (rows x E x 4 bytes per rank: 2 GB for a million ViT-B/32 rows) for the exact k-NN.
    package static func scoreSamples(model: ImageTextEmbedder, csv: String, k: Int = 16, imageColumn: String = "image",
                              backdoorColumn: String = "is_backdoor", batchSize: Int = 64, delimiter: Character,
                              communicator: Communicator = SingleProcess(),
                              progress: EvaluationProgress? = nil) throws -> SampleScoreReport {
        guard (1...Int(Int32.max)).contains(k) else { throw ScoringError("k must be between 1 and \(Int32.max); got \(k)") }
        let rows = try ImageRows(csvPath: csv, imageColumn: imageColumn, delimiter: delimiter)
        guard rows.paths.count >= k + 2 else {
            throw ScoringError("\(csv): scoring with k = \(k) needs at least \(k + 2) rows; found \(rows.paths.count)")
        }
        let flags = try rows.csv.header.firstIndex(of: backdoorColumn).map { col in
            try rows.csv.rows.enumerated().map { (i, r) -> Bool in
                switch r[col].trimmingCharacters(in: .whitespaces).lowercased() {
                case "1", "true", "1.0": return true
                case "0", "false", "0.0", "": return false
                default: throw DatasetError(.badValue, file: csv, row: i + 1, "\(backdoorColumn) is '\(r[col])'; expected 1/0 or true/false")
                }
            }
        }
        let embeddings = try rows.embed(with: model, batchSize: batchSize, progress: progress, phase: "embed", communicator: communicator)
        let scores = try SampleScores(embeddings: embeddings, k: k)
        var auc: [String: Double]?
        if let flags, flags.contains(true), flags.contains(false) {
            auc = ["k_distance": try auroc(scores: scores.kDistance, positives: flags),
                   "slof": try auroc(scores: scores.slof, positives: flags),
                   "dao": try auroc(scores: scores.dao, positives: flags)]
        }
        let col = try rows.csv.column(imageColumn)
        return SampleScoreReport(images: rows.csv.rows.map { $0[col] }, isBackdoor: flags, scores: scores, auroc: auc)
    }
}
