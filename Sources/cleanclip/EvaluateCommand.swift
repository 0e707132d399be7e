import ArgumentParser
import CleanCLIP
import Foundation

/// Options shared by evaluation-style commands.
struct EvalOptions: ParsableArguments {
    @Option(name: .customLong("eval-data"), help: "Labelled image CSV (image path, label as index or class name).")
    var evalData: String?

    @Option(name: .customLong("eval_test_data_dir"),
            help: "CleanCLIP's layout: DIR/labels.csv (image,label) as --eval-data, and DIR/classes.py as --classes when it exists.")
    var evalTestDataDir: String?

    @Option(help: "Class set: imagenet, cifar10, cifar100, a file with one class name per line, or CleanCLIP's classes.py (default: imagenet).")
    var classes: String?

    @Option(name: .customLong("eval_data_type"),
            help: "CleanCLIP's data set name, for the class set when neither --classes nor DIR/classes.py gives it: ImageNet1K, ImageNetV2, ImageNetSketch (imagenet), CIFAR10, CIFAR100.")
    var evalDataType: String?

    @Option(help: "Prompt templates: a file with one per line ('{}' marks the class), or a classes.py's templates; default: OpenAI's 80 templates.")
    var templates: String?

    @Option(name: [.customLong("image-key"), .customLong("image_key")], help: "Image-path column.")
    var imageKey = "image"

    @Option(name: .customLong("label-key"), help: "Label column.")
    var labelKey = "label"

    @Option(help: "The CSV's field delimiter: ',' (default), '\\t' or 'tab', ';', ...")
    var delimiter = ","

    @Option(name: [.customLong("batch-size"), .customLong("batch_size")], help: "Images per forward pass.")
    var batchSize = 64

    func validate() throws {
        try Bounds.check(batchSize, "--batch-size", Bounds.batch)
        _ = try CleanCLIPFlags.delimiter(delimiter)
        if (evalData == nil) == (evalTestDataDir == nil) { throw ValidationError("give exactly one of --eval-data and --eval_test_data_dir") }
        if evalTestDataDir != nil && !FileManager.default.fileExists(atPath: evalCSV) {
            throw ValidationError("--eval_test_data_dir: no \(evalCSV) (columns image,label, as CleanCLIP's ImageNet1K layout); "
                + "data sets the reference downloads through torchvision (CIFAR10, ...) need such a file written here")
        }
        if let evalDataType, classes == nil, Self.builtinSet(evalDataType) == nil, classesPyInDirectory == nil {
            throw ValidationError("--eval_data_type \(evalDataType): no built-in class list here (only ImageNet1K, ImageNetV2, "
                + "ImageNetSketch, CIFAR10, CIFAR100); give --classes FILE or a --eval_test_data_dir with classes.py")
        }
    }

    /// The labelled CSV: --eval-data, or CleanCLIP's DIR/labels.csv.
    var evalCSV: String { evalData ?? ((evalTestDataDir ?? ".") as NSString).appendingPathComponent("labels.csv") }

