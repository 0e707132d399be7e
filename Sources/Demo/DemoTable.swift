import Files
import Foundation
import CleanCLIP

/// The paper's Table 1 in miniature: for every attack and seed, one model poisoned in pretraining
/// (as `Demo` does it), then each defence applied to a copy of it on the same clean pairs, and CA /
/// ASR of every result. `run` writes the report folder (`TableReport`) and returns the runs.
///
/// Every (attack, seed) run is saved as `runs/<attack>_seed<N>.json` after its pretraining and
/// again after each defence, its poisoned model as `runs/<attack>_seed<N>.poisoned.safetensors`
/// (which `demo --poisoned-model`, with the same settings, cleans again without pretraining). A
/// later `run` into the same folder reuses a saved run whose settings match: its defences as they
/// are, and for defences it lacks its poisoned model, so an interrupted table resumes from the
/// last finished stage and a defence can be added to a finished table without pretraining again.
/// A saved run whose settings differ only in the cleanup finetunes' (`DemoConfig.pretraining`)
/// lends its poisoned model, and every defence runs again; one whose pretraining settings differ
/// is moved into `runs/replaced/` and made again.
///
/// Every seed also gets a never-poisoned model: pretrained as the runs are, on the same pairs with
/// none poisoned (`runs/reference_seed<N>.safetensors`, its settings in `.json`), and scored with
/// each attack's trigger (`TableRun.neverPoisoned`). Its ASR is what the trigger gets with no
/// backdoor at all (a patch that hides part of a small shape makes some shapes look like the
/// target), the floor no defence can go below.
public final class DemoTable {
    public let base: DemoConfig
    public let attacks: [DemoConfig.Attack]
    public let seeds: [UInt64]
    /// Always starts with `.none` (the poisoned model), in `Defence.allCases` order.
    public let defences: [DemoConfig.Defence]
    /// How many runs go at once, each on a thread of its own that computes on `Threads.count`
    /// threads (1: one after another). A run's figures do not depend on it, only on `Threads.count`
    /// and the BLAS kernel. A model this small keeps two threads of one run waiting on each other:
    /// on 2 cores a quick table of two runs took 113 s on one thread, 75-78 s as one job of two
    /// threads and 57 s as two jobs of one thread each.
    public var jobs = 1
    /// The jobs, and the threads of each, for a table on `cores` cores given the `jobs` and
    /// `threads` a user asked for (nil: not given). By default one thread per run and as many runs
    /// at once as cores: the fastest use of the cores for models this small, and figures that do
    /// not depend on the core count (they are the one-thread figures on every machine with the
    /// same BLAS kernel). One of the two given, the other takes the cores it leaves.
    public static func parallelism(jobs: Int?, threads: Int?, cores: Int) -> (jobs: Int, threads: Int) {
        switch (jobs, threads) {
        case let (jobs?, threads?): (jobs, threads)
        case let (jobs?, nil): (jobs, max(1, cores / jobs))
        case let (nil, threads?): (max(1, cores / threads), threads)
        case (nil, nil): (max(1, cores), 1)
        }
    }

    /// Receives one line per notable event (from the jobs' threads when `jobs` > 1).
    public var log: (String) -> Void = { print($0) }
    /// Receives (stage, done, total, detail) as training proceeds; the stage names the run.
    public var progress: (String, Int, Int, String) -> Void = { _, _, _, _ in }

    /// `base` gives every setting but the attack and the seed.
    public init(base: DemoConfig, attacks: [DemoConfig.Attack] = DemoConfig.Attack.allCases, seeds: [UInt64] = [1, 2, 3],
                defences: [DemoConfig.Defence] = DemoConfig.Defence.allCases) throws {
        guard !attacks.isEmpty, !seeds.isEmpty else { throw FinetuneError("demo table: needs at least one attack and one seed") }
        guard Set(attacks).count == attacks.count, Set(seeds).count == seeds.count else {
            throw FinetuneError("demo table: an attack or a seed is listed twice")
        }
        try base.validate()
        self.base = base
        self.attacks = attacks
        self.seeds = seeds
        self.defences = DemoConfig.Defence.allCases.filter { $0 == .none || defences.contains($0) }
    }

