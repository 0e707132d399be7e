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

    package var loss: CleanCLIPLoss { CleanCLIPLoss(clipWeight: clipWeight, inmodalWeight: inmodalWeight, inmodal: inmodal) }
    package var optimizer: AdamWConfig {
        AdamWConfig(beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, maxGradNorm: maxGradNorm)
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
    package let trainer: Trainer
    let runner: EpochRunner
    /// The epoch to start from (0 for a fresh run, later when resumed).
    public private(set) var startEpoch = 0

    /// The ranks of the run (`SingleProcess` unless data-parallel).
    public let communicator: Communicator

    /// `dataset` must carry augmented captions when `config.inmodal` (see
    /// `ImageCaptionDataset.augmentingCaptions(with:seed:)` or `augmented_caption` columns).
    ///
    /// Data-parallel (`communicator.size` N > 1, e.g. `Communicators.world()` under mpirun): every
    /// rank makes this finetuner with the same model file, data set and config. `config.batchSize`
    /// is the global batch, which must divide by N; each rank encodes its own B/N pairs of every
    /// batch, the loss is over the gathered global batch, gradients are averaged over ranks, and
    /// rank 0 alone writes checkpoints. The batches, and so the checkpoints, do not depend on N:
    /// a run resumes with any number of ranks.
    public init(model: CLIPModel, dataset: ImageCaptionDataset, config: FinetuneConfig,
                communicator: Communicator = SingleProcess()) throws {
        try config.validate()
        guard config.batchSize % communicator.size == 0 else {
            throw FinetuneError("batch size \(config.batchSize) is the global batch and must divide by the \(communicator.size) ranks")
        }
        var source = PairLoaderSource(dataset: dataset, preprocessor: model.preprocessor, batchSize: config.batchSize,
                                      seed: config.seed, augment: config.inmodal, contextLength: model.config.contextLength)
        source.shard = (communicator.rank, communicator.size)
        guard source.batchesPerEpoch > 0 else {
            throw FinetuneError("\(dataset.csvPath): \(dataset.count) pairs make no full batch of \(config.batchSize)")
        }
        let steps = try totalSteps(batches: source.batchesPerEpoch, epochs: config.epochs)
        self.model = model
        self.config = config
        self.communicator = communicator
        trainer = Trainer(model: model, loss: config.loss, optimizer: config.optimizer,
                          schedule: .warmupCosine(baseLR: config.lr, warmupSteps: config.warmupSteps, totalSteps: steps),
                          communicator: communicator)
        runner = EpochRunner(trainer: trainer, source: source, epochs: config.epochs)
    }

    /// Steps in one epoch (the last partial batch is dropped, as the reference does).
    public var batchesPerEpoch: Int { runner.source.batchesPerEpoch }

    /// The summaries of the epochs `run` finished.
    public var history: [EpochSummary] { runner.history }

    /// Seconds this rank has spent in the steps' collectives (all-gathers and the gradient
    /// all-reduce, including waiting for slower ranks); 0 for a single process.
    public var communicationSeconds: Double { trainer.communicationSeconds }

    /// The optimizer-state file that goes with a model checkpoint.
    public static func optimizerPath(for checkpoint: String) -> String {
        RunCheckpoint.sibling(of: checkpoint, "optimizer")
    }

    /// Continues the run saved at `checkpoint` in a host that holds the model being finetuned
    /// (the C ABI, Python): checks that the checkpoint and its optimizer state both exist, loads
    /// the saved weights (with this model's activation), then resumes as `resume(from:savedModel:)`.
    /// This model's weights are replaced only once the saved run has been verified.
    public func resumeLoadingWeights(from checkpoint: String) throws {
        for (path, what) in [(Self.optimizerPath(for: checkpoint), "the optimizer state written next to the checkpoint"),
                             (checkpoint, "the checkpoint written by an earlier run")]
        where !FileManager.default.fileExists(atPath: path) {
            throw FileError(path: path, "no such file (resume needs \(what))", kind: .notFound)
        }
        let saved = try CLIPModel.load(path: checkpoint, options: CLIPLoadOptions(activation: model.config.activation))
        try resume(from: checkpoint, savedModel: saved)
    }

    /// Continues the run that `run` saved at `checkpoint`: restores the optimizer state, the
    /// schedule position and the finished epochs. `savedModel` is the model loaded from
    /// `checkpoint`; by default this finetuner's own model, which must then have been loaded from
    /// it. Another model's weights are copied into this one once every check has passed.
    ///
    /// Refused before anything changes: see `RunCheckpoint` (a model file and an optimizer state
    /// that are not from the same save, other settings, a step count that the finished epochs do
    /// not account for).
    public func resume(from checkpoint: String, savedModel: CLIPModel? = nil) throws {
        let saved = savedModel ?? model
        let run = try RunCheckpoint.open(checkpoint, supervised: false, config: config, epochs: config.epochs, savedModel: saved)
        let offset = try run.scheduleOffset()
        try run.restore(into: trainer, model: model, from: saved, expectedStep: offset + run.epochsDone * batchesPerEpoch)
        trainer.scheduleStepOffset = offset
        startEpoch = run.epochsDone
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

    /// Runs the remaining epochs (see `EpochRunner`). `checkpoint`: where to write the model after
    /// every epoch (nil: no checkpoints). `onEvent` returns false to cancel (then this throws).
    @discardableResult
    public func run(checkpoint: String?, onEvent: (FinetuneEvent) -> Bool = { _ in true }) throws -> [EpochSummary] {
        let save: ((Int) throws -> Void)? = checkpoint.map { path in { try self.save(to: path, epochsDone: $0) } }
        return try runner.run(from: startEpoch, save: save, onEvent: onEvent)
    }

    /// Writes the model, then the optimizer state (each atomically, with one `CheckpointStamp`).
    /// Data-parallel: rank 0 writes (every rank holds the same weights and state), then all ranks
    /// wait for it, so no rank reads a checkpoint being written.
    public func save(to checkpoint: String, epochsDone: Int) throws {
        if communicator.isRoot {
            try RunCheckpoint.save(checkpoint, model: model, optimizer: trainer.optimizer, config: config, epochsDone: epochsDone,
                                   metadata: ["schedule_offset": String(trainer.scheduleStepOffset)])
        }
        try communicator.barrier()
    }
}
