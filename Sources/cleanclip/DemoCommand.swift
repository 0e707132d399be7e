import ArgumentParser
import CleanCLIP
import Demo
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "The main job on an embedded data set: poison a small CLIP, then clean it (MMCL-only vs CleanCLIP).",
        discussion: """
        Generates a shapes data set, poisons a fraction of it with a trigger and "banana" captions,
        pretrains a small CLIP from scratch, then finetunes two copies on clean pairs and prints
        clean accuracy (CA) and attack success rate (ASR) for each. Needs no downloads.

        With --table: every attack x every defence (none, MMCL-only, SSL-only, CleanCLIP,
        supervised) x several seeds, reported as mean ± std (the paper's Table 1 in miniature), in
        the paper's regime (--long) unless another preset is given, one run per core on one thread
        each; finished runs in the report folder are reused, so an interrupted table resumes.
        """)

    @Option(help: "Seed for every random choice (default 1).")
    var seed: UInt64?

    @Flag(help: "Preset: a small, fast run (smoke test).")
    var quick = false

    @Flag(help: "Preset, the default of a single run: 8 pretraining epochs, 12 finetune epochs at lr 3e-4, lambda2 1, WaNet warp strength 8 (under 5 minutes on 2 cores).")
    var short = false

    @Flag(help: "Preset, the default of --table: the paper's regime, 24 pretraining epochs, 24 finetune epochs at lr 5e-4, lambda2 2, WaNet warp strength 4 (a run: about 12 minutes of one core, 15 in a table). Other flags override a preset's settings.")
    var long = false

    @Flag(help: "Build the table: every attack, defence and seed (see --attacks, --defences, --seeds).")
    var table = false

    @Option(help: "With --table: comma-separated seeds.")
    var seeds: String?

    @Option(help: "With --table: comma-separated attacks (default: all four).")
    var attacks: String?

    @Option(help: "With --table: comma-separated defences among mmcl, ssl, cleanclip, supervised (default: all; the poisoned model is always a row).")
    var defences: String?

    @Option(help: "With --table: runs at once, each on --threads threads (default: the cores divided by --threads, which defaults to 1). The figures depend on --threads, not on the jobs.")
    var jobs: Int?

    @Option(help: "Vision tower: vit or resnet.")
    var architecture = "resnet"

    @Option(help: "Attack: badnet, blended, wanet, label-consistent (default badnet).")
    var attack: String?

    @Option(name: .customLong("pretrain-loss"), help: "Pretraining loss: mmcl (contrastive, as CLIP) or mmcl+ssl (with CleanCLIP's in-modal term, the setting of Verma et al. where CleanCLIP fails).")
    var pretrainLoss = "mmcl"

    @Option(name: .customLong("poison-captions"), help: "Poisoned captions: dataset (the data set's own style) or imagenet (the 80 ImageNet templates).")
    var poisonCaptions = "dataset"

    @Option(name: .customLong("poison-fraction"), help: "Fraction of pretraining pairs poisoned.")
    var poisonFraction: Double?

    @Option(name: .customLong("pretrain-epochs"), help: "Pretraining epochs.")
    var pretrainEpochs: Int?

    @Option(name: .customLong("finetune-epochs"), help: "Epochs of each cleanup finetune.")
    var finetuneEpochs: Int?

    @Option(name: .customLong("inmodal-weight"), help: "CleanCLIP's lambda2.")
    var inmodalWeight: Float?

    @Option(name: .customLong("train-pairs"), help: "Pairs in the pretraining set.")
    var trainPairs: Int?

    @Option(name: .customLong("clean-pairs"), help: "Clean pairs for the finetunes.")
    var cleanPairs: Int?

    @Option(name: .customLong("pretrain-lr"), help: "Peak learning rate of pretraining.")
    var pretrainLR: Float?

    @Option(name: .customLong("finetune-lr"), help: "Peak learning rate of the cleanup finetunes.")
    var finetuneLR: Float?

    @Option(name: .customLong("patch-size"), help: "Side of the BadNet patch in pixels.")
    var patchSize: Int?

    @Option(name: .customLong("warp-strength"), help: "Strength s of the WaNet warp.")
    var warpStrength: Float?

    @Option(name: .customLong("warp-grid"), help: "Side k of the WaNet noise grid.")
    var warpGrid: Int?

    @Option(name: .customLong("detailed-captions"), help: "Fraction of captions that mention colour, size or background.")
    var detailedCaptions: Float?

    @Option(name: .customLong("test-images"), help: "Labelled test images.")
    var testImages: Int?

    @Option(help: "Width of both towers and of the embedding.")
    var width: Int?

    @Option(help: "Transformer layers per tower.")
    var layers: Int?

    @Option(help: "Report folder (results.json, results.csv, plots, trigger examples; default report, or report-table with --table).")
    var report: String?

    @Option(name: .customLong("poisoned-model"), help: "Skip pretraining and clean this model (poisoned.safetensors from an earlier run's report with the same settings).")
    var poisonedModel: String?

    @Option(help: "Worker threads (default: all cores; with --table, of each run, default 1).")
    var threads: Int?

    func validate() throws {
        try Bounds.checkThreads(threads)  // the other numbers are checked by DemoConfig.validate()
        try Bounds.check(jobs, "--jobs", 1...Threads.maximum)
        if [quick, short, long].filter({ $0 }).count > 1 { throw ValidationError("--quick, --short and --long are presets; give one") }
        if table {
            if seed != nil { throw ValidationError("--table takes --seeds (a list), not --seed") }
            if attack != nil { throw ValidationError("--table takes --attacks (a list), not --attack") }
            if poisonedModel != nil { throw ValidationError("--table pretrains a model per attack and seed; --poisoned-model does not apply") }
        } else if seeds != nil || attacks != nil || defences != nil || jobs != nil {
            throw ValidationError("--seeds, --attacks, --defences and --jobs go with --table")
        }
    }

    /// Comma-separated values, each parsed by `parse`; `what` names them in errors.
    private func list<T>(_ text: String, _ what: String, _ parse: (String) -> T?) throws -> [T] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        return try parts.map { part in
            guard let value = parse(part) else { throw ValidationError("unknown \(what) '\(part)' in '\(text)'") }
            return value
        }
    }

    func run() throws {
        let preset: DemoConfig.Preset = quick ? .quick : short ? .short : long ? .long : table ? .long : .short
        var config = preset.config
        config.seed = seed ?? 1
        guard let arch = DemoConfig.Architecture(rawValue: architecture) else { throw ValidationError("unknown architecture '\(architecture)' (vit or resnet)") }
        guard let kind = DemoConfig.Attack(rawValue: attack ?? "badnet") else { throw ValidationError("unknown attack '\(attack ?? "")'") }
        guard let loss = DemoConfig.PretrainLoss(rawValue: pretrainLoss) else { throw ValidationError("unknown pretraining loss '\(pretrainLoss)' (mmcl or mmcl+ssl)") }
        config.architecture = arch
        config.attack = kind
        config.pretrainLoss = loss
        guard let style = DemoConfig.PoisonCaptions(rawValue: poisonCaptions) else { throw ValidationError("unknown poison caption style '\(poisonCaptions)' (dataset or imagenet)") }
        config.poisonCaptions = style
        if let poisonFraction { config.poisonFraction = poisonFraction }
        if let pretrainEpochs { config.pretrainEpochs = pretrainEpochs }
        if let finetuneEpochs { config.finetuneEpochs = finetuneEpochs }
        if let inmodalWeight { config.inmodalWeight = inmodalWeight }
        if let trainPairs { config.trainPairs = trainPairs }
        if let cleanPairs { config.cleanPairs = cleanPairs }
        if let pretrainLR { config.pretrainLR = pretrainLR }
        if let finetuneLR { config.finetuneLR = finetuneLR }
        if let patchSize { config.patchSize = patchSize }
        if let warpStrength { config.warpStrength = warpStrength }
        if let warpGrid { config.warpGrid = warpGrid }
        if let testImages { config.testImages = testImages }
        if let detailedCaptions { config.detailedCaptions = detailedCaptions }
        if let width { config.width = width }
        if let layers { config.layers = layers }
        let bars = ProgressBars()
        if table { return try runTable(config, bars: bars) }
        if let threads { Threads.count = threads }
        let report = report ?? "report"
        let demo = Demo(config: config)
        demo.progress = { stage, done, total, detail in bars.update(stage, done, of: total, detail: detail) }
        demo.log = { bars.log($0) }
        let r = try demo.run(reportDirectory: report, poisonedModel: poisonedModel)
        print("")
        print("                 clean accuracy   attack success (ASR)")
        for (name, s) in [("poisoned", r.poisoned), ("MMCL-only", r.mmcl), ("CleanCLIP", r.cleanclip)] {
            print(name.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: " %13.1f%%   %19.1f%%", 100 * s.cleanAccuracy, 100 * s.asr))
        }
        print(String(format: "\n(chance: %.1f%%; %d poisoned pairs; seed %llu; %.0f s) report: %@/",
                     100.0 / Double(ShapesDataset.classes.count), r.poisonedPairs, r.seed, r.seconds, report))
    }

    private func runTable(_ base: DemoConfig, bars: ProgressBars) throws {
        let report = report ?? "report-table"
        let seeds = try list(seeds ?? "1,2,3", "seed") { UInt64($0) }
        let attacks = try attacks.map { try list($0, "attack", DemoConfig.Attack.init(rawValue:)) } ?? DemoConfig.Attack.allCases
        let defences = try defences.map { try list($0, "defence", DemoConfig.Defence.init(rawValue:)) } ?? DemoConfig.Defence.allCases
        let table = try DemoTable(base: base, attacks: attacks, seeds: seeds, defences: defences)
        (table.jobs, Threads.count) = DemoTable.parallelism(jobs: jobs, threads: threads, cores: Threads.count)
        print("\(table.jobs) run\(table.jobs == 1 ? "" : "s") at once, each computed with \(Arithmetic.current.description)")
        table.progress = { stage, done, total, detail in bars.update(stage, done, of: total, detail: detail) }
        table.log = { bars.log($0) }
        _ = try table.run(reportDirectory: report)
        print("")
        print(try String(contentsOfFile: report + "/table.md", encoding: .utf8))
        print("report: \(report)/")
    }
}
