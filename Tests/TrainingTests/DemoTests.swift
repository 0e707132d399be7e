import CleanCLIP
import Demo
import Foundation
import Testing

/// CleanCLIP's text augmentation (EDA) needs WordNet 3.0.
private let demoWordNetInstalled = FileManager.default.fileExists(atPath: "/usr/share/wordnet/data.noun")

/// The demo pipeline end to end on a tiny configuration (seconds in release): the report folder,
/// the structure and ranges of results.json, and reproducibility for a seed. The numbers
/// themselves are not asserted (a model this small trained this briefly learns little).
@Suite(.enabled(if: demoWordNetInstalled, "needs /usr/share/wordnet (apt-get install wordnet-base)"))
struct DemoTests {
    static var tiny: DemoConfig {
        var c = DemoConfig()
        c.seed = 5
        c.trainPairs = 96
        c.cleanPairs = 64
        c.testImages = 40
        c.pretrainEpochs = 1
        c.finetuneEpochs = 1
        c.batchSize = 32
        c.poisonFraction = 0.05
        c.width = 32
        c.layers = 1
        c.heads = 2
        return c
    }

    private func run(_ config: DemoConfig, report: String?) throws -> DemoResults {
        let demo = Demo(config: config)
        demo.log = { _ in }
        return try demo.run(reportDirectory: report)
    }

