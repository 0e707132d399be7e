import CleanCLIP
import Foundation
import Testing

private let modelFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/models")

private func maxWeightDiff(_ a: CLIPModel, _ b: CLIPModel) -> (String, Float) {
    var worst = ("", Float(0))
    for (x, y) in zip(a.weights, b.weights) {
        precondition(x.name == y.name)
        let d = maxAbsDiff(x.tensor, y.tensor)
        if d > worst.1 { worst = (x.name, d) }
    }
    return worst
}

@Suite(.serialized) struct ImportedOptimizerFinetuneTests {
    var config: FinetuneConfig { tinyFinetuneConfig }

    /// A run started from imported AdamW state (as from a CleanCLIP .pt; the fixture models'
    /// 1000-token vocabulary cannot take real captions, so the state here comes from another
    /// run) starts its schedule afresh, keeps the imported step for bias correction, and resumes
    /// exactly from our checkpoint.
    @Test func importedStateRunResumesExactly() throws {
        let dir = tempDir("import")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try ImageCaptionDataset(csvPath: try makeCSV(count: 24, in: dir))
            .augmentingCaptions(with: EDA(wordNet: try WordNet.shared()), seed: 3)
        var one = config
        one.epochs = 1
        let earlier = try Finetuner(model: CLIPModel(randomWith: tinyConfig, seed: 7), dataset: data, config: one)
        try earlier.run(checkpoint: nil)
        let imported = earlier.trainer.optimizer.state()
        #expect(earlier.trainer.stepCount == 3)

        func start() throws -> Finetuner {
            let f = try Finetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: data, config: config)
            try f.importOptimizerState(imported)
            return f
        }
        let straight = try start()
        #expect(straight.trainer.stepCount == 3 && straight.trainer.scheduleStepOffset == 3)
        var first: FinetuneProgress?
        try straight.run(checkpoint: nil) { e in
            if case .step(let p) = e, first == nil { first = p }
            return true
        }
        #expect(first?.step == 0 && first?.lr == config.lr / 2, "the schedule starts at its first warmup step (index 0)")
        #expect(straight.trainer.stepCount == 3 + 6)

        // The CleanCLIP fixture's state imports into a Finetuner over its model the same way.
        let pt = modelFixtures.appendingPathComponent("vit_quickgelu.cleanclip.pt").path
        let ptModel = try CLIPModel.load(path: pt)
        let fromTorch = try Finetuner(model: ptModel, dataset: data, config: config)
        try fromTorch.importOptimizerState(try cleanCLIPOptimizerState(fromTorchCheckpoint: pt, model: ptModel))
        #expect(fromTorch.trainer.stepCount == 2 && fromTorch.trainer.scheduleStepOffset == 2)

        let checkpoint = dir + "/run.safetensors"
        let interrupted = try start()
        #expect(throws: FinetuneError.self) {
            try interrupted.run(checkpoint: checkpoint) { if case .epoch = $0 { return false }; return true }
        }
        let reloaded = try CLIPModel.load(path: checkpoint)
        let resumed = try Finetuner(model: reloaded, dataset: data, config: config)
        try resumed.resume(from: checkpoint)
        #expect(resumed.startEpoch == 1 && resumed.trainer.scheduleStepOffset == 3 && resumed.trainer.stepCount == 6)
        // Imported state is only for a fresh run.
        #expect(throws: FinetuneError.self) { try resumed.importOptimizerState(imported) }
        try resumed.run(checkpoint: checkpoint)
        let (name, diff) = maxWeightDiff(straight.model, reloaded)
        #expect(diff <= 1e-6, "\(name) differs by \(diff) after resuming")
    }
}

@Suite(.serialized) struct SupervisedFinetunerTests {
    var config: SupervisedFinetuneConfig {
        var c = SupervisedFinetuneConfig()
        c.batchSize = 8
        c.epochs = 4
        c.warmupSteps = 1
        c.lr = 1e-3
        c.classes = 10
        c.seed = 3
        return c
    }

