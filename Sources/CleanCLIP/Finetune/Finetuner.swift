import Foundation

/// Settings of a finetuning run, named as CleanCLIP's `train.py` flags.
public struct FinetuneConfig: Sendable, Codable, Equatable {
    /// CleanCLIP (`--inmodal`: L_CLIP + L_SS) or MMCL-only (L_CLIP alone).
    public var inmodal: Bool = true
    public var clipWeight: Float = 1
    public var inmodalWeight: Float = 1
    public var lr: Float = 1e-5
    public var batchSize: Int = 64
    public var epochs: Int = 10
    public var warmupSteps: Int = 50
    public var weightDecay: Float = 0.1
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var eps: Float = 1e-8
    /// Global gradient-norm clipping; nil: none (the reference clips nothing).
    public var maxGradNorm: Float?
    public var seed: UInt64 = 0

    public init() {}

    var loss: CleanCLIPLoss { CleanCLIPLoss(clipWeight: clipWeight, inmodalWeight: inmodalWeight, inmodal: inmodal) }
    var optimizer: AdamWConfig {
        AdamWConfig(beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, maxGradNorm: maxGradNorm)
    }

    func validate() throws {
        try validateTraining(batchSize: batchSize, epochs: epochs, warmupSteps: warmupSteps, lr: lr,
                             weightDecay: weightDecay, beta1: beta1, beta2: beta2, eps: eps, maxGradNorm: maxGradNorm)
        guard clipWeight.isFinite, clipWeight >= 0 else { throw FinetuneError("clip weight must be finite and non-negative, got \(clipWeight)") }
        guard inmodalWeight.isFinite, inmodalWeight >= 0 else {
            throw FinetuneError("in-modal weight must be finite and non-negative, got \(inmodalWeight)")
        }
    }
}

/// Checks the settings both finetuners share; every message names the setting and its value.
func validateTraining(batchSize: Int, epochs: Int, warmupSteps: Int, lr: Float, weightDecay: Float,
                      beta1: Float, beta2: Float, eps: Float, maxGradNorm: Float?) throws {
    let maxSteps = AdamW.maxStepCount
    guard batchSize > 0 else { throw FinetuneError("batch size must be positive, got \(batchSize)") }
    guard (1...maxSteps).contains(epochs) else { throw FinetuneError("epochs must be between 1 and \(maxSteps), got \(epochs)") }
    guard (0...maxSteps).contains(warmupSteps) else {
        throw FinetuneError("warmup steps must be between 0 and \(maxSteps), got \(warmupSteps)")
    }
    guard lr > 0, lr.isFinite else { throw FinetuneError("learning rate must be positive and finite, got \(lr)") }
    guard weightDecay >= 0, weightDecay.isFinite else { throw FinetuneError("weight decay must be finite and non-negative, got \(weightDecay)") }
    guard beta1 >= 0, beta1 < 1 else { throw FinetuneError("beta1 must be in [0, 1), got \(beta1)") }
    guard beta2 >= 0, beta2 < 1 else { throw FinetuneError("beta2 must be in [0, 1), got \(beta2)") }
    guard eps > 0, eps.isFinite else { throw FinetuneError("eps must be positive and finite, got \(eps)") }
    if let maxGradNorm, !(maxGradNorm > 0 && maxGradNorm.isFinite) {
        throw FinetuneError("max gradient norm must be positive and finite, got \(maxGradNorm)")
    }
}

/// The optimizer steps of a run: `batches` per epoch for `epochs` epochs, after `offset` steps
/// taken before it. At most `AdamW.maxStepCount`, which a checkpoint can record exactly.
func totalSteps(batches: Int, epochs: Int, offset: Int = 0) throws -> Int {
    let (steps, overflow) = batches.multipliedReportingOverflow(by: epochs)
    guard !overflow, steps <= AdamW.maxStepCount - offset else {
        throw FinetuneError("\(epochs) epochs of \(batches) steps\(offset > 0 ? " after \(offset) imported steps" : "") are "
            + "more than the \(AdamW.maxStepCount) optimizer steps a run can have (its checkpoint records the step as a float32)")
    }
    return steps
}

/// A finetuning run that stopped: bad settings, a non-finite loss, cancellation.
public struct FinetuneError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What a run reports as it goes. Return false from the handler to cancel the run.
public enum FinetuneEvent: Sendable {
    /// After every optimizer step.
    case step(FinetuneProgress)
    /// After every epoch (and its checkpoint).
    case epoch(EpochSummary)
}

