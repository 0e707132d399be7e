import ArgumentParser
import CleanCLIP
import Foundation

/// Options shared by evaluation-style commands.
struct EvalOptions: ParsableArguments {
    @Option(name: .customLong("eval-data"), help: "Labelled image CSV (image path, label as index or class name).")
    var evalData: String

    @Option(help: "Class set: imagenet, cifar10, cifar100, or a file with one class name per line.")
    var classes = "imagenet"

    @Option(help: "Prompt templates file (one per line, '{}' marks the class); default: OpenAI's 80 templates.")
    var templates: String?

    @Option(name: .customLong("image-key"), help: "Image-path column.")
    var imageKey = "image"

    @Option(name: .customLong("label-key"), help: "Label column.")
    var labelKey = "label"

    @Option(name: .customLong("batch-size"), help: "Images per forward pass.")
    var batchSize = 64

    func validate() throws {
        try Bounds.check(batchSize, "--batch-size", Bounds.batch)
    }

    func classSet() throws -> ClassSet {
        if ["imagenet", "cifar10", "cifar100"].contains(classes) && templates == nil { return try ClassSet(name: classes) }
        if ["imagenet", "cifar10", "cifar100"].contains(classes), let templates {
            let base = try ClassSet(name: classes).list
            return .custom(try ClassList(names: base.names, templates: try readLines(templates)))
        }
        return .custom(try ClassList.load(classesFile: classes, templatesFile: templates))
    }

    func evaluationOptions(seed: UInt64) -> EvaluationOptions {
        var o = EvaluationOptions()
        o.imageColumn = imageKey
        o.labelColumn = labelKey
        o.batchSize = batchSize
        o.triggerSeed = seed
        let bars = ProgressBars()
        o.progress = { phase, done, total in
            bars.update(phase, done, of: total)
            return true
        }
        return o
    }
}

/// Trigger flags shared by evaluate and score-trigger.
struct TriggerOptions: ParsableArguments {
    @Option(help: "Trigger: random (BadNet), yellow, blended, SIG, warped (WaNet k=224 s=1), wanet (k=4 s=0.5), or an image file used as a patch.")
    var trigger: String?

    @Option(help: "Backdoor target class name.")
    var target: String?

    @Option(name: .customLong("patch-size"), help: "Patch side for patch triggers (on the 224x224 squashed image).")
    var patchSize = 16

    @Option(name: .customLong("patch-location"), help: "random, four_corners, top_left, top_right, bottom_left, bottom_right.")
    var patchLocation = "random"

    @Option(name: .customLong("trigger-seed"), help: "Seed of per-image trigger draws.")
    var triggerSeed: UInt64 = 0

    func validate() throws {
        try Bounds.check(patchSize, "--patch-size", 1...4096)  // and smaller than the image: checked with the trigger
    }

    func spec() throws -> TriggerSpec? {
        guard let trigger else { return nil }
        if FileManager.default.fileExists(atPath: trigger) {
            let image = try ImageDecoder.decode(path: trigger)
            var spec = try TriggerSpec(name: "yellow", location: patchLocation, patchSize: image.width)
            spec.kind = try .patch(from: image)
            return spec
        }
        return try TriggerSpec(name: trigger, location: patchLocation, patchSize: patchSize)
    }
}

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Zero-shot clean accuracy (top-1/top-5) and, with a trigger, attack success rate.",
        discussion: "ASR counts only images whose true label is not the target (the reference's --asr path reports accuracy instead; that bug is not reproduced).")

    @OptionGroup var model: ModelOptions
    @OptionGroup var eval: EvalOptions
    @OptionGroup var triggerOptions: TriggerOptions

    @Option(help: "Write the report as JSON here.")
    var json: String?

    @Option(name: .customLong("linear-probe"), help: "Train a linear probe on this labelled CSV's frozen features and evaluate it instead of zero-shot.")
    var linearProbeData: String?

    func run() throws {
        let m = try model.load()
        let trigger = try triggerOptions.spec()
        if trigger != nil && triggerOptions.target == nil { throw ValidationError("--trigger needs --target") }
        let options = eval.evaluationOptions(seed: triggerOptions.triggerSeed)
        let report: EvaluationReport
        if let linearProbeData {
            report = try Evaluation.linearProbe(model: m, trainCSV: linearProbeData, evalCSV: eval.evalData, classes: try eval.classSet(),
                                     trigger: trigger, target: triggerOptions.target, options: options)
        } else {
            report = try Evaluation.evaluate(model: m, evalCSV: eval.evalData, classes: try eval.classSet(), trigger: trigger,
                                  target: triggerOptions.target, options: options)
        }
        printReport(report)
        if let json { try AtomicFile.write(try report.jsonString(), to: json) }
    }
}

struct ScoreTriggerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score-trigger",
        abstract: "Does this trigger work on this checkpoint? ASR, per-class ASR and the mean similarity shift toward the target.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var eval: EvalOptions
    @OptionGroup var triggerOptions: TriggerOptions

    @Option(help: "Write the report as JSON here.")
    var json: String?

    func run() throws {
        guard let trigger = try triggerOptions.spec(), let target = triggerOptions.target else {
            throw ValidationError("score-trigger needs --trigger and --target")
        }
        let m = try model.load()
        let options = eval.evaluationOptions(seed: triggerOptions.triggerSeed)
        let report = try Evaluation.scoreTrigger(model: m, evalCSV: eval.evalData, classes: try eval.classSet(), trigger: trigger,
                                      target: target, options: options)
        printReport(report)
        if let json { try AtomicFile.write(try report.jsonString(), to: json) }
    }
}

/// Prints an evaluation report as a small table.
func printReport(_ r: EvaluationReport) {
    print(String(format: "images           %d", r.nImages))
    print(String(format: "clean accuracy   %.2f%%", 100 * r.cleanAccuracy))
    print(String(format: "top-5 accuracy   %.2f%%", 100 * r.top5Accuracy))
    if let asr = r.asr, let target = r.target {
        print(String(format: "attack success   %.2f%%  (target '%@', %d non-target images)", 100 * asr, target, r.nASRImages ?? 0))
        if let shift = r.meanSimilarityShift { print(String(format: "similarity shift %+.4f toward the target", shift)) }
        let worst = (r.perClassASR ?? []).sorted { $0.asr > $1.asr }.prefix(5)
        for c in worst { print(String(format: "  %-24@ ASR %6.2f%% (%d images)", c.className as NSString, 100 * c.asr, c.count)) }
    }
}
