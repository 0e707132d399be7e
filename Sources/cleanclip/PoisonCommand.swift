import ArgumentParser
import CleanCLIP
import Foundation

struct PoisonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poison",
        abstract: "Plant a backdoor in an image-caption CSV (CleanCLIP's layout): triggered images with target captions.",
        discussion: "CleanCLIP's backdoor/create_backdoor_data.py spellings work too: --train_data (= --data), --label (= --target), --patch_type (= --trigger), --patch_location, --patch_size, --num_backdoor (= --count), --size_train_data, --label_consistent, --templates classes.py.")

    @Option(name: [.customLong("data"), .customLong("train_data")], help: "Image-caption CSV.")
    var data: String

    @Option(help: "The CSV's field delimiter: ',' (default), '\\t' or 'tab', ';', ... (the output CSV uses ',').")
    var delimiter = ","

    @Option(help: "Caption templates: a file with one per line ('{}' marks the target), or CleanCLIP's classes.py (its templates); default: OpenAI's 80.")
    var templates: String?

    @Option(name: [.customLong("size-train-data"), .customLong("size_train_data")], help: "Keep at most this many rows in the output (poisoned included).")
    var sizeTrainData: Int?

    @OptionGroup var triggerOptions: TriggerOptions

    @Option(name: [.customLong("count"), .customLong("num_backdoor")], help: "Number of rows to poison.")
    var count = 1500

    @Option(help: "Output folder for the poisoned images and CSV.")
    var out: String

    @Flag(name: [.customLong("label-consistent"), .customLong("label_consistent")], help: "Poison only rows whose caption names the target, keeping captions.")
    var labelConsistent = false

    @Option(name: [.customLong("image-key"), .customLong("image_key")], help: "Image-path column.")
    var imageKey = "image"

    @Option(name: [.customLong("caption-key"), .customLong("caption_key")], help: "Caption column.")
    var captionKey = "caption"

    @Option(help: "Seed for row choice, captions and trigger draws.")
    var seed: UInt64 = 0

    func validate() throws {
        try Bounds.check(count, "--count", 1...Int.max)
        try Bounds.check(sizeTrainData, "--size-train-data", 1...Int.max)
        _ = try CleanCLIPFlags.delimiter(delimiter)
    }

    func run() throws {
        guard let spec = try triggerOptions.spec(), let target = triggerOptions.target else {
            throw ValidationError("poison needs --trigger and --target")
        }
        var options = PoisonOptions()
        options.imageColumn = imageKey
        options.captionColumn = captionKey
        options.labelConsistent = labelConsistent
        options.outputDirectory = out
        options.delimiter = try CleanCLIPFlags.delimiter(delimiter)
        options.sizeTrainData = sizeTrainData
        if let templates {
            options.templates = try ClassList.loadTemplates(templates)
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let r = try Backdoor.poison(csv: data, trigger: spec, target: target, count: count, seed: seed, options: options)
        print("poisoned \(r.poisonedRows.count) rows -> \(r.csvPath) (images in \(r.imageDirectory))")
    }
}

struct ScoreSamplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score-samples",
        abstract: "Suspicion scores per training pair (k-distance, SLOF, DAO over image embeddings; Huang et al., ICLR 2025).",
        discussion: "With an is_backdoor column in the CSV, AUROC of each score is printed.")

    @OptionGroup var model: ModelOptions

    @Option(help: "Image-caption CSV to score.")
    var data: String

    @Option(help: "Neighbours.")
    var k = 16

    @Option(name: [.customLong("image-key"), .customLong("image_key")], help: "Image-path column.")
    var imageKey = "image"

    @Option(help: "The CSV's field delimiter: ',' (default), '\\t' or 'tab', ';', ... (the output CSV uses ',').")
    var delimiter = ","

    @Option(help: "Output CSV: the rows with their scores.")
    var out: String

    func validate() throws {
        try Bounds.check(k, "--k", 1...Int(Int32.max))
        _ = try CleanCLIPFlags.delimiter(delimiter)
    }

    func run() throws {
        // Under mpirun/srun the rows are embedded over the ranks and gathered; rank 0 writes.
        let world = try Communicators.world()
        let m = try model.load()
        let bars = ProgressBars()
        let report = try SampleScoring.scoreSamples(model: m, csv: data, k: k, imageColumn: imageKey,
                                      delimiter: try CleanCLIPFlags.delimiter(delimiter), communicator: world) { phase, done, total in
            if world.isRoot { bars.update(phase, done, of: total) }
            return true
        }
        guard world.isRoot else { return }
        try report.writeCSV(to: out)
        print("scored \(report.images.count) rows with k = \(k) -> \(out)")
        for (name, value) in (report.auroc ?? [:]).sorted(by: { $0.key < $1.key }) {
            print(String(format: "AUROC %-10@ %.4f", name as NSString, value))
        }
    }
}
