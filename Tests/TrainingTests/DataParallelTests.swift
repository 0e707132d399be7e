import CleanCLIP
import Foundation
import Testing

// Issue 15: `mpirun -np 2 cleanclip finetune` against one process computing the same step on the
// global batch. Runs when mpirun and the plugin built next to the tool are there
// (scripts/test_mpi.sh builds the plugin and sets CLEANCLIP_REQUIRE_MPI=1, which turns their
// absence into a failure instead of a skip).

/// The command-line tool and the MPI plugin built next to this test bundle.
private let buildDir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
private func besideBuild(_ name: String) -> String? {
    [buildDir, buildDir.deletingLastPathComponent()].map { $0.appendingPathComponent(name).path }
        .first { FileManager.default.fileExists(atPath: $0) }
}
private let mpirun: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
    .map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
private let mpiRequired = ProcessInfo.processInfo.environment["CLEANCLIP_REQUIRE_MPI"] == "1"
private let mpiReady = mpirun != nil && besideBuild("cleanclip-cli") != nil && besideBuild("libcleanclip_mpi.so") != nil

@Suite(.serialized, .enabled(if: mpiReady || mpiRequired, "needs mpirun and libcleanclip_mpi.so (scripts/test_mpi.sh)"))
struct DataParallelTests {
    static let ranks = 2

    /// 24 pairs, global batch 8: three steps per epoch, at CleanCLIP's learning rate 1e-5.
    /// (The weights of parameters whose true gradient is zero, such as the key part of
    /// in_proj_bias, move by float rounding noise that AdamW scales up to about lr per step, so
    /// the weight tolerance is meaningful only beside lr: at lr 1e-4 those weights differ by up to
    /// 8e-5 between two processes and one, while the moments still agree to 2e-6 of their scale.)
    func config(inmodal: Bool, epochs: Int = 1) -> FinetuneConfig {
        var c = FinetuneConfig()
        c.inmodal = inmodal
        c.batchSize = 8
        c.epochs = epochs
        c.warmupSteps = 2
        c.lr = 1e-5
        c.seed = 5
        return c
    }