    @Test func lossDecreasesAndCheckpointsReload() throws {
        let dir = tempDir("supervised")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try ImageLabelDataset(csvPath: try makeCSV(count: 24, in: dir))
        let model = CLIPModel(randomWith: tinyConfig, seed: 1)
        let textBefore = model.weights.first { $0.name == "token_embedding.weight" }!.tensor.copy()
        let checkpoint = dir + "/sup.safetensors"
        let f = try SupervisedFinetuner(model: model, dataset: data, config: config)
        #expect(f.classes == 10 && f.batchesPerEpoch == 3)
        var steps = 0
        let history = try f.run(checkpoint: checkpoint) { if case .step = $0 { steps += 1 }; return true }
        #expect(steps == 12 && history.count == 4)
        #expect(history.last!.meanLoss < history.first!.meanLoss, "\(history.map(\.meanLoss))")
        #expect(history.allSatisfy { $0.meanClipLoss == nil && $0.meanInmodalLoss == nil })
        // The text tower is not trained.
        #expect(model.weights.first { $0.name == "token_embedding.weight" }!.tensor.array == textBefore.array)
        // Model, head and optimizer files are written and reload.
        let reloaded = try CLIPModel.load(path: checkpoint)
        #expect(maxWeightDiff(model, reloaded).1 == 0)
        let head = try SupervisedFinetuner.loadHead(path: SupervisedFinetuner.headPath(for: checkpoint))
        #expect(head.weight.shape == [10, 32] && head.weight.array == f.head.weight.array && head.bias.array == f.head.bias.array)
        #expect(FileManager.default.fileExists(atPath: Finetuner.optimizerPath(for: checkpoint)))
        // A supervised checkpoint is not a contrastive one.
        let contrastive = try Finetuner(model: reloaded, dataset: try ImageCaptionDataset(csvPath: data.csvPath),
                                        config: { var c = FinetuneConfig(); c.inmodal = false; c.batchSize = 8; return c }())
        #expect(throws: (any Error).self) { try contrastive.resume(from: checkpoint) }
    }

    /// Two epochs in one go equal one epoch, a checkpoint, and a resumed second epoch.
    @Test func resumeEqualsUninterruptedRun() throws {
        let dir = tempDir("supervised-resume")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try ImageLabelDataset(csvPath: try makeCSV(count: 24, in: dir))
        var c = config
        c.epochs = 2
        let straight = try SupervisedFinetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: data, config: c)
        try straight.run(checkpoint: nil)

        let checkpoint = dir + "/sup.safetensors"
        let first = try SupervisedFinetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: data, config: c)
        #expect(throws: FinetuneError.self) {
            try first.run(checkpoint: checkpoint) { if case .epoch = $0 { return false }; return true }
        }
        let reloaded = try CLIPModel.load(path: checkpoint)
        let second = try SupervisedFinetuner(model: reloaded, dataset: data, config: c)
        try second.resume(from: checkpoint)
        #expect(second.startEpoch == 1 && second.trainer.stepCount == 3)
        try second.run(checkpoint: checkpoint)
        let (name, diff) = maxWeightDiff(straight.model, reloaded)
        #expect(diff <= 1e-6, "\(name) differs by \(diff) after resuming")
        #expect(maxAbsDiff(straight.head.weight, second.head.weight) <= 1e-6)
        #expect(maxAbsDiff(straight.head.bias, second.head.bias) <= 1e-6)

        // Other settings are refused on resume.
        var other = c
        other.lr = 5e-4
        let mismatched = try SupervisedFinetuner(model: try CLIPModel.load(path: checkpoint), dataset: data, config: other)
        #expect(throws: FinetuneError.self) { try mismatched.resume(from: checkpoint) }
    }

    @Test func nonFiniteLossStopsAndBadLabelsAreErrors() throws {
        let dir = tempDir("supervised-nan")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try ImageLabelDataset(csvPath: try makeCSV(count: 16, in: dir))
        var explosive = config
        explosive.lr = 1e30
        explosive.warmupSteps = 0
        explosive.epochs = 1
        let f = try SupervisedFinetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: data, config: explosive)
        do {
            try f.run(checkpoint: nil)
            Issue.record("a run with lr 1e30 finished")
        } catch let e as FinetuneError {
            #expect(e.description.contains("loss became"), "\(e)")
        }
        var few = config
        few.classes = 2
        if data.classCount > 2 {
            #expect(throws: FinetuneError.self) {
                try SupervisedFinetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: data, config: few)
            }
        }
    }
}