    /// The configuration of one run: the base's, with the trigger settings this attack does not use
    /// at their defaults (so a table with another warp reuses the saved runs of the other attacks).
    public func config(attack: DemoConfig.Attack, seed: UInt64) -> DemoConfig {
        var c = base
        c.attack = attack
        c.seed = seed
        return c.withUnusedTriggerDefaults
    }

    /// Runs (or reuses) every (attack, seed), started in order on `jobs` threads, and writes the
    /// report to `reportDirectory`. After a run fails no other starts; the first error is thrown
    /// once the runs under way have finished (each saved as it goes, so a later `run` resumes).
    /// A seed's never-poisoned model, when a run will score it, is made first, by a job of its own;
    /// runs score it after their pretraining, so that with more jobs than seeds none waits for it.
    public func run(reportDirectory: String) throws -> [TableRun] {
        let runsDirectory = reportDirectory + "/runs"
        try FileManager.default.createDirectory(atPath: runsDirectory, withIntermediateDirectories: true)
        let units = attacks.flatMap { attack in seeds.map { (attack: attack, seed: $0) } }
        let stems = units.map { runsDirectory + "/\($0.attack.rawValue)_seed\($0.seed)" }
        let configs = units.map { config(attack: $0.attack, seed: $0.seed) }
        let saved = try units.indices.map { try savedRun(configs[$0], stem: stems[$0]) }
        let referenceSeeds = seeds.filter { seed in
            units.indices.contains { units[$0].seed == seed && saved[$0]?.holds(defences, for: configs[$0]) != true }
        }
        let runs = Locked([TableRun?](repeating: nil, count: units.count))
        let references = OncePerSeed()
        func reference(_ seed: UInt64) throws -> CLIPModel {
            try references.model(seed) { try referenceModel(seed: seed, stem: runsDirectory + "/reference_seed\(seed)") }
        }
        try concurrently(referenceSeeds.count + units.count, jobs: jobs) { [self] task in
            if task < referenceSeeds.count {
                _ = try reference(referenceSeeds[task])
                return
            }
            let i = task - referenceSeeds.count
            // The file keeps the saved defences this table did not ask for, if made with these settings.
            let kept = saved[i]?.config == configs[i] ? saved[i]?.results ?? [] : []
            let run = try runOne(configs[i], modelPath: stems[i] + ".poisoned.safetensors", saved: saved[i], reference: reference) { run in
                var stored = run
                stored.results = DemoConfig.Defence.allCases.compactMap { d in
                    run.results.first { $0.defence == d } ?? kept.first { $0.defence == d }
                }
                try writeJSON(stored, to: stems[i] + ".json")
            }
            runs.update { $0[i] = run }
        }
        let finished = runs.value.compactMap { $0 }
        try TableReport(table: self, runs: finished).write(to: reportDirectory)
        return finished
    }

    /// The run saved at `stem` if it was made with `config`'s pretraining settings. One made with
    /// others is moved into `runs/replaced/`, to be made again.
    private func savedRun(_ config: DemoConfig, stem: String) throws -> TableRun? {
        guard var found = try? JSONDecoder().decode(TableRun.self, from: Data(contentsOf: URL(fileURLWithPath: stem + ".json"))) else {
            return nil
        }
        // Files from before `config` reset the unused trigger settings may hold others.
        found.config = found.config.withUnusedTriggerDefaults
        if found.config.pretraining == config.pretraining { return found }
        try setAside(stem, [".json", ".poisoned.safetensors"],
                     "\(config.attack.rawValue) seed \(config.seed): \(stem).json was made with other pretraining settings")
        return nil
    }

    /// The settings of a seed's never-poisoned model (the attack only names the trigger its
    /// pretraining curve is scored with; with nothing poisoned, training does not depend on it).
    /// As a BadNet run's, they hold the default warp, so a table with another warp reuses the same
    /// saved model.
    public func referenceConfig(seed: UInt64) -> DemoConfig {
        var c = config(attack: .badnet, seed: seed)
        c.poisonFraction = 0
        return c
    }