    @Test func writesAReportWithResultsInRange() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demo-test-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = Self.tiny
        let r = try run(config, report: dir)
        for name in ["index.html", "results.md", "results.json", "results.csv", "pretrain_loss.svg", "pretrain_accuracy.svg",
                     "finetune_loss.svg", "finetune_accuracy.svg", "examples/clean_0.png", "examples/triggered_0.png",
                     "poisoned.safetensors", "mmcl.safetensors", "cleanclip.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + name), "missing \(name)")
        }
        // The saved poisoned model is the one that was cleaned: reusing it skips pretraining and
        // gives the same poisoned, MMCL-only and CleanCLIP results.
        let again = Demo(config: config)
        again.log = { _ in }
        let reused = try again.run(poisonedModel: dir + "/poisoned.safetensors")
        #expect(reused.poisoned == r.poisoned && reused.mmcl == r.mmcl && reused.cleanclip == r.cleanclip)
        #expect(reused.pretrainCurve.isEmpty)
        var otherShape = config
        otherShape.width = 48
        #expect(throws: FinetuneError.self) { try Demo(config: otherShape).run(poisonedModel: dir + "/poisoned.safetensors") }
        // The kernel and thread count, which decide the float rounding, are recorded with the figures.
        #expect(r.arithmetic == .current && r.arithmetic.threads == Threads.count)
        let md = try String(contentsOfFile: dir + "/results.md", encoding: .utf8)
        #expect(md.contains("computed with OpenBLAS kernel \(BLASBackend.status.kernel), \(Threads.count) thread"))
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/examples/triggered_0.png"))
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        let svg = try String(contentsOfFile: dir + "/finetune_accuracy.svg", encoding: .utf8)
        #expect(svg.contains("<svg") && svg.contains("finetuning epoch"))
        let page = try String(contentsOfFile: dir + "/index.html", encoding: .utf8)
        for part in ["<table id=\"results\">", "<td>CleanCLIP</td>", "<table id=\"per-class-asr\">",
                     "src=\"finetune_accuracy.svg\"", "src=\"examples/triggered_0.png\""] {
            #expect(page.contains(part), "index.html lacks \(part)")
        }
        #expect(!page.contains("http://") && !page.contains("https://"), "index.html must not reach the network")
        let markdown = try String(contentsOfFile: dir + "/results.md", encoding: .utf8)
        #expect(markdown.contains("| CleanCLIP | ") && markdown.contains("| class | images | "))

        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/results.json"))) as? [String: Any]
        let object = try #require(json)
        for stage in ["poisoned", "mmcl", "cleanclip"] {
            let s = try #require(object[stage] as? [String: Any], "no \(stage)")
            for key in ["clean_accuracy", "asr"] {
                let v = try #require(s[key] as? Double, "no \(stage).\(key)")
                #expect(v >= 0 && v <= 1, "\(stage).\(key) = \(v)")
            }
            // The classes with test images, in label order, the target left out.
            let perClass = try #require(s["per_class_asr"] as? [[String: Any]], "no \(stage).per_class_asr")
            let names = perClass.compactMap { $0["class"] as? String }
            #expect(!names.isEmpty && names == ShapesDataset.classes.dropLast().filter(names.contains))
        }
        #expect(object["seed"] as? Int == 5)
        let savedConfig = try #require(object["config"] as? [String: Any])
        #expect(savedConfig["train_pairs"] as? Int == config.trainPairs)
        #expect(savedConfig.keys.allSatisfy { $0 == $0.lowercased() }, "camelCase keys in \(savedConfig.keys.sorted())")
        #expect(savedConfig["seed"] as? Int == 5)
        let poisonedPairs = try #require(object["poisoned_pairs"] as? Int)
        #expect(poisonedPairs == Int(config.poisonFraction * Double(config.trainPairs)))
        #expect(r.pretrainCurve.count == config.pretrainEpochs)
        #expect(r.mmclCurve.count == config.finetuneEpochs && r.cleanclipCurve.count == config.finetuneEpochs)
        for record in r.pretrainCurve + r.mmclCurve + r.cleanclipCurve {
            #expect(record.loss.isFinite && record.loss > 0)
        }
        // The last epoch's numbers are the stage's result.
        #expect(r.mmclCurve.last?.cleanAccuracy == r.mmcl.cleanAccuracy && r.cleanclipCurve.last?.asr == r.cleanclip.asr)
    }

    @Test func sameSeedSameResults() throws {
        let a = try run(Self.tiny, report: nil)
        let b = try run(Self.tiny, report: nil)
        #expect(a.poisoned == b.poisoned && a.mmcl == b.mmcl && a.cleanclip == b.cleanclip)
        #expect(a.pretrainCurve == b.pretrainCurve && a.mmclCurve == b.mmclCurve && a.cleanclipCurve == b.cleanclipCurve)
        var other = Self.tiny
        other.seed = 6
        let c = try run(other, report: nil)
        #expect(c.pretrainCurve.map(\.loss) != a.pretrainCurve.map(\.loss))
    }

    /// The table: every (attack, seed) run with each defence, the report files, the same figures
    /// the single demo gives for the same settings, and resumption from the saved runs.
    @Test func tableRunsEveryDefenceAndResumes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demo-table-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var lines: [String] = []
        func table() throws -> DemoTable {
            let t = try DemoTable(base: Self.tiny, attacks: [.badnet, .wanet], seeds: [5, 6])
            t.log = { lines.append($0) }
            return t
        }
        let runs = try table().run(reportDirectory: dir)
        #expect(runs.map { "\($0.config.attack.rawValue)-\($0.config.seed)" } == ["badnet-5", "badnet-6", "wanet-5", "wanet-6"])
        for run in runs {
            #expect(run.results.map(\.defence) == DemoConfig.Defence.allCases)
            #expect(run.pretrainCurve.count == Self.tiny.pretrainEpochs)
            for d in run.results {
                #expect((0...1).contains(d.result.cleanAccuracy) && (0...1).contains(d.result.asr))
                #expect(d.curve.count == (d.defence == .none ? 0 : Self.tiny.finetuneEpochs))
            }
        }
        // badnet seed 5 is the single demo's default run for that seed.
        let single = try run(Self.tiny, report: nil)
        #expect(runs[0].result(.none) == single.poisoned && runs[0].result(.mmcl) == single.mmcl
                && runs[0].result(.cleanclip) == single.cleanclip)
        for name in ["index.html", "table.md", "table.json", "table.csv", "runs/badnet_seed5.json", "runs/wanet_seed6.json",
                     "runs/wanet_seed6.poisoned.safetensors", "runs/reference_seed5.json", "runs/reference_seed6.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + name), "missing \(name)")
        }
        // One never-poisoned model per seed, pretrained once, scored with each attack's trigger: it is
        // the single demo's pretrained model for poison fraction 0, where nothing is poisoned.
        #expect(lines.filter { $0.contains("never-poisoned seed") && $0.contains("from scratch") }.count == 2)
        var clean5 = try table().referenceConfig(seed: 5)
        let reference = try run(clean5, report: nil)
        #expect(reference.poisonedPairs == 0 && runs[0].neverPoisoned == reference.poisoned)
        clean5.attack = .wanet
        #expect(runs[2].neverPoisoned == (try run(clean5, report: nil)).poisoned)
        // A table with another warp has the same never-poisoned settings, so it reuses the saved models.
        var otherWarp = Self.tiny
        (otherWarp.warpGrid, otherWarp.warpStrength) = (4, 2)
        #expect(try DemoTable(base: otherWarp, attacks: [.wanet], seeds: [5]).referenceConfig(seed: 5)
                == table().referenceConfig(seed: 5))
        #expect(runs[0].neverPoisoned?.cleanAccuracy == runs[2].neverPoisoned?.cleanAccuracy)
        // The saved poisoned model cleans again without pretraining, to the table's figures.
        var wanet6 = Self.tiny
        (wanet6.attack, wanet6.seed) = (.wanet, 6)
        let reuse = Demo(config: wanet6)
        reuse.log = { _ in }
        let cleanedAgain = try reuse.run(poisonedModel: dir + "/runs/wanet_seed6.poisoned.safetensors")
        #expect(cleanedAgain.cleanclip == runs[3].result(.cleanclip) && cleanedAgain.poisoned == runs[3].result(.none))
        let md = try String(contentsOfFile: dir + "/table.md", encoding: .utf8)
        let cleanclip = runs.filter { $0.config.attack == .wanet }.map { 100 * $0.result(.cleanclip)!.asr }
        #expect(md.contains("| CleanCLIP | ") && md.contains(MeanStd(cleanclip).formatted))
        let floor = runs.filter { $0.config.attack == .badnet }.map { 100 * $0.neverPoisoned!.asr }
        #expect(md.contains("| never poisoned | ") && md.contains(MeanStd(floor).formatted))
        #expect(md.contains("computed with \(Arithmetic.current.description).\n"))
        let page = try String(contentsOfFile: dir + "/index.html", encoding: .utf8)
        #expect(page.contains("<table id=\"table\">") && page.contains("<td>SSL-only</td>") && !page.contains("https://"))
        let csvRows = try String(contentsOfFile: dir + "/table.csv", encoding: .utf8).split(separator: "\n")
        #expect(csvRows.count == 1 + 4 * (1 + DemoConfig.Defence.allCases.count))
        #expect(csvRows.contains { $0.hasPrefix("wanet,6,never-poisoned,") })

        // Again into the same folder: every run is reused, with the same figures, and no
        // never-poisoned model is made where every run of its seed is complete.
        let referenceFile = dir + "/runs/reference_seed6.safetensors"
        try FileManager.default.moveItem(atPath: referenceFile, toPath: dir + "/reference6")
        lines = []
        let again = try table().run(reportDirectory: dir)
        #expect(again == runs)
        #expect(lines.filter { $0.contains("reusing the saved run") }.count == 4 && !lines.contains { $0.contains("from scratch") })
        try FileManager.default.moveItem(atPath: dir + "/reference6", toPath: referenceFile)
        // A table with another warp reuses the other attacks' runs (their triggers do not use it),
        // and a run file holding a setting its trigger ignores (one written before) still matches.
        lines = []
        let warped = try DemoTable(base: otherWarp, attacks: [.badnet], seeds: [5, 6])
        warped.log = { lines.append($0) }
        #expect(try warped.run(reportDirectory: dir) == Array(runs[0..<2]))
        #expect(lines.filter { $0.hasSuffix("reusing the saved run") }.count == 2 && !lines.contains { $0.contains("from scratch") })
        var otherPatch = runs[2]
        otherPatch.config.patchSize += 2
        try JSONEncoder().encode(otherPatch).write(to: URL(fileURLWithPath: dir + "/runs/wanet_seed5.json"))
        lines = []
        #expect(try table().run(reportDirectory: dir) == runs)
        #expect(lines.filter { $0.hasSuffix("reusing the saved run") }.count == 4)
        // A saved run whose cleanup settings differ lends its poisoned model; every defence runs again.
        var edited = runs[1]
        edited.config.finetuneLR *= 2
        try JSONEncoder().encode(edited).write(to: URL(fileURLWithPath: dir + "/runs/badnet_seed6.json"))
        lines = []
        let third = try table().run(reportDirectory: dir)
        #expect(lines.filter { $0.hasSuffix("reusing the saved run") }.count == 3 && !lines.contains { $0.contains("from scratch") })
        #expect(lines.contains { $0.contains("badnet seed 6: reusing the saved run's poisoned model; its cleanup settings differ") })
        // The same figures and curves (only the timings differ).
        #expect(third.map { $0.results.map(\.result) } == runs.map { $0.results.map(\.result) })
        #expect(third.map { $0.results.map(\.curve) } == runs.map { $0.results.map(\.curve) })
        // A run file from before the never-poisoned model was measured keeps its defences; the
        // saved never-poisoned model is scored with its trigger.
        // Its file also records other arithmetic: the run lists both, and the table counts the runs of each.
        #expect(runs.allSatisfy { $0.arithmetic == [.current] })
        let other = Arithmetic(blasKernel: "Haswell", threads: 7)
        var older = runs[3]
        (older.neverPoisoned, older.arithmetic) = (nil, [other])
        try JSONEncoder().encode(older).write(to: URL(fileURLWithPath: dir + "/runs/wanet_seed6.json"))
        lines = []
        let fourth = try table().run(reportDirectory: dir)
        #expect(lines.filter { $0.contains("reusing the saved run's defences") }.count == 1 && !lines.contains { $0.contains("from scratch") })
        #expect(fourth.map(\.neverPoisoned) == runs.map(\.neverPoisoned)
                && fourth.map { $0.results.map(\.result) } == runs.map { $0.results.map(\.result) })
        #expect(fourth[3].arithmetic == [other, .current])
        let mixed = try String(contentsOfFile: dir + "/table.md", encoding: .utf8)
        #expect(mixed.contains("\(Arithmetic.current.description) (3 runs)") && mixed.contains("OpenBLAS kernel Haswell, 7 threads and "))
        // One whose pretraining settings differ is pretrained again; its files are kept in runs/replaced/.
        edited = runs[0]
        edited.config.pretrainLR *= 2
        let editedJSON = try JSONEncoder().encode(edited)
        try editedJSON.write(to: URL(fileURLWithPath: dir + "/runs/badnet_seed5.json"))
        let poisonedModel = try Data(contentsOf: URL(fileURLWithPath: dir + "/runs/badnet_seed5.poisoned.safetensors"))
        lines = []
        let fifth = try table().run(reportDirectory: dir)
        #expect(lines.filter { $0.contains("from scratch") }.count == 1 && lines.filter { $0.hasSuffix("reusing the saved run") }.count == 3)
        #expect(lines.contains { $0.hasPrefix("badnet seed 5: ") && $0.contains("badnet_seed5.json was made with other pretraining settings; moved to ")
                                 && $0.hasSuffix("/runs/replaced/ and made again") })
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/runs/replaced/badnet_seed5.json")) == editedJSON)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/runs/replaced/badnet_seed5.poisoned.safetensors")) == poisonedModel)
        #expect(fifth[0].results.map(\.result) == runs[0].results.map(\.result))
        // So is a never-poisoned model made with other settings.
        var savedReference = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/runs/reference_seed6.json"))) as! [String: Any]
        var settings = savedReference["config"] as! [String: Any]
        settings["pretrain_epochs"] = Self.tiny.pretrainEpochs + 1
        savedReference["config"] = settings
        try JSONSerialization.data(withJSONObject: savedReference).write(to: URL(fileURLWithPath: dir + "/runs/reference_seed6.json"))
        try FileManager.default.removeItem(atPath: dir + "/runs/badnet_seed6.json")
        lines = []
        let sixth = try DemoTable(base: Self.tiny, attacks: [.badnet], seeds: [6])
        sixth.log = { lines.append($0) }
        let sixthRuns = try sixth.run(reportDirectory: dir)
        #expect(sixthRuns.map { $0.results.map(\.result) } == [runs[1].results.map(\.result)] && sixthRuns[0].neverPoisoned == runs[1].neverPoisoned)
        #expect(lines.contains { $0.hasPrefix("never-poisoned seed 6: ") && $0.contains("made with other settings; moved to ") })
        #expect(FileManager.default.fileExists(atPath: dir + "/runs/replaced/reference_seed6.safetensors"))
    }

    /// A defence added to a finished table runs on the saved poisoned model, the others are
    /// reused; supervised finetuning is scored through its head, its zero-shot figures kept beside.
    @Test func tableAddsADefenceWithoutPretrainingAgain() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demo-table-add-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var lines: [String] = []
        let first = try DemoTable(base: Self.tiny, attacks: [.blended], seeds: [5], defences: [.mmcl])
        first.log = { lines.append($0) }
        let before = try first.run(reportDirectory: dir)
        #expect(before[0].results.map(\.defence) == [.none, .mmcl])
        lines = []
        let second = try DemoTable(base: Self.tiny, attacks: [.blended], seeds: [5], defences: [.mmcl, .supervised])
        second.log = { lines.append($0) }
        let after = try second.run(reportDirectory: dir)
        #expect(lines.contains { $0.contains("reusing the saved run's 2 defences") } && !lines.contains { $0.contains("from scratch") })
        #expect(after[0].results.map(\.defence) == [.none, .mmcl, .supervised])
        #expect(after[0].result(.mmcl) == before[0].result(.mmcl) && after[0].pretrainCurve == before[0].pretrainCurve)
        let supervised = try #require(after[0].results.last)
        let zeroShot = try #require(supervised.zeroShot)
        #expect((0...1).contains(zeroShot.cleanAccuracy) && supervised.curve.count == Self.tiny.finetuneEpochs)
        #expect(supervised.curve.last?.cleanAccuracy == supervised.result.cleanAccuracy)
        let json = try String(contentsOfFile: dir + "/runs/blended_seed5.json", encoding: .utf8)
        #expect(json.contains("\"zero_shot\"") && !json.contains("zeroShot"))
        // A narrower table reuses the run and leaves the file's other defences in place.
        let narrow = try DemoTable(base: Self.tiny, attacks: [.blended], seeds: [5], defences: [.mmcl])
        narrow.log = { _ in }
        #expect(try narrow.run(reportDirectory: dir)[0].results.map(\.defence) == [.none, .mmcl])
        let kept = try JSONDecoder().decode(TableRun.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/runs/blended_seed5.json")))
        #expect(kept.results.map(\.defence) == [.none, .mmcl, .supervised])
    }

    /// A run's file is written after pretraining and after each defence, so a table stopped in the
    /// middle of a run resumes from its last finished defence, to the same figures.
    @Test func tableResumesARunStoppedBetweenDefences() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demo-table-stop-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = URL(fileURLWithPath: dir + "/runs/badnet_seed5.json")
        var lines: [String] = [], snapshots: [Data] = []
        let first = try DemoTable(base: Self.tiny, attacks: [.badnet], seeds: [5], defences: [.mmcl, .ssl])
        first.log = { line in
            lines.append(line)
            if line.contains("finetuning") { snapshots.append((try? Data(contentsOf: file)) ?? Data()) }
        }
        let full = try first.run(reportDirectory: dir)
        #expect(snapshots.count == 2)
        let partial = try snapshots.map { try JSONDecoder().decode(TableRun.self, from: $0) }
        #expect(partial.map { $0.results.map(\.defence) } == [[], [.mmcl]].map { [.none] + $0 })
        #expect(partial[1].pretrainCurve == full[0].pretrainCurve && partial[1].results == Array(full[0].results.prefix(2)))
        // As if stopped during SSL-only: the run resumes from the saved poisoned model and MMCL-only.
        try snapshots[1].write(to: file)
        lines = []
        let again = try DemoTable(base: Self.tiny, attacks: [.badnet], seeds: [5], defences: [.mmcl, .ssl])
        again.log = { lines.append($0) }
        let resumed = try again.run(reportDirectory: dir)
        #expect(lines.contains { $0.contains("reusing the saved run's 2 defences and its poisoned model") })
        #expect(!lines.contains { $0.contains("from scratch") } && lines.filter { $0.contains("finetuning") }.count == 1)
        #expect(resumed.map { $0.results.map(\.result) } == full.map { $0.results.map(\.result) })
        #expect(resumed[0].results.map(\.curve) == full[0].results.map(\.curve))
    }

    /// Runs made at once have the figures of runs made one after another (they depend on the
    /// thread count, not on the jobs), and a seed's never-poisoned model is made once. A run that
    /// fails stops the table with its error.
    @Test func tableJobsRunAtOnceToTheSameFigures() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demo-table-jobs-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func table(jobs: Int) throws -> DemoTable {
            let t = try DemoTable(base: Self.tiny, attacks: [.badnet, .blended, .wanet], seeds: [5], defences: [.mmcl])
            t.jobs = jobs
            return t
        }
        let serial = try table(jobs: 1)
        serial.log = { _ in }
        let one = try serial.run(reportDirectory: dir + "/one")
        let lock = NSLock()
        var lines: [String] = []
        let parallel = try table(jobs: 3)
        parallel.log = { line in lock.lock(); lines.append(line); lock.unlock() }
        let three = try parallel.run(reportDirectory: dir + "/three")
        #expect(three.map(\.config) == one.map(\.config) && three.map(\.pretrainCurve) == one.map(\.pretrainCurve))
        #expect(three.map { $0.results.map(\.result) } == one.map { $0.results.map(\.result) })
        #expect(three.map { $0.results.map(\.curve) } == one.map { $0.results.map(\.curve) })
        #expect(three.map(\.neverPoisoned) == one.map(\.neverPoisoned))
        #expect(lines.filter { $0.contains("never-poisoned seed 5") && $0.contains("from scratch") }.count == 1)
        // They ran at once: the last run had started before the first one ended.
        let wanetStart = try #require(lines.firstIndex { $0.hasPrefix("[wanet seed 5]") })
        #expect(wanetStart < (try #require(lines.lastIndex { $0.hasPrefix("[badnet seed 5]") })))

        // A run whose file cannot be written fails; the table throws its error.
        try FileManager.default.createDirectory(atPath: dir + "/failing/runs/blended_seed5.json", withIntermediateDirectories: true)
        let failing = try table(jobs: 3)
        failing.log = { _ in }
        #expect { try failing.run(reportDirectory: dir + "/failing") } throws: { "\($0)".contains("blended_seed5.json") }
        #expect(!FileManager.default.fileExists(atPath: dir + "/failing/table.md"))
    }

    @Test func tableRejectsEmptyAndRepeatedLists() throws {
        #expect(throws: FinetuneError.self) { try DemoTable(base: Self.tiny, attacks: [], seeds: [1]) }
        #expect(throws: FinetuneError.self) { try DemoTable(base: Self.tiny, seeds: [1, 1]) }
        var bad = Self.tiny
        bad.finetuneLR = .nan
        #expect(throws: FinetuneError.self) { try DemoTable(base: bad) }
        // The poisoned model is always a row, first.
        #expect(try DemoTable(base: Self.tiny, defences: [.cleanclip]).defences == [.none, .cleanclip])
    }

    /// Reports and tables name the short command that makes their settings: a preset with the
    /// seed, attack and choices a table varies, and no short command once any other setting moves.
    @Test func presetsNameTheirFlag() {
        var long = DemoConfig.long
        (long.seed, long.attack, long.pretrainLoss) = (12, .wanet, .mmclSSL)
        #expect(long.preset == .long && DemoConfig.quick.preset == .quick && DemoConfig().preset == .short)
        // A single run's default is --short, a table's --long; the other presets name their flag.
        #expect(DemoConfig.Preset.allCases.map { $0.flag(table: false) } == [" --quick", "", " --long"])
        #expect(DemoConfig.Preset.allCases.map { $0.flag(table: true) } == [" --quick", " --short", ""])
        // The regime README "Longer pretraining" measured, the table's WaNet at half strength.
        var measured = DemoConfig()
        (measured.pretrainEpochs, measured.finetuneEpochs, measured.finetuneLR, measured.inmodalWeight) = (24, 24, 5e-4, 2)
        measured.warpStrength = 4
        #expect(measured == DemoConfig.long)
        long.inmodalWeight = 3
        #expect(long.preset == nil)
    }

    /// A table's runs at once and threads each: by default one thread per run and a run per core.
    @Test func tableParallelismDefaults() {
        #expect(DemoTable.parallelism(jobs: nil, threads: nil, cores: 16) == (16, 1))
        #expect(DemoTable.parallelism(jobs: 2, threads: nil, cores: 16) == (2, 8))
        #expect(DemoTable.parallelism(jobs: nil, threads: 2, cores: 16) == (8, 2))
        #expect(DemoTable.parallelism(jobs: nil, threads: 4, cores: 2) == (1, 4))
        #expect(DemoTable.parallelism(jobs: 3, threads: 5, cores: 2) == (3, 5))
    }

    @Test func meanAndSampleStandardDeviation() {
        let m = MeanStd([2, 4, 4, 4, 5, 5, 7, 9])
        #expect(m.mean == 5 && abs(m.std - (32.0 / 7).squareRoot()) < 1e-12 && m.count == 8)
        #expect(MeanStd([3]).std == 0 && MeanStd([3]).formatted == "3.0 ± 0.0")
    }

    @Test func wanetUsesTheConfiguredWarp() throws {
        var c = Self.tiny
        c.attack = .wanet
        #expect(Demo(config: c).triggerSpec.kind == .wanet(k: 16, s: 8))  // the measured default (see DemoConfig)
        (c.warpGrid, c.warpStrength) = (4, 3)
        #expect(Demo(config: c).triggerSpec.kind == .wanet(k: 4, s: 3))
        // A saved run records it, so a table does not reuse a run made with another strength.
        let json = try JSONEncoder().encode(c)
        #expect(try JSONDecoder().decode(DemoConfig.self, from: json) == c)
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains("\"warp_strength\":3") && text.contains("\"warp_grid\":4"))
    }

    /// Supervised cleanup trains the vision tower only; pretraining with the in-modal term
    /// (Verma et al.'s setting) is its own run.
    @Test func supervisedCleanupKeepsTheTextTowerAndSSLPretrainingDiffers() throws {
        let demo = Demo(config: Self.tiny)
        demo.log = { _ in }
        let data = try demo.makeData()
        let (poisoned, curve) = try demo.pretrain(data)
        let supervised = try demo.cleanup(poisoned, .supervised, data: data, pairs: try demo.prepareClean(data))
        let (cleaned, supervisedCurve) = (supervised.model, supervised.curve)
        #expect(supervised.head?.weight.shape == [ShapesDataset.classes.count, Self.tiny.width])
        #expect(supervisedCurve.count == Self.tiny.finetuneEpochs && supervisedCurve.allSatisfy { $0.loss.isFinite && $0.loss > 0 })
        let before = Dictionary(uniqueKeysWithValues: poisoned.parameters.map { ($0.name, $0.tensor.array) })
        var visionChanged = false
        for p in cleaned.parameters {
            if p.name.hasPrefix("visual.") {
                visionChanged = visionChanged || p.tensor.array != before[p.name]
            } else {
                #expect(p.tensor.array == before[p.name], "\(p.name) changed")
            }
        }
        #expect(visionChanged)

        var ssl = Self.tiny
        ssl.pretrainLoss = .mmclSSL
        let sslDemo = Demo(config: ssl)
        sslDemo.log = { _ in }
        let (_, sslCurve) = try sslDemo.pretrain(try sslDemo.makeData())
        #expect(sslCurve.count == curve.count && sslCurve.allSatisfy { $0.loss.isFinite })
        // The total loss adds the in-modal term.
        #expect(sslCurve[0].loss > curve[0].loss)
    }

    @Test func epochAxesHaveWholeNumberTicks() {
        let chart = SVGLineChart(title: "t", xLabel: "epoch", yLabel: "loss",
                                 series: [.init(name: "a", points: (1...7).map { (Double($0), 1 / Double($0)) })])
        let svg = chart.render()
        for epoch in 1...7 { #expect(svg.contains(">\(epoch)</text>"), "no tick \(epoch)") }
        #expect(!svg.contains(">2.50</text>") && !svg.contains(">1.50</text>"))
        #expect(svg.contains(">epoch</text>") && svg.contains(">loss</text>"))
    }

    @Test func shapesDataSetIsDeterministicAndLabelled() {
        let a = ShapesDataset.generate(count: 30, side: 32, seed: 9)
        let b = ShapesDataset.generate(count: 30, side: 32, seed: 9)
        #expect(a.map(\.pixels) == b.map(\.pixels) && a.map(\.caption) == b.map(\.caption))
        for e in a {
            #expect(e.pixels.count == 32 * 32 * 3)
            #expect(ShapesDataset.classes.indices.contains(e.label))
        }
    }
}
