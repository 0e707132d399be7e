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
        guard batchSize > 0 else { throw FinetuneError("batch size must be positive, got \(batchSize)") }
        guard epochs > 0 else { throw FinetuneError("epochs must be positive, got \(epochs)") }
        guard lr > 0, lr.isFinite else { throw FinetuneError("learning rate must be positive, got \(lr)") }
        guard warmupSteps >= 0 else { throw FinetuneError("warmup steps must be non-negative, got \(warmupSteps)") }
        guard weightDecay >= 0 else { throw FinetuneError("weight decay must be non-negative, got \(weightDecay)") }
        guard !inmodal || inmodalWeight >= 0 else { throw FinetuneError("in-modal weight must be non-negative") }
    }
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
        self.model = model
        self.dataset = dataset
        self.config = config
        trainer = Trainer(model: model, loss: config.loss, optimizer: config.optimizer,
                          schedule: .warmupCosine(baseLR: config.lr, warmupSteps: config.warmupSteps,
                                                  totalSteps: batches * config.epochs))
    }

    /// Steps in one epoch (the last partial batch is dropped, as the reference does).
    public var batchesPerEpoch: Int { dataset.count / config.batchSize }

    /// The optimizer-state file that goes with a model checkpoint.
    public static func optimizerPath(for checkpoint: String) -> String {
        let stem = checkpoint.hasSuffix(".safetensors") ? String(checkpoint.dropLast(".safetensors".count)) : checkpoint
        return stem + ".optimizer.safetensors"
    }

    /// Restores the optimizer and epoch from a checkpoint written by `run` (the model weights
    /// must already have been loaded from that checkpoint).
    public func resume(from checkpoint: String) throws {
        let path = Self.optimizerPath(for: checkpoint)
        let archive = try SafetensorsReader.read(path: path)
        if archive.metadata["mode"] == "supervised" {
            throw FinetuneError("\(path): a supervised finetuning checkpoint; resume it with SupervisedFinetuner (--supervised)")
        }
        var state: [(String, Tensor)] = []
        for name in archive.order { state.append((name, try CLIPModel.tensor(from: archive.tensors[name]!))) }
        try trainer.optimizer.load(state: state)
        guard let done = archive.metadata["epochs_done"].flatMap(Int.init) else {
            throw FinetuneError("\(path): no 'epochs_done' in the metadata; not a cleanclip finetune checkpoint")
        }
        if let saved = archive.metadata["config"], let data = saved.data(using: .utf8),
           let previous = try? JSONDecoder().decode(FinetuneConfig.self, from: data), previous != config {
            throw FinetuneError("\(path): the run was started with other settings (\(saved)); resume with the same flags")
        }
        if let offset = archive.metadata["schedule_offset"] {
            guard let o = Int(offset), o >= 0, o <= trainer.optimizer.stepCount else {
                throw FinetuneError("\(path): bad 'schedule_offset' \(offset) in the metadata")
            }
            trainer.scheduleStepOffset = o
        } else {
            trainer.scheduleStepOffset = 0
        }
        startEpoch = done
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

    /// Writes the model, then the optimizer state (each atomically).
    public func save(to checkpoint: String, epochsDone: Int) throws {
        let configJSON = String(data: try JSONEncoder().encode(config), encoding: .utf8) ?? ""
        try model.save(to: checkpoint, metadata: ["epochs_done": String(epochsDone)])
        try Self.writeOptimizerState(trainer.optimizer, metadata: ["epochs_done": String(epochsDone), "config": configJSON,
                                                                   "schedule_offset": String(trainer.scheduleStepOffset)],
                                     checkpoint: checkpoint)
    }

    /// Writes an optimizer's state next to a model checkpoint (`optimizerPath(for:)`), atomically.
    static func writeOptimizerState(_ optimizer: AdamW, metadata: [String: String], checkpoint: String) throws {
        let state = optimizer.state().map { (name: $0.0, tensor: RawTensor(floats: $0.1.array, shape: $0.1.shape)) }
        try SafetensorsWriter.write(state, metadata: metadata, to: optimizerPath(for: checkpoint))
    }
}
