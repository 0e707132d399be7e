import ArgumentParser
import CleanCLIP
import Foundation

struct PoisonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poison",
        abstract: "Plant a backdoor in an image-caption CSV (CleanCLIP's layout): triggered images with target captions.")

    @Option(help: "Image-caption CSV.")
    var data: String

    @OptionGroup var triggerOptions: TriggerOptions

    @Option(help: "Number of rows to poison.")
    var count = 1500

    @Option(help: "Output folder for the poisoned images and CSV.")
    var out: String

    @Flag(name: .customLong("label-consistent"), help: "Poison only rows whose caption names the target, keeping captions.")
    var labelConsistent = false

    @Option(name: .customLong("image-key"), help: "Image-path column.")
    var imageKey = "image"

    @Option(name: .customLong("caption-key"), help: "Caption column.")
    var captionKey = "caption"

    @Option(help: "Seed for row choice, captions and trigger draws.")
    var seed: UInt64 = 0

    func validate() throws {
        try Bounds.check(count, "--count", 1...Int.max)
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

    @Option(name: .customLong("image-key"), help: "Image-path column.")
    var imageKey = "image"

    @Option(help: "Output CSV: the rows with their scores.")
    var out: String

    func validate() throws {
        try Bounds.check(k, "--k", 1...Int(Int32.max))
    }

    func run() throws {
        let m = try model.load()
        let bars = ProgressBars()
        let report = try SampleScoring.scoreSamples(model: m, csv: data, k: k, imageColumn: imageKey) { phase, done, total in
            bars.update(phase, done, of: total)
            return true
        }
        try report.writeCSV(to: out)
        print("scored \(report.images.count) rows with k = \(k) -> \(out)")
        for (name, value) in (report.auroc ?? [:]).sorted(by: { $0.key < $1.key }) {
            print(String(format: "AUROC %-10@ %.4f", name as NSString, value))
        }
    }
}
