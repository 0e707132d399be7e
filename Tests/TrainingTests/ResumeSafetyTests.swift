import CleanCLIP
import Foundation
import Testing

/// Resuming refuses what it cannot continue exactly (issue 12, items 6 and 11), and training
/// leaves the model in inference state whatever way it ends.
@Suite(.serialized) struct ResumeSafetyTests {
    func dataset(_ dir: String) throws -> ImageCaptionDataset {
        let csv = try makeCSV(count: 24, in: dir)
        return try ImageCaptionDataset(csvPath: csv).augmentingCaptions(with: EDA(wordNet: try WordNet.shared()), seed: 3)
    }

    /// Rewrites a safetensors file with other metadata and, optionally, another "step" value.
    func rewrite(_ path: String, step: Float? = nil, _ change: (inout [String: String]) -> Void = { _ in }) throws {
        let archive = try SafetensorsReader.read(path: path)
        var metadata = archive.metadata
        change(&metadata)
        let tensors = archive.order.map { name in
            (name: name, tensor: name == "step" && step != nil ? RawTensor(floats: [step!], shape: []) : archive.tensors[name]!)
        }
        try SafetensorsWriter.write(tensors, metadata: metadata, to: path)
    }

    func expectRefused(_ checkpoint: String, _ data: ImageCaptionDataset, _ fragment: String,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let f = try Finetuner(model: try CLIPModel.load(path: checkpoint), dataset: data, config: tinyFinetuneConfig)
        do {
            try f.resume(from: checkpoint)
            Issue.record("resumed; expected an error with \"\(fragment)\"", sourceLocation: sourceLocation)
        } catch let e as FinetuneError {
            #expect(e.description.contains(fragment), "\(e)", sourceLocation: sourceLocation)
        }
    }

    /// Item 11: the model and optimizer files are renamed one after the other, so a kill between
    /// the two renames left a model one epoch ahead of its moments, which resumed silently.
    @Test func filesFromDifferentSavesAreRefused() throws {
        let dir = tempDir("pairs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try dataset(dir)
        let checkpoint = dir + "/run.safetensors", state = Finetuner.optimizerPath(for: checkpoint)
        let epochOne = dir + "/epoch1.optimizer.safetensors", saveTwo = dir + "/save2.optimizer.safetensors"
        let f = try Finetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: data, config: tinyFinetuneConfig)
        try f.run(checkpoint: checkpoint) { event in
            if case .epoch(let e) = event, e.epoch == 0 { try? FileManager.default.copyItem(atPath: state, toPath: epochOne) }
            return true
        }
        // A second save of the same epoch: the same epochs and step, another checkpoint_id.
        try FileManager.default.copyItem(atPath: state, toPath: saveTwo)
        try f.save(to: checkpoint, epochsDone: 2)
        let good = dir + "/good.optimizer.safetensors"
        try FileManager.default.copyItem(atPath: state, toPath: good)

        for (stale, fragment) in [(epochOne, "epochs_done 2 and 1"), (saveTwo, "checkpoint_id")] {
            try FileManager.default.removeItem(atPath: state)
            try FileManager.default.copyItem(atPath: stale, toPath: state)
            try expectRefused(checkpoint, data, "not from the same save (\(fragment)")
        }
        try FileManager.default.removeItem(atPath: state)
        try FileManager.default.copyItem(atPath: good, toPath: state)
        let resumed = try Finetuner(model: try CLIPModel.load(path: checkpoint), dataset: data, config: tinyFinetuneConfig)
        try resumed.resume(from: checkpoint)
        #expect(resumed.startEpoch == 2 && resumed.trainer.stepCount == 6)
    }