public struct FinetuneProgress: Sendable {
    public var epoch: Int, epochs: Int
    public var batch: Int, batchesPerEpoch: Int
    public var step: Int, totalSteps: Int
    public var loss: Float, clipLoss: Float?, inmodalLoss: Float?
    public var lr: Float
    public var stepSeconds: Double
    public var etaSeconds: Double
}

public struct EpochSummary: Sendable, Codable {
    public var epoch: Int
    public var meanLoss: Float
    public var meanClipLoss: Float?
    public var meanInmodalLoss: Float?
    public var seconds: Double
    public var pairsPerSecond: Double
}

/// Runs CleanCLIP finetuning over a CSV data set: one background loader per epoch (decoding,
/// AutoAugment, EDA captions computed once, preprocessing), one `Trainer` step per batch, a
/// checkpoint after every epoch, and resumption from one.
///
/// Checkpoints are two safetensors files written atomically: `out` holds the model in OpenAI /
/// open_clip naming (loadable by open_clip as is), `<out stem>.optimizer.safetensors` holds
/// the AdamW moments, the step, the finished epoch and the schedule offset (optimizer steps that
/// came with imported state, see `importOptimizerState`). Resuming from them continues exactly
/// as an uninterrupted run would (data order and augmentation depend only on seed and epoch).
/// A non-finite loss stops the run with an error; the last good checkpoint stays on disk.
public final class Finetuner {
    public let model: CLIPModel
    public let config: FinetuneConfig
    public let trainer: Trainer
    public private(set) var history: [EpochSummary] = []
    let dataset: ImageCaptionDataset
    /// The epoch to start from (0 for a fresh run, later when resumed).
    public private(set) var startEpoch = 0

    /// `dataset` must carry augmented captions when `config.inmodal` (see
    /// `ImageCaptionDataset.augmentingCaptions(with:seed:)` or `augmented_caption` columns).
    public init(model: CLIPModel, dataset: ImageCaptionDataset, config: FinetuneConfig) throws {
        try config.validate()
        let batches = dataset.count / config.batchSize
        guard batches > 0 else {
            throw FinetuneError("\(dataset.csvPath): \(dataset.count) pairs make no full batch of \(config.batchSize)")
        }
        let steps = try totalSteps(batches: batches, epochs: config.epochs)
        self.model = model
        self.dataset = dataset
        self.config = config
        trainer = Trainer(model: model, loss: config.loss, optimizer: config.optimizer,
                          schedule: .warmupCosine(baseLR: config.lr, warmupSteps: config.warmupSteps, totalSteps: steps))
    }

    /// Steps in one epoch (the last partial batch is dropped, as the reference does).
    public var batchesPerEpoch: Int { dataset.count / config.batchSize }

    /// The optimizer-state file that goes with a model checkpoint.
    public static func optimizerPath(for checkpoint: String) -> String {
        let stem = checkpoint.hasSuffix(".safetensors") ? String(checkpoint.dropLast(".safetensors".count)) : checkpoint
        return stem + ".optimizer.safetensors"
    }

    /// Continues the run that `run` saved at `checkpoint`: restores the optimizer state, the
    /// schedule position and the finished epochs. `savedModel` is the model loaded from
    /// `checkpoint`; by default this finetuner's own model, which must then have been loaded from
    /// it. Another model's weights are copied into this one once every check has passed.
    ///
    /// Refused before anything changes: a model file and an optimizer state that are not from the
    /// same save (`CheckpointStamp`), other settings, and a step count that the finished epochs
    /// do not account for (other training data).
    public func resume(from checkpoint: String, savedModel: CLIPModel? = nil) throws {
        let path = Self.optimizerPath(for: checkpoint)
        let archive = try SafetensorsReader.read(path: path)
        if archive.metadata["mode"] == "supervised" {
            throw FinetuneError("\(path): a supervised finetuning checkpoint; resume it with SupervisedFinetuner (--supervised)")
        }
        let saved = savedModel ?? model
        let done = try CheckpointStamp.verify([(path, archive.metadata), (checkpoint, saved.loadedMetadata)], epochs: config.epochs)
        if let settings = archive.metadata["config"], let data = settings.data(using: .utf8),
           let previous = try? JSONDecoder().decode(FinetuneConfig.self, from: data), previous != config {
            throw FinetuneError("\(path): the run was started with other settings (\(settings)); resume with the same flags")
        }
        var offset = 0
        if let recorded = archive.metadata["schedule_offset"] {
            guard let o = Int(recorded), (0...AdamW.maxStepCount).contains(o) else {
                throw FinetuneError("\(path): bad 'schedule_offset' \(recorded) in the metadata")
            }
            offset = o
        }
        let state = try Self.readState(archive, path: path, epochsDone: done, expectedStep: offset + done * batchesPerEpoch)
        if saved !== model { try Self.checkWeights(of: saved, fit: model, path: checkpoint) }
        do { try trainer.optimizer.load(state: state) } catch let e as OptimizerStateError {
            throw FinetuneError("\(path): \(e.description)")
        }
        if saved !== model { Self.copyWeights(from: saved, into: model) }
        trainer.scheduleStepOffset = offset
        startEpoch = done
    }