    /// The seed's never-poisoned model, reused from `stem`.safetensors when `stem`.json records the
    /// same pretraining settings, else pretrained and saved there.
    private func referenceModel(seed: UInt64, stem: String) throws -> CLIPModel {
        let config = referenceConfig(seed: seed), name = "never-poisoned seed \(seed)"
        let demo = Demo(config: config)
        demo.log = { [log] in log("[\(name)] \($0)") }
        demo.progress = { [progress] stage, done, total, detail in progress("\(name) \(stage)", done, total, detail) }
        let saved = try? JSONDecoder().decode(ReferenceRun.self, from: Data(contentsOf: URL(fileURLWithPath: stem + ".json")))
        if saved?.config.withUnusedTriggerDefaults.pretraining == config.pretraining, FileManager.default.fileExists(atPath: stem + ".safetensors") {
            return try demo.loadPoisoned(stem + ".safetensors")
        }
        if saved != nil { try setAside(stem, [".json", ".safetensors"], "\(name): \(stem).json was made with other settings") }
        let start = Date()
        let (model, curve) = try demo.pretrain(try demo.makeData())
        try model.save(to: stem + ".safetensors", metadata: ["cleanclip.demo.seed": "\(seed)", "cleanclip.demo.attack": "none"])
        try writeJSON(ReferenceRun(config: config, pretrainCurve: curve, seconds: Date().timeIntervalSince(start), arithmetic: .current),
                      to: stem + ".json")
        return model
    }

    /// Moves the files of a saved run (`stem` + each suffix) that this table makes again with other
    /// settings into `runs/replaced/`, so that nothing computed is lost; an older file of the same
    /// name there gives way. `why` starts the line logged.
    private func setAside(_ stem: String, _ suffixes: [String], _ why: String) throws {
        let file = URL(fileURLWithPath: stem)
        let folder = file.deletingLastPathComponent().appendingPathComponent("replaced")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for suffix in suffixes where FileManager.default.fileExists(atPath: stem + suffix) {
            let destination = folder.appendingPathComponent(file.lastPathComponent + suffix).path
            try? FileManager.default.removeItem(atPath: destination)
            try FileManager.default.moveItem(atPath: stem + suffix, toPath: destination)
        }
        log(why + "; moved to \(folder.path)/ and made again")
    }

