import Foundation
import ImageIO
import TensorCore

/// Settings for `evaluate`, `scoreTrigger` and `linearProbe` beyond the essentials.
public struct EvaluationOptions: Sendable {
    /// CSV columns: image path (relative to the CSV's folder) and label (class index, or a class name).
    public var imageColumn = "image"
    public var labelColumn = "label"
    /// The CSV's field delimiter (CleanCLIP's `--delimiter`; "\t" for TSV).
    package var delimiter: Character = ","
    /// Images per encoder call.
    public var batchSize = 64
    /// Seed of the trigger's per-image draws (noise, patch position, WaNet grid when none is given).
    public var triggerSeed: UInt64 = 0
    /// A saved WaNet grid to use instead of drawing one from `triggerSeed`.
    public var warpGrid: WarpGrid?
    /// Linear probe training settings (used by `linearProbe` only).
    public var probe = LinearProbe.Options()
    /// Called after each batch; return false to cancel (the call then throws "cancelled").
    public var progress: EvaluationProgress?
    public init() {}
}

/// Clean accuracy, attack success rate, trigger scores and linear probes over a CSV of
/// labelled images: `Evaluation.evaluate(model:evalCSV:classes:...)`.
public enum Evaluation {}

extension Evaluation {
    /// Zero-shot evaluation of a model on a labelled image CSV: clean top-1 (CA) and top-5 accuracy,
    /// and with a trigger and target, the attack success rate (ASR, over images whose true label is
    /// not the target), per-class ASR and the mean similarity shift toward the target.
    ///
    /// Triggered images go through the reference's path (squash to 224, trigger, bytes) and then the
    /// model's usual preprocessing. Throws for an unknown target, an empty CSV, a label outside the
    /// classes, and `DatasetError` for a missing column or a missing/undecodable image (naming the row).
    /// ```
    /// let report = try Evaluation.evaluate(model: model, evalCSV: "imagenet/val.csv", classes: .imagenet,
    ///                           trigger: TriggerSpec(kind: .badnet), target: "banana")
    /// print(try report.jsonString())
    /// ```
    /// With N ranks (`communicator`, e.g. `Communicators.world()` under mpirun) each rank embeds a
    /// contiguous share of the images, clean and triggered; the embeddings are all-gathered in row
    /// order and every rank returns the same report.
    public static func evaluate(model: ImageTextEmbedder, evalCSV: String, classes: ClassSet,
                         trigger: TriggerSpec? = nil, target: String? = nil,
                         options: EvaluationOptions = EvaluationOptions(),
                         communicator: Communicator = SingleProcess()) throws -> EvaluationReport {
        let list = classes.list
        let (rows, labels, targetIndex, trig) = try prepare(evalCSV: evalCSV, list: list, trigger: trigger, target: target, options: options)
        let classifier = try ZeroShotClassifier(classes: list) { try model.encodeTexts($0) }
        let clean = try rows.embed(with: model, batchSize: options.batchSize, progress: options.progress, phase: "clean",
                                   communicator: communicator)
        var triggered: Tensor?
        if let trig {
            triggered = try rows.embed(with: model, batchSize: options.batchSize, progress: options.progress, phase: "triggered",
                                       transform: { try trig.apply(to: $0, index: $1) }, communicator: communicator)
        }
        return try Metrics.zeroShotReport(classifier: classifier, clean: clean, labels: labels, triggered: triggered, target: targetIndex)
    }
}

extension Evaluation {
    /// Trigger scoring: how strongly a trigger (a spec, or a user patch / blend image through
    /// `TriggerKind.patch(from:)` / `.blendImage(from:)`) pulls a model's images toward a target:
    /// ASR, per-class ASR and the mean over non-target images of
    /// cos(triggered, target) - cos(clean, target), plus clean accuracy for context.
    public static func scoreTrigger(model: ImageTextEmbedder, evalCSV: String, classes: ClassSet,
                             trigger: TriggerSpec, target: String,
                             options: EvaluationOptions = EvaluationOptions()) throws -> EvaluationReport {
        try Evaluation.evaluate(model: model, evalCSV: evalCSV, classes: classes, trigger: trigger, target: target, options: options)
    }
}

extension Evaluation {
    /// Linear-probe evaluation: frozen image features of `trainCSV` train a linear head (AdamW, see
    /// `LinearProbe`); CA on `evalCSV`, and with a trigger, ASR / per-class ASR. `classes` supplies
    /// the class count and names (its templates are unused).
    public static func linearProbe(model: ImageTextEmbedder, trainCSV: String, evalCSV: String, classes: ClassSet,
                            trigger: TriggerSpec? = nil, target: String? = nil,
                            options: EvaluationOptions = EvaluationOptions()) throws -> EvaluationReport {
        let list = classes.list
        let (train, trainLabels, _, _) = try prepare(evalCSV: trainCSV, list: list, trigger: nil, target: nil, options: options)
        let (test, testLabels, targetIndex, trig) = try prepare(evalCSV: evalCSV, list: list, trigger: trigger, target: target, options: options)
        let trainFeatures = try train.embed(with: model, batchSize: options.batchSize, progress: options.progress, phase: "train")
        let probe = try LinearProbe.train(features: trainFeatures, labels: trainLabels, classCount: list.names.count, options: options.probe)
        let clean = try test.embed(with: model, batchSize: options.batchSize, progress: options.progress, phase: "clean")
        var triggered: Tensor?
        if let trig {
            triggered = try test.embed(with: model, batchSize: options.batchSize, progress: options.progress, phase: "triggered") {
                try trig.apply(to: $0, index: $1)
            }
        }
        return try probe.report(clean: clean, labels: testLabels, classNames: list.names, triggered: triggered, target: targetIndex)
    }
}

/// Reads and checks an evaluation CSV, the target and the trigger before any encoding.
private func prepare(evalCSV: String, list: ClassList, trigger: TriggerSpec?, target: String?,
                     options: EvaluationOptions) throws -> (ImageRows, [Int], Int?, Trigger?) {
    var targetIndex: Int?
    if let target { targetIndex = try list.index(of: target) }
    if trigger != nil && target == nil { throw EvaluationError("a trigger needs a target class to measure attack success") }
    let trig = try trigger.map { try Trigger($0, seed: options.triggerSeed, warpGrid: options.warpGrid) }
    let rows = try ImageRows(csvPath: evalCSV, imageColumn: options.imageColumn, delimiter: options.delimiter)
    guard !rows.paths.isEmpty else { throw EvaluationError("\(evalCSV): the evaluation set is empty (no data rows)") }
    let col = try rows.csv.column(options.labelColumn)
    let labels = try rows.csv.rows.enumerated().map { (i, r) -> Int in
        let v = r[col].trimmingCharacters(in: .whitespaces)
        if let y = Int(v) {
            guard y >= 0 && y < list.names.count else {
                throw EvaluationError("\(evalCSV): row \(i + 1): label \(y) is outside the \(list.names.count) classes")
            }
            return y
        }
        do { return try list.index(of: v) } catch {
            throw EvaluationError("\(evalCSV): row \(i + 1): label '\(v)' is neither a class index nor a class name")
        }
    }
    return (rows, labels, targetIndex, trig)
}