    /// Item 6: an infinite or absurd optimizer step trapped on resume (Float to Int); a step
    /// the finished epochs do not account for resumed a different schedule; more finished
    /// epochs than the run has trapped when the epoch loop was built.
    @Test func absurdStepsAndEpochsAreRefused() throws {
        let dir = tempDir("steps")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try dataset(dir)
        let checkpoint = dir + "/run.safetensors", state = Finetuner.optimizerPath(for: checkpoint)
        let f = try Finetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: data, config: tinyFinetuneConfig)
        try f.save(to: checkpoint, epochsDone: 0)  // a checkpoint before the first step
        let pristine = try [state, checkpoint].map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        func restore() throws {
            for (data, path) in zip(pristine, [state, checkpoint]) { try data.write(to: URL(fileURLWithPath: path)) }
        }

        for bad: Float in [.infinity, -.infinity, .nan, -1, 2.5, 1e30, Float(AdamW.maxStepCount) * 2] {
            try restore()
            try rewrite(state, step: bad)
            try expectRefused(checkpoint, data, "a step count is a whole number from 0 to \(AdamW.maxStepCount)")
        }
        try restore()
        try rewrite(state, step: 5) { $0["step"] = "5" }
        try rewrite(checkpoint) { $0["step"] = "5" }
        try expectRefused(checkpoint, data, "at step 5, but 0 finished epochs of this run take 0 steps")
        for done in ["3", "\(Int.max)"] {
            try restore()
            try rewrite(state) { $0["epochs_done"] = done }
            try rewrite(checkpoint) { $0["epochs_done"] = done }
            try expectRefused(checkpoint, data, "records \(done) finished epochs, more than the 2 of this run")
        }
    }

    /// The supervised finetuner's head file carries the save's stamp too.
    @Test func aSupervisedHeadFromAnotherSaveIsRefused() throws {
        let dir = tempDir("heads")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try ImageLabelDataset(csvPath: try makeCSV(count: 16, in: dir))
        var c = SupervisedFinetuneConfig()
        c.batchSize = 8
        c.epochs = 1
        let checkpoint = dir + "/sup.safetensors", head = SupervisedFinetuner.headPath(for: checkpoint)
        let f = try SupervisedFinetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: data, config: c)
        try f.save(to: checkpoint, epochsDone: 0)
        try FileManager.default.copyItem(atPath: head, toPath: dir + "/old.head.safetensors")
        try f.save(to: checkpoint, epochsDone: 0)
        try FileManager.default.removeItem(atPath: head)
        try FileManager.default.copyItem(atPath: dir + "/old.head.safetensors", toPath: head)
        let g = try SupervisedFinetuner(model: try CLIPModel.load(path: checkpoint), dataset: data, config: c)
        #expect(throws: FinetuneError.self) { try g.resume(from: checkpoint) }
    }

    /// Also found by reading: after finetuning every parameter kept requiresGrad, so later
    /// encodes and evaluations recorded whole autograd graphs. Success, cancel and error alike
    /// now leave the model as loading does.
    @Test func trainingLeavesTheModelInInferenceState() throws {
        let dir = tempDir("inference")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try dataset(dir)
        var one = tinyFinetuneConfig
        one.epochs = 1
        var explosive = one
        explosive.lr = 1e30
        explosive.warmupSteps = 0
        let model = CLIPModel(randomWith: tinyConfig, seed: 1)
        func recording() -> [String] { model.weights.filter { $0.tensor.requiresGrad }.map(\.name) }

        try Finetuner(model: model, dataset: data, config: one).run(checkpoint: nil)
        #expect(recording().isEmpty, "after a run: \(recording())")
        #expect(throws: FinetuneError.self) { try Finetuner(model: model, dataset: data, config: one).run(checkpoint: nil) { _ in false } }
        #expect(recording().isEmpty, "after a cancelled run: \(recording())")
        #expect(throws: FinetuneError.self) { try Finetuner(model: model, dataset: data, config: explosive).run(checkpoint: nil) }
        #expect(recording().isEmpty, "after a failed run: \(recording())")
        #expect(!model.isTraining)
    }
}