    /// One (attack, seed): pretraining, the poisoned model saved to `modelPath` (for
    /// `demo --poisoned-model`), then every defence on a copy of it, and the seed's never-poisoned
    /// model (from `reference`) scored with this trigger. `saved` is an earlier run with the same
    /// pretraining settings: its poisoned model is cleaned, and if its settings are all the same its
    /// figures are reused and only the missing ones computed. `save` receives the run so far after
    /// pretraining and after each defence, so an interrupted run loses at most the stage it was in.
    private func runOne(_ config: DemoConfig, modelPath: String, saved: TableRun?, reference: (UInt64) throws -> CLIPModel,
                        save: (TableRun) throws -> Void) throws -> TableRun {
        let name = "\(config.attack.rawValue) seed \(config.seed)"
        let reused = saved?.config == config ? saved?.results.filter { defences.contains($0.defence) } ?? [] : []
        let reusedResults = defences.compactMap { d in reused.first { $0.defence == d } }
        if let saved, saved.holds(defences, for: config) {
            log("\(name): reusing the saved run")
            return TableRun(config: config, poisonedPairs: saved.poisonedPairs, results: reusedResults,
                            pretrainCurve: saved.pretrainCurve, neverPoisoned: saved.neverPoisoned, seconds: saved.seconds,
                            arithmetic: saved.arithmetic)
        }
        let start = Date()
        let demo = Demo(config: config)
        demo.log = { [log] in log("[\(name)] \($0)") }
        demo.progress = { [progress] stage, done, total, detail in progress("\(name) \(stage)", done, total, detail) }
        let data = try demo.makeData()
        if let saved, reused.count == defences.count {
            log("\(name): reusing the saved run's defences; the never-poisoned model scored with its trigger")
            let run = TableRun(config: config, poisonedPairs: saved.poisonedPairs, results: reusedResults, pretrainCurve: saved.pretrainCurve,
                               neverPoisoned: try demo.evaluate(try reference(config.seed), data),
                               seconds: saved.seconds + Date().timeIntervalSince(start),
                               arithmetic: withCurrent(saved.arithmetic))
            try save(run)
            return run
        }
        let poisoned: CLIPModel, pretrainCurve: [EpochRecord]
        let reuseSaved = saved != nil && FileManager.default.fileExists(atPath: modelPath)
        if reuseSaved, let saved {
            log(saved.config == config ? "\(name): reusing the saved run's \(reused.count) defences and its poisoned model"
                : "\(name): reusing the saved run's poisoned model; its cleanup settings differ, so every defence runs again")
            (poisoned, pretrainCurve) = (try demo.loadPoisoned(modelPath), saved.pretrainCurve)
        } else {
            (poisoned, pretrainCurve) = try demo.pretrain(data)
            try poisoned.save(to: modelPath, metadata: ["cleanclip.demo.seed": "\(config.seed)", "cleanclip.demo.attack": config.attack.rawValue])
        }
        let neverPoisoned = try saved?.neverPoisoned ?? demo.evaluate(try reference(config.seed), data)
        var run = TableRun(config: config, poisonedPairs: data.poisonedCount, results: [], pretrainCurve: pretrainCurve,
                           neverPoisoned: neverPoisoned, seconds: 0, arithmetic: withCurrent(reuseSaved ? saved?.arithmetic : []))
        func checkpoint() throws {
            run.seconds = (saved?.seconds ?? 0) + Date().timeIntervalSince(start)
            try save(run)
        }
        try checkpoint()
        let pairs = try demo.prepareClean(data)
        for defence in defences {
            if reuseSaved, let r = reused.first(where: { $0.defence == defence }) {
                run.results.append(r)
                continue
            }
            let t0 = Date()
            let cleaned = try demo.cleanup(poisoned, defence, data: data, pairs: pairs)
            let r = try demo.evaluate(cleaned.model, data, head: cleaned.head)
            // A supervised model is a classifier: its figures are its head's; its zero-shot figures
            // (the trained vision tower against the untouched text tower) are kept beside them.
            let zeroShot = cleaned.head == nil ? nil : try demo.evaluate(cleaned.model, data)
            log(String(format: "[%@] %@: CA %.1f%%, ASR %.1f%%", name, defence.title, 100 * r.cleanAccuracy, 100 * r.asr)
                + (zeroShot.map { String(format: " (zero-shot: CA %.1f%%, ASR %.1f%%)", 100 * $0.cleanAccuracy, 100 * $0.asr) } ?? ""))
            run.results.append(DefenceResult(defence: defence, result: r, zeroShot: zeroShot, curve: cleaned.curve,
                                             seconds: Date().timeIntervalSince(t0)))
            try checkpoint()
        }
        return run
    }
}

/// `recorded` with this process's arithmetic added (unknown, nil, stays unknown).
private func withCurrent(_ recorded: [Arithmetic]?) -> [Arithmetic]? {
    guard let recorded else { return nil }
    return recorded.contains(.current) ? recorded : recorded + [.current]
}

/// Calls `body(i)` for every i in 0..<count, on up to `jobs` threads (the calling one among them),
/// each taking the next i as it finishes one. After a call throws no other starts; the first error
/// is thrown when the calls under way have returned. `body` escapes: a thread may release it after
/// this returns (a `withoutActuallyEscaping` here trapped when one had not yet).
private func concurrently(_ count: Int, jobs: Int, _ body: @escaping (Int) throws -> Void) throws {
    let queue = WorkQueue(count: count, body: body)
    let group = DispatchGroup()
    for _ in 1..<max(1, min(jobs, count)) {
        group.enter()
        let thread = Thread { queue.work(); group.leave() }
        thread.stackSize = 8 << 20  // as the main thread's, far more than a secondary thread's default
        thread.start()
    }
    queue.work()
    group.wait()
    if let failure = queue.failure.value { throw failure }
}

