import Foundation

/// Settings of a supervised finetuning run (the paper's supervised variant: the whole vision
/// encoder plus a linear head on the image embedding, cross-entropy on labels). Defaults are the
/// reference's (ImageNet 50K subset): lr 1e-4, batch 216, 10 epochs; AdamW weight decay 0.01 on
/// every parameter whose name lacks "bias", as in its `get_finetune_metrics` (LayerNorm and
/// BatchNorm weights decay here, unlike in contrastive CleanCLIP finetuning).
public struct SupervisedFinetuneConfig: Sendable, Codable, Equatable {
    public var lr: Float = 1e-4
    public var batchSize: Int = 216
    public var epochs: Int = 10
    public var warmupSteps: Int = 50
    public var weightDecay: Float = 0.01
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var eps: Float = 1e-8
    /// Global gradient-norm clipping; nil: none.
    public var maxGradNorm: Float?
    /// Number of classes; nil: the data set's largest label + 1.
    public var classes: Int?
    /// Seed for the data order and the head's initialisation.
    public var seed: UInt64 = 0

    public init() {}

    package var optimizer: AdamWConfig {
        AdamWConfig(beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, maxGradNorm: maxGradNorm,
                    noDecay: .biasOnly)
    }

    /// The most classes a head may have (ImageNet-21k has 21,841), which bounds its memory.
    public static let maxClasses = 1 << 16
}

/// Runs supervised finetuning over a labelled-image CSV (`ImageLabelDataset`): one background
/// `LabelBatchLoader` per epoch (shuffled by seed and epoch, the last partial batch dropped), one
/// `Trainer.supervisedStep` per batch with a warmup + cosine schedule, a checkpoint after every
/// epoch, resumption, a stop on a non-finite loss, and the same progress events as `Finetuner`
/// (`clipLoss` / `inmodalLoss` are nil; `EpochSummary.pairsPerSecond` counts images).
///
/// Trained: every `visual.*` parameter and the head (the text tower and logit_scale are not).
/// Checkpoints: `out` (the whole model, OpenAI naming, as `Finetuner` writes it),
/// `<stem>.optimizer.safetensors` (AdamW state over vision + head parameters, finished epoch,
/// settings) and `<stem>.head.safetensors` ("weight" [classes, E], "bias" [classes]).
public final class SupervisedFinetuner {
    public let model: CLIPModel
    public let config: SupervisedFinetuneConfig
    public let head: LinearHead
    package let trainer: Trainer
    let runner: EpochRunner
    public let dataset: ImageLabelDataset
    /// The epoch to start from (0 for a fresh run, later when resumed).
    public private(set) var startEpoch = 0

    /// The head is created from `config.seed` (PyTorch's `nn.Linear` initialisation) unless
    /// given; its input is the model's image embedding (`embedDim`).
    public init(model: CLIPModel, dataset: ImageLabelDataset, config: SupervisedFinetuneConfig, head: LinearHead? = nil) throws {
        try config.validate()
        let classes = config.classes ?? dataset.classCount
        guard classes <= SupervisedFinetuneConfig.maxClasses else {
            throw FinetuneError("\(dataset.csvPath): labels up to \(classes - 1) make more than the \(SupervisedFinetuneConfig.maxClasses) classes a head may have")
        }
        guard classes >= 2 else { throw FinetuneError("\(dataset.csvPath): labels span \(classes) class(es); need at least 2") }
        if let bad = dataset.items.first(where: { $0.label >= classes }) {
            throw FinetuneError("\(dataset.csvPath) row \(bad.row): label \(bad.label) is not below the class count \(classes)")
        }
        let source = LabelLoaderSource(dataset: dataset, preprocessor: model.preprocessor, batchSize: config.batchSize,
                                       seed: config.seed)
        guard source.batchesPerEpoch > 0 else {
            throw FinetuneError("\(dataset.csvPath): \(dataset.count) images make no full batch of \(config.batchSize)")
        }
        let head = head ?? LinearHead(embedDim: model.config.embedDim, classes: classes, seed: mixSeed(config.seed, 0x4845_4144))
        guard head.weight.shape == [classes, model.config.embedDim] else {
            throw FinetuneError("head weight has shape \(head.weight.shape); expected [\(classes), \(model.config.embedDim)]")
        }
        let steps = try totalSteps(batches: source.batchesPerEpoch, epochs: config.epochs)
        self.model = model
        self.dataset = dataset
        self.config = config
        self.head = head
        trainer = Trainer(model: model, objective: .supervised(head), optimizer: config.optimizer,
                          schedule: .warmupCosine(baseLR: config.lr, warmupSteps: config.warmupSteps, totalSteps: steps))
        runner = EpochRunner(trainer: trainer, source: source, epochs: config.epochs)
    }