    /// The optimizer state of a checkpoint, after checking its step: `expectedStep` is what its
    /// `done` finished epochs take.
    static func readState(_ archive: TensorArchive, path: String, epochsDone done: Int,
                          expectedStep: Int) throws -> [(String, Tensor)] {
        var state: [(String, Tensor)] = []
        for name in archive.order { state.append((name, try CLIPModel.tensor(from: archive.tensors[name]!))) }
        let step: Int
        do { step = try AdamW.stepCount(in: state) } catch let e as OptimizerStateError {
            throw FinetuneError("\(path): \(e.description)")
        }
        if let recorded = archive.metadata["step"], recorded != String(step) {
            throw FinetuneError("\(path): the metadata records step \(recorded) but the optimizer state holds step \(step)")
        }
        guard step == expectedStep else {
            throw FinetuneError("\(path): the optimizer state is at step \(step), but \(done) finished epochs of this run "
                + "take \(expectedStep) steps: the training data or the batch size differ from the saved run's")
        }
        return state
    }

    /// Throws unless `saved` has every weight of `model` with the same shape.
    static func checkWeights(of saved: CLIPModel, fit model: CLIPModel, path: String) throws {
        let source = Dictionary(saved.weights.map { ($0.name, $0.tensor.shape) }, uniquingKeysWith: { a, _ in a })
        for w in model.weights where source[w.name] != w.tensor.shape {
            throw CLIPInputError("\(path): the checkpoint does not match this model (weight \(w.name): "
                + "\(source[w.name].map { "\($0)" } ?? "missing") in the checkpoint, \(w.tensor.shape) in the model)")
        }
    }