/// The calls `concurrently` hands out.
private final class WorkQueue: @unchecked Sendable {
    let count: Int
    let body: (Int) throws -> Void
    let next = Locked(0)
    let failure = Locked(Error?.none)
    init(count: Int, body: @escaping (Int) throws -> Void) { (self.count, self.body) = (count, body) }

    func work() {
        func take(_ n: inout Int) -> Int? {
            guard n < count else { return nil }
            defer { n += 1 }
            return n
        }
        while failure.value == nil, let i = next.update(take) {
            do { try body(i) } catch { failure.update { $0 = $0 ?? error } }
        }
    }
}

/// A value shared between threads, read and changed under a lock.
private final class Locked<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()
    init(_ value: Value) { stored = value }
    var value: Value { lock.lock(); defer { lock.unlock() }; return stored }
    @discardableResult
    func update<T>(_ change: (inout Value) throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        return try change(&stored)
    }
}

/// Each seed's never-poisoned model, made once: a run that asks for it while another run is making
/// it waits for that one.
private final class OncePerSeed: @unchecked Sendable {
    private var made: [UInt64: Result<CLIPModel, Error>] = [:]
    private var making: Set<UInt64> = []
    private let condition = NSCondition()

    func model(_ seed: UInt64, make: () throws -> CLIPModel) throws -> CLIPModel {
        condition.lock()
        while making.contains(seed) { condition.wait() }
        if let result = made[seed] {
            condition.unlock()
            return try result.get()
        }
        making.insert(seed)
        condition.unlock()
        let result = Result { try make() }
        condition.lock()
        made[seed] = result
        making.remove(seed)
        condition.broadcast()
        condition.unlock()
        return try result.get()
    }
}

/// One defence's outcome in a table run.
public struct DefenceResult: Sendable, Codable, Equatable {
    public var defence: DemoConfig.Defence
    /// Zero-shot CA and ASR; for supervised finetuning, those of its classifier head.
    public var result: StageResult
    /// Supervised finetuning only: the zero-shot figures of its model.
    public var zeroShot: StageResult?
    /// CA and ASR after every finetuning epoch (empty for `.none`).
    public var curve: [EpochRecord]
    /// Seconds of finetuning and evaluation.
    public var seconds: Double

    enum CodingKeys: String, CodingKey { case defence, result, zeroShot = "zero_shot", curve, seconds }
}

/// One poisoned model and its cleanups.
public struct TableRun: Sendable, Codable, Equatable {
    /// The run's settings (its attack and seed included).
    public var config: DemoConfig
    public var poisonedPairs: Int
    /// In `DemoTable.defences` order, `.none` first.
    public var results: [DefenceResult]
    public var pretrainCurve: [EpochRecord]
    /// The seed's never-poisoned model scored with this run's trigger: the CA and ASR with no
    /// backdoor (nil in run files written before it was measured; the table fills it in).
    public var neverPoisoned: StageResult?
    /// Wall seconds of the run (the never-poisoned model's pretraining is in its own file).
    public var seconds: Double
    /// The kernels and thread counts its stages computed with: more than one when it was resumed
    /// or extended under others; nil when a stage was computed before this was recorded. (The
    /// never-poisoned model records its own, in `reference_seed<N>.json`.)
    public var arithmetic: [Arithmetic]?

    public func result(_ defence: DemoConfig.Defence) -> StageResult? {
        results.first { $0.defence == defence }?.result
    }

    /// Whether this saved run holds every figure of a table run with `config` and `defences`
    /// (then the table reuses it as it is).
    func holds(_ defences: [DemoConfig.Defence], for config: DemoConfig) -> Bool {
        self.config == config && neverPoisoned != nil && defences.allSatisfy { d in results.contains { $0.defence == d } }
    }