    public var classes: Int { head.weight.shape[0] }

    /// Steps in one epoch (the last partial batch is dropped).
    public var batchesPerEpoch: Int { runner.source.batchesPerEpoch }

    /// The summaries of the epochs `run` finished.
    public var history: [EpochSummary] { runner.history }

    /// The head file that goes with a model checkpoint: `<stem>.head.safetensors`.
    public static func headPath(for checkpoint: String) -> String {
        RunCheckpoint.sibling(of: checkpoint, "head")
    }

    /// Reads a head written by `save` (or any safetensors file with "weight" [C, E] and "bias" [C]).
    public static func loadHead(path: String) throws -> LinearHead {
        try loadHead(path: path, archive: SafetensorsReader.read(path: path))
    }

    private static func loadHead(path: String, archive: TensorArchive) throws -> LinearHead {
        guard let w = archive.tensors["weight"], let b = archive.tensors["bias"] else {
            throw FinetuneError("\(path): no 'weight' and 'bias' tensors")
        }
        guard w.shape.count == 2, b.shape == [w.shape[0]] else {
            throw FinetuneError("\(path): head weight \(w.shape) and bias \(b.shape) do not fit")
        }
        let weight = Tensor(zeros: w.shape), bias = Tensor(zeros: b.shape)
        try w.copyFloats(into: weight.data)
        try b.copyFloats(into: bias.data)
        return LinearHead(weight: weight, bias: bias)
    }

    /// Restores the head, the optimizer and the epoch from a checkpoint written by `run`, with
    /// the checks of `Finetuner.resume(from:savedModel:)` (the head file's stamp included).
    /// `savedModel` is the model loaded from `checkpoint`; by default this finetuner's own.
    public func resume(from checkpoint: String, savedModel: CLIPModel? = nil) throws {
        let saved = savedModel ?? model
        let headPath = Self.headPath(for: checkpoint)
        let run = try RunCheckpoint.open(checkpoint, supervised: true, config: config, epochs: config.epochs, savedModel: saved,
                                         extra: [headPath])
        guard let headArchive = run.extra[headPath] else { throw FinetuneError("\(headPath): not read") }
        let savedHead = try Self.loadHead(path: headPath, archive: headArchive)
        guard savedHead.weight.shape == head.weight.shape else {
            throw FinetuneError("\(headPath): head weight \(savedHead.weight.shape); this run's head is \(head.weight.shape)")
        }
        try run.restore(into: trainer, model: model, from: saved, expectedStep: run.epochsDone * batchesPerEpoch)
        head.weight.data.update(from: savedHead.weight.data, count: savedHead.weight.count)
        head.bias.data.update(from: savedHead.bias.data, count: savedHead.bias.count)
        startEpoch = run.epochsDone
    }

    /// Runs the remaining epochs (see `EpochRunner`). `checkpoint`: where to write the model and
    /// the head after every epoch (nil: no checkpoints). `onEvent` returns false to cancel (then
    /// this throws).
    @discardableResult
    public func run(checkpoint: String?, onEvent: (FinetuneEvent) -> Bool = { _ in true }) throws -> [EpochSummary] {
        let save: ((Int) throws -> Void)? = checkpoint.map { path in { try self.save(to: path, epochsDone: $0) } }
        return try runner.run(from: startEpoch, save: save, onEvent: onEvent)
    }

    /// Writes the model, the head, then the optimizer state, each atomically, with one
    /// `CheckpointStamp`.
    public func save(to checkpoint: String, epochsDone: Int) throws {
        let tensors = [(name: "weight", tensor: RawTensor(floats: head.weight.array, shape: head.weight.shape)),
                       (name: "bias", tensor: RawTensor(floats: head.bias.array, shape: head.bias.shape))]
        try RunCheckpoint.save(checkpoint, model: model, optimizer: trainer.optimizer, config: config, epochsDone: epochsDone,
                               metadata: ["mode": "supervised"],
                               extra: [(Self.headPath(for: checkpoint), tensors, ["classes": String(classes)])])
    }
}