    /// Copies every weight of `saved` into `model` (shapes checked by `checkWeights`).
    static func copyWeights(from saved: CLIPModel, into model: CLIPModel) {
        let source = Dictionary(saved.weights.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        for w in model.weights { w.tensor.data.update(from: source[w.name]!.data, count: w.tensor.count) }
    }

    /// Starts this run from another run's AdamW state, e.g. `TorchOptimizerState.read(path:model:)`
    /// of the CleanCLIP `.pt` checkpoint the model weights came from (what the reference's
    /// `--checkpoint X --complete_finetune` does): the moments and the step count are loaded, so
    /// AdamW's bias correction continues from the imported step, while this run's epochs and
    /// learning-rate schedule start from their beginning (`Trainer.scheduleStepOffset` is set to
    /// the imported step). Only before the run has started; our own checkpoints are continued
    /// with `resume(from:)` instead. Nothing changes when the state does not fit.
    public func importOptimizerState(_ state: [(String, Tensor)]) throws {
        guard startEpoch == 0, history.isEmpty, trainer.stepCount == trainer.scheduleStepOffset else {
            throw FinetuneError("optimizer state can only be imported before the run starts (not after resume or run)")
        }
        let imported: Int
        do { imported = try AdamW.stepCount(in: state) } catch let e as OptimizerStateError { throw FinetuneError(e.description) }
        _ = try totalSteps(batches: batchesPerEpoch, epochs: config.epochs, offset: imported)
        try trainer.optimizer.load(state: state)
        trainer.scheduleStepOffset = trainer.optimizer.stepCount
    }

    /// Runs the remaining epochs. `checkpoint`: where to write the model after every epoch
    /// (nil: no checkpoints). `onEvent` returns false to cancel (then this throws).
    /// On return the tensor buffers kept for reuse between steps go back to the system.
    @discardableResult
    public func run(checkpoint: String?, onEvent: (FinetuneEvent) -> Bool = { _ in true }) throws -> [EpochSummary] {
        defer { BufferPool.shared.drain() }
        let preprocessor = model.preprocessor
        let total = batchesPerEpoch * config.epochs
        let runStart = Date()
        var stepsThisRun = 0
        for epoch in startEpoch..<config.epochs {
            let start = Date()
            let loader = try PairBatchLoader(
                dataset: dataset, preprocessor: preprocessor, tokenizer: .standard,
                options: .init(batchSize: config.batchSize, seed: config.seed, epoch: epoch, augment: config.inmodal,
                               contextLength: model.config.contextLength))
            defer { loader.close() }
            var sums: (loss: Double, clip: Double, inmodal: Double, n: Int) = (0, 0, 0, 0)
            var batch = 0
            while let b = try loader.nextBatch() {
                let t0 = Date()
                let r = try trainer.step(images: b.images, texts: b.texts,
                                         augmentedImages: b.augmentedImages, augmentedTexts: b.augmentedTexts)
                guard r.loss.isFinite else {
                    throw FinetuneError("loss became \(r.loss) at epoch \(epoch + 1), step \(r.step + 1); "
                        + "stopped (the last checkpoint on disk is from before this epoch)")
                }
                batch += 1
                stepsThisRun += 1
                sums.loss += Double(r.loss); sums.clip += Double(r.clipLoss ?? 0); sums.inmodal += Double(r.inmodalLoss ?? 0)
                sums.n += 1
                let elapsed = Date().timeIntervalSince(runStart)
                let remaining = total - (r.step + 1)
                let progress = FinetuneProgress(
                    epoch: epoch, epochs: config.epochs, batch: batch, batchesPerEpoch: loader.batchCount,
                    step: r.step + 1, totalSteps: total, loss: r.loss, clipLoss: r.clipLoss, inmodalLoss: r.inmodalLoss,
                    lr: r.lr, stepSeconds: Date().timeIntervalSince(t0),
                    etaSeconds: elapsed / Double(stepsThisRun) * Double(remaining))
                guard onEvent(.step(progress)) else { throw FinetuneError("cancelled at epoch \(epoch + 1), step \(r.step + 1)") }
            }
            let n = Float(max(sums.n, 1))
            let seconds = Date().timeIntervalSince(start)
            let summary = EpochSummary(
                epoch: epoch, meanLoss: Float(sums.loss) / n,
                meanClipLoss: Float(sums.clip) / n, meanInmodalLoss: config.inmodal ? Float(sums.inmodal) / n : nil,
                seconds: seconds, pairsPerSecond: Double(sums.n * config.batchSize) / max(seconds, 1e-9))
            history.append(summary)
            if let checkpoint { try save(to: checkpoint, epochsDone: epoch + 1) }
            guard onEvent(.epoch(summary)) else { throw FinetuneError("cancelled after epoch \(epoch + 1)") }
        }
        return history
    }

    /// Writes the model, then the optimizer state (each atomically, with one `CheckpointStamp`).
    public func save(to checkpoint: String, epochsDone: Int) throws {
        let configJSON = String(data: try JSONEncoder().encode(config), encoding: .utf8) ?? ""
        let stamp = CheckpointStamp.make(epochsDone: epochsDone, step: trainer.stepCount)
        try model.save(to: checkpoint, metadata: stamp)
        try Self.writeOptimizerState(trainer.optimizer, metadata: stamp.merging(["config": configJSON,
                                                                                 "schedule_offset": String(trainer.scheduleStepOffset)]) { a, _ in a },
                                     checkpoint: checkpoint)
    }

    /// Writes an optimizer's state next to a model checkpoint (`optimizerPath(for:)`), atomically.
    static func writeOptimizerState(_ optimizer: AdamW, metadata: [String: String], checkpoint: String) throws {
        let state = optimizer.state().map { (name: $0.0, tensor: RawTensor(floats: $0.1.array, shape: $0.1.shape)) }
        try SafetensorsWriter.write(state, metadata: metadata, to: optimizerPath(for: checkpoint))
    }
}