    enum CodingKeys: String, CodingKey {
        case config, results, seconds, poisonedPairs = "poisoned_pairs", pretrainCurve = "pretrain_curve"
        case neverPoisoned = "never_poisoned", arithmetic
    }
}

/// A seed's never-poisoned model, as `runs/reference_seed<N>.json` records it.
struct ReferenceRun: Codable {
    var config: DemoConfig
    var pretrainCurve: [EpochRecord]
    var seconds: Double
    var arithmetic: Arithmetic?
    enum CodingKeys: String, CodingKey { case config, seconds, arithmetic, pretrainCurve = "pretrain_curve" }
}

/// Mean and sample standard deviation (n - 1; 0 for one value) of percentages.
public struct MeanStd: Sendable, Codable, Equatable {
    public var mean: Double
    public var std: Double
    public var count: Int

    public init(_ values: [Double]) {
        count = values.count
        mean = values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
        let m = mean
        std = values.count < 2 ? 0 : (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
    }

    /// "88.2 ± 1.3".
    public var formatted: String { String(format: "%.1f ± %.1f", mean, std) }
}

/// The table's report folder:
/// - `index.html` (self-contained, like the demo's) and `table.md`: mean ± std of CA and ASR (%)
///   over the seeds, one row for the never-poisoned models and one per defence, two columns per
///   attack; then every run's figures;
/// - `table.json`: the summary and every run; `table.csv`: one row per (attack, seed, defence);
/// - `runs/<attack>_seed<N>.json`: each run with its curves, written as it ends, and its poisoned model.
struct TableReport {
    let table: DemoTable
    let runs: [TableRun]

    struct Cell: Codable {
        var attack: DemoConfig.Attack
        var defence: DemoConfig.Defence
        var cleanAccuracy: MeanStd
        var asr: MeanStd
        enum CodingKeys: String, CodingKey { case attack, defence, cleanAccuracy = "clean_accuracy", asr }
    }

    /// Mean ± std over the seeds, in percent, per (attack, defence).
    var cells: [Cell] {
        table.attacks.flatMap { attack in
            table.defences.map { defence in
                let results = runs.filter { $0.config.attack == attack }.compactMap { $0.result(defence) }
                return Cell(attack: attack, defence: defence, cleanAccuracy: MeanStd(results.map { 100 * $0.cleanAccuracy }),
                            asr: MeanStd(results.map { 100 * $0.asr }))
            }
        }
    }

    func cell(_ attack: DemoConfig.Attack, _ defence: DemoConfig.Defence) -> Cell? {
        cells.first { $0.attack == attack && $0.defence == defence }
    }

    /// The never-poisoned models' CA and ASR with one attack's trigger.
    struct ReferenceCell: Codable {
        var attack: DemoConfig.Attack
        var cleanAccuracy: MeanStd
        var asr: MeanStd
        enum CodingKeys: String, CodingKey { case attack, cleanAccuracy = "clean_accuracy", asr }
    }

    var referenceCells: [ReferenceCell] {
        table.attacks.map { attack in
            let results = runs.filter { $0.config.attack == attack }.compactMap(\.neverPoisoned)
            return ReferenceCell(attack: attack, cleanAccuracy: MeanStd(results.map { 100 * $0.cleanAccuracy }),
                                 asr: MeanStd(results.map { 100 * $0.asr }))
        }
    }

    static let referenceTitle = "never poisoned"

    /// The command that makes this table.
    var command: String {
        var c = "cleanclip demo --table" + (table.base.preset?.flag(table: true) ?? "") + " --seeds " + table.seeds.map(String.init).joined(separator: ",")
        if table.attacks != DemoConfig.Attack.allCases { c += " --attacks " + table.attacks.map(\.rawValue).joined(separator: ",") }
        if table.defences != DemoConfig.Defence.allCases {
            c += " --defences " + table.defences.filter { $0 != .none }.map(\.rawValue).joined(separator: ",")
        }
        c += table.base.choiceFlags
        return table.base.preset == nil ? c + " with the settings in table.json" : c
    }

