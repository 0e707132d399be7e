import CleanCLIP
import Foundation
import Testing

/// Issue 13, item 1: both finetuners run through one epoch runner, so progress numbering, the
/// checkpoint after every epoch, cancellation and the non-finite stop
/// behave the same for each. (The demo's stages use it too; see DemoTests.)
@Suite(.serialized) struct EpochRunnerTests {
    enum Kind: String, CaseIterable, Sendable { case contrastive, supervised }

    /// A finetuner of either kind over 24 generated images: 3 batches of 8 per epoch, 2 epochs.
    struct Run {
        let run: (String?, (FinetuneEvent) -> Bool) throws -> [EpochSummary]
        let history: () -> [EpochSummary]
        let batchesPerEpoch: Int
    }

    func make(_ kind: Kind, dir: String, lr: Float = 1e-3) throws -> Run {
        let csv = try makeCSV(count: 24, in: dir)
        let model = CLIPModel(randomWith: tinyConfig, seed: 1)
        switch kind {
        case .contrastive:
            var c = tinyFinetuneConfig
            c.inmodal = false
            c.lr = lr
            c.warmupSteps = 0
            let f = try Finetuner(model: model, dataset: try ImageCaptionDataset(csvPath: csv), config: c)
            return Run(run: { try f.run(checkpoint: $0, onEvent: $1) }, history: { f.history }, batchesPerEpoch: f.batchesPerEpoch)
        case .supervised:
            var c = SupervisedFinetuneConfig()
            c.batchSize = 8
            c.epochs = 2
            c.warmupSteps = 0
            c.lr = lr
            c.classes = 10
            let f = try SupervisedFinetuner(model: model, dataset: try ImageLabelDataset(csvPath: csv), config: c)
            return Run(run: { try f.run(checkpoint: $0, onEvent: $1) }, history: { f.history }, batchesPerEpoch: f.batchesPerEpoch)
        }
    }

    func epochsDone(_ checkpoint: String) throws -> String? {
        try SafetensorsReader.read(path: Finetuner.optimizerPath(for: checkpoint)).metadata["epochs_done"]
    }

    /// Steps, batches and epochs are 0-based and count through the run; a checkpoint is on disk
    /// before each epoch event.
    @Test(arguments: Kind.allCases)
    func progressAndCheckpoints(_ kind: Kind) throws {
        let dir = tempDir("runner-\(kind)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try make(kind, dir: dir)
        let checkpoint = dir + "/run.safetensors"
        var steps: [(epoch: Int, batch: Int, step: Int)] = [], saved: [String?] = []
        let history = try r.run(checkpoint) { event in
            switch event {
            case .step(let p):
                steps.append((p.epoch, p.batch, p.step))
                #expect(p.totalSteps == 2 * r.batchesPerEpoch && p.batchesPerEpoch == r.batchesPerEpoch && p.epochs == 2)
            case .epoch(let e):
                saved.append(try? epochsDone(checkpoint))
                #expect(e.meanLoss.isFinite && e.pairsPerSecond > 0)
            }
            return true
        }
        #expect(r.batchesPerEpoch == 3)
        #expect(steps.map(\.step) == Array(0..<6))
        #expect(steps.map(\.batch) == [0, 1, 2, 0, 1, 2] && steps.map(\.epoch) == [0, 0, 0, 1, 1, 1])
        #expect(saved == ["1", "2"] && history.map(\.epoch) == [0, 1] && r.history().count == 2)
    }

    /// Cancelling at a step throws, names the (1-based) epoch and step, and leaves the checkpoint
    /// of the last finished epoch.
    @Test(arguments: Kind.allCases)
    func cancelKeepsTheLastCheckpoint(_ kind: Kind) throws {
        let dir = tempDir("runner-cancel-\(kind)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try make(kind, dir: dir)
        let checkpoint = dir + "/run.safetensors"
        do {
            _ = try r.run(checkpoint) { event in
                if case .step(let p) = event, p.epoch == 1 { return false }
                return true
            }
            Issue.record("the run was not cancelled")
        } catch let e as FinetuneError {
            #expect(e.description == "cancelled at epoch 2, step 4", "\(e)")
        }
        #expect(try epochsDone(checkpoint) == "1" && r.history().count == 1)
    }

    /// A non-finite loss stops the run at its first step, before any checkpoint.
    @Test(arguments: Kind.allCases)
    func nonFiniteLossStops(_ kind: Kind) throws {
        let dir = tempDir("runner-nan-\(kind)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try make(kind, dir: dir, lr: 1e30)
        let checkpoint = dir + "/run.safetensors"
        var events = 0
        do {
            _ = try r.run(checkpoint) { _ in events += 1; return true }
            Issue.record("a run with lr 1e30 finished")
        } catch let e as FinetuneError {
            #expect(e.description.contains("loss became") && e.description.contains("(the last checkpoint on disk is from before this epoch)"),
                    "\(e)")
        }
        #expect(!FileManager.default.fileExists(atPath: checkpoint) && r.history().isEmpty)
    }
}