    /// `mpirun -np N cleanclip finetune ...` with `config`'s settings; returns the tool's output.
    func runDistributed(ranks: Int, model: String?, csv: String, config: FinetuneConfig, out: String, resume: Bool = false) throws -> String {
        let tool = try #require(besideBuild("cleanclip-cli"), "cleanclip-cli not built")
        _ = try #require(besideBuild("libcleanclip_mpi.so"), "libcleanclip_mpi.so not built: scripts/build_mpi_plugin.sh")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(mpirun, "mpirun not on PATH (apt-get install openmpi-bin)"))
        var args = ["--allow-run-as-root", "--oversubscribe", "-np", String(ranks), tool, "finetune",
                    "--train-data", csv, "--batch-size", String(config.batchSize), "--epochs", String(config.epochs),
                    "--warmup-steps", String(config.warmupSteps), "--lr", String(config.lr), "--seed", String(config.seed),
                    "--threads", "1", "--out", out]
        args += resume ? ["--resume"] : ["--model", model!]
        args.append(config.inmodal ? "--inmodal" : "--no-inmodal")
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "mpirun exited with \(p.terminationStatus):\n\(text)")
        return text
    }

    /// The reference: one process, the global batch of every step, and the gradient an N-rank
    /// step takes (`ranksPerEpoch[e]` for epoch e). With the embeddings all-gathered without
    /// gradient, each rank's backward reaches the towers through its own rows only, and DDP's
    /// mean divides the sum over ranks by N: the towers get 1/N of the single-process gradient.
    /// logit_scale, which every rank's whole loss uses, gets N/N of it.
    func reference(model: CLIPModel, data: ImageCaptionDataset, config: FinetuneConfig, ranksPerEpoch: [Int]) throws -> AdamW {
        let params = model.parameters.map { (name: $0.name, tensor: $0.tensor) }
        let optimizer = AdamW(parameters: params, config: config.optimizer)
        let schedule = learningRates(config, pairs: data.count).schedule
        for (epoch, ranks) in ranksPerEpoch.enumerated() {
            let loader = try PairBatchLoader(dataset: data, preprocessor: model.preprocessor, tokenizer: .standard,
                                             options: .init(batchSize: config.batchSize, seed: config.seed, epoch: epoch,
                                                            augment: config.inmodal, contextLength: model.config.contextLength))
            while let b = try loader.nextBatch() {
                optimizer.zeroGrad()
                for p in params { p.tensor.requiresGrad = true }
                let pixels = config.inmodal ? Tensor.concatenated([b.images, b.augmentedImages!]) : b.images
                let ids = config.inmodal ? b.tokens + b.augmentedTokens! : b.tokens
                let terms = config.loss(images: try model.encodeImage(pixels),
                                        texts: try model.encodeText(tokens: ids, batch: pixels.shape[0]), logitScale: model.logitScale)
                terms.total.backward()
                for p in params where p.name != "logit_scale" {
                    let g = try #require(p.tensor.grad)
                    for i in 0..<g.count { g.data[i] /= Float(ranks) }
                }
                optimizer.step(lr: schedule.lr(at: optimizer.stepCount))
                model.logitScale.data[0] = min(max(model.logitScale.data[0], 0), Trainer.maxLogitScale)
                for p in params { p.tensor.requiresGrad = false }
            }
        }
        return optimizer
    }

    /// The schedule of a run of `config` over `pairs` pairs, and the sum of its steps' learning rates.
    func learningRates(_ config: FinetuneConfig, pairs: Int) -> (schedule: LRSchedule, sum: Float) {
        let steps = pairs / config.batchSize * config.epochs
        let schedule = LRSchedule.warmupCosine(baseLR: config.lr, warmupSteps: config.warmupSteps, totalSteps: steps)
        return (schedule, (0..<steps).map { schedule.lr(at: $0) }.reduce(0, +))
    }

    /// The checkpoint at `path` against the reference model and optimizer: the AdamW moments
    /// (which carry the gradients' scale) within 1e-5 of their largest magnitude, and the weights
    /// within 1e-5, except where the reference's first moment is rounding noise (below 1e-4 of its
    /// tensor's largest, as in the key part of in_proj_bias, whose true gradient is zero): AdamW
    /// turns noise into steps of up to lr each, so two runs may end up to 1e-5 + 2 x the sum of the
    /// steps' learning rates apart there (`lrSum`). Seen: 4.7e-6 with kernel Zen, 1.06e-5 with
    /// kernel Cooperlake, for a sum of 2.5e-5 over three steps.
    func compare(checkpoint path: String, with model: CLIPModel, optimizer: AdamW, lrSum: Float) throws {
        let saved = try loadTensors(URL(fileURLWithPath: path))
        let referenceState = Dictionary(uniqueKeysWithValues: optimizer.state())
        var worst: (name: String, excess: Float, diff: Float) = ("", 0, 0)
        for w in model.parameters {
            let s = try #require(saved[w.name], "\(w.name) missing from \(path)")
            let m = try #require(referenceState["exp_avg.\(w.name)"])
            let noiseLevel = 1e-4 * maxAbs(m)
            let (a, b, firstMoment) = (s.array, w.tensor.array, m.array)
            for i in a.indices {
                let allowed: Float = abs(firstMoment[i]) <= noiseLevel ? 1e-5 + 2 * lrSum : 1e-5
                let d = abs(a[i] - b[i])
                if d / allowed > worst.excess { worst = (w.name, d / allowed, d) }
            }
        }
        #expect(worst.excess <= 1, "weights: \(worst.name) differs by \(worst.diff), \(worst.excess)x its tolerance")
        let state = try loadTensors(URL(fileURLWithPath: Finetuner.optimizerPath(for: path)))
        var worstMoment: (name: String, rel: Float) = ("", 0)
        for (name, t) in referenceState where name != "step" {
            let s = try #require(state[name], "\(name) missing from the optimizer state")
            let rel = maxAbsDiff(s, t) / max(maxAbs(t), 1e-12)
            if rel > worstMoment.rel { worstMoment = (name, rel) }
        }
        #expect(worstMoment.rel <= 1e-5, "optimizer state: \(worstMoment.name) differs by \(worstMoment.rel) of its largest value")
        #expect(state["step"]?.array == [Float(optimizer.stepCount)])
        print("DataParallelTests: \(path): weight difference \(worst.diff) (\(worst.name)) nearest its tolerance, "
              + "largest moment difference \(worstMoment.rel) of its scale (\(worstMoment.name))")
    }

    /// Three steps on 2 ranks equal the single-process reference, CleanCLIP and MMCL-only.
    @Test(arguments: [true, false]) func twoRanksEqualGlobalBatch(inmodal: Bool) throws {
        let dir = tempDir("ddp-\(inmodal)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let csv = try makeCSV(count: 24, in: dir)
        let modelPath = dir + "/model.safetensors"
        try CLIPModel(randomWith: tinyConfig, seed: 1).save(to: modelPath)
        let config = config(inmodal: inmodal)
        let out = dir + "/ddp.safetensors"
        let log = try runDistributed(ranks: Self.ranks, model: modelPath, csv: csv, config: config, out: out)
        #expect(log.contains("2 ranks x 4 pairs"), "\(log)")

        let model = try CLIPModel.load(path: modelPath)
        let data = try ImageCaptionDataset(csvPath: csv).preparedForTraining(inmodal: inmodal, seed: config.seed)
        let optimizer = try reference(model: model, data: data, config: config, ranksPerEpoch: [Self.ranks])
        #expect(optimizer.stepCount == 3)
        try compare(checkpoint: out, with: model, optimizer: optimizer, lrSum: learningRates(config, pairs: data.count).sum)
    }

    /// `score-samples` on 2 ranks (each embeds half the rows, the embeddings are gathered for the
    /// exact k-NN) writes the scores one process writes, in the CSV's row order.
    @Test func scoreSamplesOverRanks() throws {
        let dir = tempDir("ddp-score")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let csv = try makeCSV(count: 23, in: dir)  // odd: the ranks' shares differ in size
        let modelPath = dir + "/model.safetensors"
        try CLIPModel(randomWith: tinyConfig, seed: 1).save(to: modelPath)
        let tool = try #require(besideBuild("cleanclip-cli"))
        let args = ["score-samples", "--model", modelPath, "--data", csv, "--k", "4", "--threads", "1"]
        let single = Process()
        single.executableURL = URL(fileURLWithPath: tool)
        single.arguments = args + ["--out", dir + "/one.csv"]
        single.standardOutput = FileHandle.nullDevice
        single.standardError = FileHandle.nullDevice
        try single.run()
        single.waitUntilExit()
        #expect(single.terminationStatus == 0)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(mpirun))
        p.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "2", tool] + args + ["--out", dir + "/two.csv"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let one = try String(contentsOfFile: dir + "/one.csv", encoding: .utf8).split(separator: "\n")
        let two = try String(contentsOfFile: dir + "/two.csv", encoding: .utf8).split(separator: "\n")
        #expect(one.count == 24 && two.count == one.count)
        for (a, b) in zip(one.dropFirst(), two.dropFirst()) {
            let x = a.split(separator: ","), y = b.split(separator: ",")
            #expect(x.first == y.first && x.count == y.count)
            for (u, v) in zip(x.dropFirst(), y.dropFirst()) {
                let (f, g) = (Double(u) ?? .nan, Double(v) ?? .nan)
                #expect(abs(f - g) <= 1e-4 * max(1, abs(f)), "row \(x.first ?? ""): \(u) vs \(v)")
            }
        }
    }

    /// `evaluate` (clean accuracy and ASR) on 2 ranks, each embedding half the images, reports
    /// what one process reports.
    @Test func evaluateOverRanks() throws {
        let dir = tempDir("ddp-eval")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let csv = try makeCSV(count: 23, in: dir)
        let modelPath = dir + "/model.safetensors"
        try CLIPModel(randomWith: tinyConfig, seed: 1).save(to: modelPath)
        try (0..<16).map { "class\($0)" }.joined(separator: "\n").write(toFile: dir + "/classes.txt", atomically: true, encoding: .utf8)
        let tool = try #require(besideBuild("cleanclip-cli"))
        let args = ["evaluate", "--model", modelPath, "--eval-data", csv, "--classes", dir + "/classes.txt", "--trigger", "yellow",
                    "--target", "class1", "--patch-size", "8", "--batch-size", "5", "--threads", "1"]
        func run(_ launcher: [String], _ json: String) throws -> [String: Any] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: launcher.isEmpty ? tool : try #require(mpirun))
            p.arguments = (launcher.isEmpty ? [] : launcher + [tool]) + args + ["--json", json]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            let data = try Data(contentsOf: URL(fileURLWithPath: json))
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
        let one = try run([], dir + "/one.json")
        let two = try run(["--allow-run-as-root", "--oversubscribe", "-np", "2"], dir + "/two.json")
        for key in ["n_images", "clean_accuracy", "top5_accuracy", "asr"] {
            #expect(one[key] != nil && "\(one[key] ?? "")" == "\(two[key] ?? "")", "\(key): \(one[key] ?? "-") vs \(two[key] ?? "-")")
        }
    }

    /// `embed` on 2 ranks (batches dealt to the ranks in turn, gathered in input order) writes the
    /// files one process writes, byte for byte: each batch is the same computation on one thread.
    @Test func embedOverRanks() throws {
        let dir = tempDir("ddp-embed")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let csv = try makeCSV(count: 23, in: dir)  // 5 batches of 5, the last short: ranks get 3 and 2
        let modelPath = dir + "/model.safetensors"
        try CLIPModel(randomWith: tinyConfig, seed: 1).save(to: modelPath)
        try (0..<11).map { "caption number \($0)" }.joined(separator: "\n").write(toFile: dir + "/captions.txt", atomically: true, encoding: .utf8)
        let tool = try #require(besideBuild("cleanclip-cli"))
        func run(_ launcher: [String], _ tag: String) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: launcher.isEmpty ? tool : try #require(mpirun))
            p.arguments = (launcher.isEmpty ? [] : launcher + [tool]) + [
                "embed", "--model", modelPath, "--images-from", csv, "--text-file", dir + "/captions.txt", "--batch-size", "5",
                "--threads", "1", "--normalize", "--out-image", "\(dir)/\(tag).images.npy", "--out-text", "\(dir)/\(tag).texts.npy",
                "--out-paths", "\(dir)/\(tag).paths.txt"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\(tag) exited with \(p.terminationStatus)")
        }
        try run([], "one")
        try run(["--allow-run-as-root", "--oversubscribe", "-np", "2"], "two")
        for suffix in ["images.npy", "texts.npy", "paths.txt"] {
            let one = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/one.\(suffix)"))
            let two = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/two.\(suffix)"))
            #expect(!one.isEmpty && one == two, "\(suffix) differs between one process and 2 ranks")
        }
        let images = try NumPy.read(path: dir + "/two.images.npy")
        #expect(images.shape == [23, tinyConfig.embedDim])
    }

    /// A run saved by one process after epoch 1 resumes on 2 ranks: the batches do not depend on
    /// the number of ranks, only the gradient scale of each step does.
    @Test func resumeOnOtherRankCount() throws {
        let dir = tempDir("ddp-resume")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let csv = try makeCSV(count: 24, in: dir)
        let modelPath = dir + "/model.safetensors"
        try CLIPModel(randomWith: tinyConfig, seed: 1).save(to: modelPath)
        let config = config(inmodal: true, epochs: 2)
        let data = try ImageCaptionDataset(csvPath: csv).preparedForTraining(inmodal: true, seed: config.seed)
        let out = dir + "/run.safetensors"
        let first = try Finetuner(model: try CLIPModel.load(path: modelPath), dataset: data, config: config)
        #expect(throws: FinetuneError.self) {
            try first.run(checkpoint: out) { if case .epoch = $0 { return false }; return true }  // stop after epoch 1
        }
        let log = try runDistributed(ranks: Self.ranks, model: nil, csv: csv, config: config, out: out, resume: true)
        #expect(log.contains("resuming after epoch 1"), "\(log)")

        let model = try CLIPModel.load(path: modelPath)
        let optimizer = try reference(model: model, data: data, config: config, ranksPerEpoch: [1, Self.ranks])
        try compare(checkpoint: out, with: model, optimizer: optimizer, lrSum: learningRates(config, pairs: data.count).sum)
    }
}