    var seconds: Double { runs.map(\.seconds).reduce(0, +) }

    /// The runs' kernels and thread counts: "OpenBLAS kernel Cooperlake, 1 thread" when all share
    /// one, else each with its count of runs.
    var arithmetic: String {
        let groups = Dictionary(grouping: runs) { run in
            run.arithmetic.map { $0.map(\.description).joined(separator: " and ") } ?? "settings not recorded (run files from before they were)"
        }
        if groups.count == 1, let only = groups.keys.first { return only }
        return groups.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value.count) run\($0.value.count == 1 ? "" : "s"))" }.joined(separator: "; ")
    }

    func write(to directory: String) throws {
        func write(_ text: String, _ name: String) throws { try AtomicFile.write(text, to: directory + "/" + name) }
        struct Summary: Codable {
            var command: String
            var seconds: Double
            var arithmetic: String
            var neverPoisoned: [ReferenceCell]
            var cells: [Cell]
            var runs: [TableRun]
            enum CodingKeys: String, CodingKey { case command, seconds, arithmetic, cells, runs, neverPoisoned = "never_poisoned" }
        }
        try writeJSON(Summary(command: command, seconds: seconds, arithmetic: arithmetic, neverPoisoned: referenceCells, cells: cells, runs: runs),
                      to: directory + "/table.json")
        // The never-poisoned model's row is "never-poisoned" in the defence column.
        var csv = "attack,seed,defence,clean_accuracy,top5_accuracy,asr\n"
        for run in runs {
            let rows = (run.neverPoisoned.map { [("never-poisoned", $0)] } ?? []) + run.results.map { ($0.defence.rawValue, $0.result) }
            for (name, r) in rows {
                csv += "\(run.config.attack.rawValue),\(run.config.seed),\(name),\(r.cleanAccuracy),\(r.top5Accuracy),\(r.asr)\n"
            }
        }
        try write(csv, "table.csv")
        try write(markdown(), "table.md")
        try write(html(), "index.html")
    }

    private func percent(_ x: Double) -> String { String(format: "%.1f", 100 * x) }
    private func percents(_ r: StageResult?) -> String { r.map { "\(percent($0.cleanAccuracy)) / \(percent($0.asr))" } ?? "" }

    func markdown() -> String {
        var md = "# CleanCLIP demo table: \(table.attacks.count) attacks x \(table.defences.count) defences x \(table.seeds.count) seeds\n\n"
        md += "CA / ASR (%), mean ± std over seeds \(table.seeds.map(String.init).joined(separator: ", ")); zero-shot, except"
            + " supervised finetuning, a classifier scored through its head (its zero-shot figures are in the run files)."
            + " \(Self.referenceTitle): a model pretrained on the same pairs with none poisoned, the floor of ASR.\n\n"
        md += "| defence | " + table.attacks.map { "\($0.rawValue) CA | \($0.rawValue) ASR" }.joined(separator: " | ") + " |\n"
        md += "|---|" + String(repeating: "---|---|", count: table.attacks.count) + "\n"
        md += "| \(Self.referenceTitle) | " + referenceCells.map { "\($0.cleanAccuracy.formatted) | \($0.asr.formatted)" }.joined(separator: " | ") + " |\n"
        for defence in table.defences {
            md += "| \(defence.title) | " + table.attacks.map { a in
                guard let c = cell(a, defence) else { return " | " }
                return "\(c.cleanAccuracy.formatted) | \(c.asr.formatted)"
            }.joined(separator: " | ") + " |\n"
        }
        md += "\nEvery run (CA / ASR, %):\n\n| attack | seed | \(Self.referenceTitle) | " + table.defences.map(\.title).joined(separator: " | ") + " |\n"
        md += "|---|---|---|" + String(repeating: "---|", count: table.defences.count) + "\n"
        for run in runs {
            md += "| \(run.config.attack.rawValue) | \(run.config.seed) | \(percents(run.neverPoisoned)) | "
                + run.results.map { percents($0.result) }.joined(separator: " | ") + " |\n"
        }
        md += "\nCommand: `\(command)`; \(String(format: "%.0f", seconds)) s of runs; computed with \(arithmetic).\n"
        return md
    }

    func html() -> String {
        var h = ReportPage.pageStart(title: "CleanCLIP demo table") + """
        <h1>CleanCLIP demo: \(table.attacks.count) attacks, \(table.defences.count) defences, \(table.seeds.count) seeds</h1>
        <p>For every attack and seed a small CLIP is pretrained from scratch on generated shape-caption pairs,
        \(String(format: "%.0f", 100 * table.base.poisonFraction))% of them poisoned (target class banana), then copies
        of it are finetuned on \(table.base.cleanPairs) clean pairs for \(table.base.finetuneEpochs) epochs by each defence.
        Zero-shot clean accuracy (CA) and attack success rate (ASR), in %, mean ± standard deviation over the seeds.</p>
        <table id="table">
        <tr><th rowspan="2">defence</th>
        """
        h += table.attacks.map { "<th colspan=\"2\">\(htmlEscape($0.rawValue))</th>" }.joined() + "</tr>\n<tr>"
        h += String(repeating: "<th>CA</th><th>ASR</th>", count: table.attacks.count) + "</tr>\n"
        h += "<tr><td>\(Self.referenceTitle)</td>" + referenceCells.map {
            "<td class=\"num\">\(htmlEscape($0.cleanAccuracy.formatted))</td><td class=\"num\">\(htmlEscape($0.asr.formatted))</td>"
        }.joined() + "</tr>\n"
        for defence in table.defences {
            h += "<tr><td>\(htmlEscape(defence.title))</td>"
            for a in table.attacks {
                let c = cell(a, defence)
                h += "<td class=\"num\">\(htmlEscape(c?.cleanAccuracy.formatted ?? ""))</td><td class=\"num\">\(htmlEscape(c?.asr.formatted ?? ""))</td>"
            }
            h += "</tr>\n"
        }
        h += """
        </table>
        <p>CA: zero-shot top-1 accuracy on clean test images. ASR: of the test images not of the target
        class, the fraction classified as banana once the trigger is applied. Never poisoned: a model
        pretrained on the same pairs with none poisoned, scored with the same trigger; its ASR is what
        the trigger gets without a backdoor, the floor no defence goes below. Defences: MMCL-only
        (contrastive loss alone), SSL-only (CleanCLIP's in-modal term alone, lambda1 = 0), CleanCLIP
        (both), supervised (vision tower and a linear head, cross-entropy on the clean images' labels;
        a classifier, scored through its head, with its zero-shot figures in the run files).</p>

        <h2>Every run</h2>
        <table id="runs">
        <tr><th>attack</th><th>seed</th><th>\(Self.referenceTitle)</th>
        """
        h += table.defences.map { "<th>\(htmlEscape($0.title))</th>" }.joined() + "<th>seconds</th></tr>\n"
        for run in runs {
            h += "<tr><td>\(htmlEscape(run.config.attack.rawValue))</td><td class=\"num\">\(run.config.seed)</td>"
            h += "<td class=\"num\">\(percents(run.neverPoisoned))</td>"
            h += run.results.map { "<td class=\"num\">\(percents($0.result))</td>" }.joined()
            h += "<td class=\"num\">\(String(format: "%.0f", run.seconds))</td></tr>\n"
        }
        h += """
        </table>
        <p>Files: <a href="table.md">table.md</a> · <a href="table.json">table.json</a> · <a href="table.csv">table.csv</a> ·
        one JSON per run in <code>runs/</code>, with per-epoch curves.</p>
        <p>Reproduce: <code>\(htmlEscape(command))</code> (\(String(format: "%.0f", seconds)) s of runs; computed with \(htmlEscape(arithmetic))).</p>
        </body>
        </html>

        """
        return h
    }
}