    /// DIR/classes.py of --eval_test_data_dir when it exists (CleanCLIP always reads it from there).
    var classesPyInDirectory: String? {
        guard let evalTestDataDir else { return nil }
        let path = (evalTestDataDir as NSString).appendingPathComponent("classes.py")
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// CleanCLIP's --eval_data_type names that have a built-in class list here.
    static func builtinSet(_ type: String) -> String? {
        switch type.lowercased().replacingOccurrences(of: "-", with: "") {
        case "imagenet1k", "imagenetv2", "imagenetsketch": return "imagenet"
        case "cifar10": return "cifar10"
        case "cifar100": return "cifar100"
        default: return nil
        }
    }

    func classSet() throws -> ClassSet {
        let classes = self.classes ?? classesPyInDirectory ?? evalDataType.flatMap(Self.builtinSet) ?? "imagenet"
        if ["imagenet", "cifar10", "cifar100"].contains(classes) && templates == nil { return try ClassSet(name: classes) }
        if ["imagenet", "cifar10", "cifar100"].contains(classes), let templates {
            let base = try ClassSet(name: classes).list
            return .custom(try ClassList(names: base.names, templates: try ClassList.loadTemplates(templates)))
        }
        return .custom(try ClassList.load(classesFile: classes, templatesFile: templates))
    }

    func evaluationOptions(seed: UInt64) throws -> EvaluationOptions {
        var o = EvaluationOptions()
        o.delimiter = try CleanCLIPFlags.delimiter(delimiter)
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
    @Option(name: [.customLong("trigger"), .customLong("patch_type")],
            help: "Trigger: random (BadNet), yellow, blended, SIG, warped (WaNet k=224 s=1), wanet (k=4 s=0.5), or an image file used as a patch.")
    var trigger: String?

    @Option(name: [.customLong("target"), .customLong("label")], help: "Backdoor target class name.")
    var target: String?

    @Option(name: [.customLong("patch-size"), .customLong("patch_size")], help: "Patch side for patch triggers (on the 224x224 squashed image).")
    var patchSize = 16

    @Option(name: [.customLong("patch-location"), .customLong("patch_location")], help: "random, four_corners, top_left, top_right, bottom_left, bottom_right.")
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
        discussion: """
            ASR counts only images whose true label is not the target (the reference's --asr path reports accuracy instead; that bug is not reproduced).

            CleanCLIP's spellings (src/parser.py) work too: --eval_test_data_dir DIR (DIR/labels.csv, and DIR/classes.py for the classes), --eval_data_type (ImageNet1K, ImageNetV2, ImageNetSketch, CIFAR10, CIFAR100: the built-in class list), --eval_train_data_dir DIR with --linear_probe, --linear_probe_num_epochs, --add_backdoor, --asr (target 'banana' unless --target), --patch_type (= --trigger), --patch_location, --patch_size, --label (= --target), --image_key, --batch_size, --delimiter. Its options with no equivalent here are errors that say why.
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var eval: EvalOptions
    @OptionGroup var triggerOptions: TriggerOptions

    @Option(help: "Write the report as JSON here.")
    var json: String?

    @Option(name: .customLong("linear-probe"), help: "Train a linear probe on this labelled CSV's frozen features and evaluate it instead of zero-shot.")
    var linearProbeData: String?

    @Flag(name: .customLong("linear_probe"), help: "CleanCLIP's spelling: a linear probe trained on --eval_train_data_dir/labels.csv.")
    var cleanCLIPLinearProbe = false

    @Option(name: .customLong("eval_train_data_dir"), help: "CleanCLIP's layout: DIR/labels.csv trains the probe (with --linear_probe).")
    var evalTrainDataDir: String?

    @Option(name: [.customLong("probe-epochs"), .customLong("linear_probe_num_epochs")], help: "Linear probe epochs (default 10).")
    var probeEpochs: Int?

    @Flag(help: "CleanCLIP's --asr: measure attack success; the target defaults to 'banana' as in the reference.")
    var asr = false

    @Flag(name: .customLong("add_backdoor"), help: "CleanCLIP's --add_backdoor: apply the trigger (--patch_type) to the test images. Clean accuracy is always reported too.")
    var addBackdoor = false

    func validate() throws {
        if cleanCLIPLinearProbe != (evalTrainDataDir != nil) {
            throw ValidationError("--linear_probe and --eval_train_data_dir go together (or give --linear-probe TRAIN.csv)")
        }
        if cleanCLIPLinearProbe && linearProbeData != nil { throw ValidationError("give either --linear-probe or --linear_probe, not both") }
        if (asr || addBackdoor) && triggerOptions.trigger == nil { throw ValidationError("--asr/--add_backdoor need a trigger: --patch_type (or --trigger)") }
        try Bounds.check(probeEpochs, "--probe-epochs", 1...1_000_000)
    }

    /// The target: --target (--label), or 'banana' with --asr as the reference hard-codes.
    var target: String? { triggerOptions.target ?? (asr ? "banana" : nil) }

    var probeCSV: String? {
        linearProbeData ?? evalTrainDataDir.map { ($0 as NSString).appendingPathComponent("labels.csv") }
    }

    func run() throws {
        let m = try model.load()
        let trigger = try triggerOptions.spec()
        if trigger != nil && target == nil { throw ValidationError("--trigger needs --target") }
        var options = try eval.evaluationOptions(seed: triggerOptions.triggerSeed)
        if let probeEpochs { options.probe.epochs = probeEpochs }
        let report: EvaluationReport
        if let probeCSV {
            report = try Evaluation.linearProbe(model: m, trainCSV: probeCSV, evalCSV: eval.evalCSV, classes: try eval.classSet(),
                                     trigger: trigger, target: target, options: options)
        } else {
            // Under mpirun/srun the images are embedded over the ranks and gathered; rank 0 reports.
            let world = try Communicators.world()
            report = try Evaluation.evaluate(model: m, evalCSV: eval.evalCSV, classes: try eval.classSet(), trigger: trigger,
                                  target: target, options: options, communicator: world)
            guard world.isRoot else { return }
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
        let options = try eval.evaluationOptions(seed: triggerOptions.triggerSeed)
        let report = try Evaluation.scoreTrigger(model: m, evalCSV: eval.evalCSV, classes: try eval.classSet(), trigger: trigger,
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
