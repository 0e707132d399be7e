import CleanCLIP
import Foundation
import Testing

@Suite(.serialized) struct FinetunerTests {
    func dataset(_ dir: String) throws -> ImageCaptionDataset {
        let csv = try makeCSV(count: 24, in: dir)
        return try ImageCaptionDataset(csvPath: csv).augmentingCaptions(with: EDA(wordNet: try WordNet.shared()), seed: 3)
    }

    var config: FinetuneConfig { tinyFinetuneConfig }

    /// Two epochs in one go equal one epoch, a checkpoint, and a resumed second epoch.
    @Test func resumeEqualsUninterruptedRun() throws {
        let dir = tempDir("resume")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try dataset(dir)

        let straight = CLIPModel(randomWith: tinyConfig, seed: 1)
        let a = try Finetuner(model: straight, dataset: data, config: config)
        var steps = 0
        let history = try a.run(checkpoint: nil) { if case .step = $0 { steps += 1 }; return true }
        #expect(steps == 6 && history.count == 2)

        let checkpoint = dir + "/run.safetensors"
        let first = try Finetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: data, config: config)
        #expect(throws: FinetuneError.self) {
            try first.run(checkpoint: checkpoint) { if case .epoch = $0 { return false }; return true }  // stop after epoch 1
        }
        let reloaded = try CLIPModel.load(path: checkpoint)
        let second = try Finetuner(model: reloaded, dataset: data, config: config)
        try second.resume(from: checkpoint)
        #expect(second.startEpoch == 1)
        try second.run(checkpoint: checkpoint)

        for (x, y) in zip(straight.weights, reloaded.weights) {
            #expect(x.name == y.name)
            let diff = zip(x.tensor.array, y.tensor.array).map { abs($0 - $1) }.max() ?? 0
            #expect(diff <= 1e-6, "\(x.name) differs by \(diff) after resuming")
        }
        // The written checkpoint holds the finished run and loads as a model.
        let final = try CLIPModel.load(path: checkpoint)
        #expect(final.weights.count == straight.weights.count)
    }

    /// Resuming with other settings is refused rather than silently mixing runs.
    @Test func resumeWithOtherSettingsIsRefused() throws {
        let dir = tempDir("mismatch")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try dataset(dir)
        let checkpoint = dir + "/run.safetensors"
        var one = config
        one.epochs = 1
        try Finetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: data, config: one).run(checkpoint: checkpoint)
        var other = config
        other.lr = 5e-4
        let f = try Finetuner(model: try CLIPModel.load(path: checkpoint), dataset: data, config: other)
        #expect(throws: FinetuneError.self) { try f.resume(from: checkpoint) }
    }

    /// A non-finite loss stops the run with an error and leaves the last checkpoint untouched.
    @Test func nonFiniteLossStopsAndKeepsCheckpoint() throws {
        let dir = tempDir("nan")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try dataset(dir)
        let checkpoint = dir + "/run.safetensors"
        var one = config
        one.epochs = 1
        try Finetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: data, config: one).run(checkpoint: checkpoint)
        let before = try Data(contentsOf: URL(fileURLWithPath: checkpoint))

        var explosive = one
        explosive.lr = 1e30
        explosive.warmupSteps = 0
        let f = try Finetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: data, config: explosive)
        do {
            try f.run(checkpoint: checkpoint)
            Issue.record("a run with lr 1e30 finished")
        } catch let e as FinetuneError {
            #expect(e.description.contains("loss became"), "\(e)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoint)) == before)
    }

    @Test func badSettingsAreErrors() throws {
        let dir = tempDir("bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try dataset(dir)
        var c = config
        c.batchSize = 100
        #expect(throws: FinetuneError.self) { try Finetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: data, config: c) }
        c = config
        c.epochs = 0
        #expect(throws: FinetuneError.self) { try Finetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: data, config: c) }
        // CleanCLIP mode without augmented captions names the problem.
        let plain = try ImageCaptionDataset(csvPath: dir + "/train.csv")
        #expect(throws: (any Error).self) {
            try Finetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: plain, config: config).run(checkpoint: nil)
        }
    }
}