/// What runs without MPI: the launcher detection, and the error when a launcher is seen but the
/// plugin is missing (instead of N independent single-process runs).
@Suite struct CommunicatorTests {
    @Test func launcherDetection() {
        #expect(Communicators.launchedSize([:]) == nil)
        #expect(Communicators.launchedSize(["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "1"]) == .some(4))
        #expect(Communicators.launchedSize(["PMI_SIZE": "2", "PMI_RANK": "0"]) == .some(2))
        #expect(Communicators.launchedSize(["PMIX_RANK": "0"]) == .some(nil))
    }

    /// One process is rank 0 of 1; its gather hands the tensor back and its average leaves gradients alone.
    @Test func singleProcessChangesNothing() throws {
        let one = SingleProcess()
        #expect(one.rank == 0 && one.size == 1 && one.isRoot)
        let t = Tensor([1, 2, 3, 4], shape: [2, 2])
        #expect(try one.gatherRows(t, blocks: 2) === t)
        t.grad = Tensor([5, 6, 7, 8], shape: [2, 2])
        try one.averageGradients([t])
        #expect(t.grad?.array == [5, 6, 7, 8])
        #expect(try one.allGather([1, 2]) == [1, 2])
    }

    @Test func launcherWithoutPluginIsAnError() throws {
        let tool = try #require(besideBuild("cleanclip-cli"), "cleanclip-cli not built")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = ["finetune", "--model", "unused.safetensors", "--train-data", "unused.csv", "--out", "unused.safetensors"]
        var env = ProcessInfo.processInfo.environment
        env["OMPI_COMM_WORLD_SIZE"] = "2"
        env["OMPI_COMM_WORLD_RANK"] = "0"
        env["CLEANCLIP_MPI_PLUGIN"] = "/nonexistent/libcleanclip_mpi.so"
        p.environment = env
        let pipe = Pipe()
        p.standardError = pipe
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus != 0)
        #expect(text.contains("MPI plugin libcleanclip_mpi.so could not be loaded") && text.contains("/nonexistent"), "\(text)")
    }
}
