import ArgumentParser
import CleanCLIP
import Foundation

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Finetune a CLIP model: CleanCLIP (the default), MMCL-only (--no-inmodal), or supervised (--supervised).",
        discussion: """
        Contrastive (default): CleanCLIP's loss, multimodal contrastive plus the unimodal self-supervised term (as the C and Python APIs default to); --no-inmodal leaves out the unimodal term (MMCL-only, which is CleanCLIP's train.py default without its --inmodal flag). The training CSV has an image-path column and a caption column (paths relative to the CSV); optional augmented_<caption key> / augmented_<image key> columns are used instead of on-the-fly EDA / AutoAugment.

        Supervised (--supervised): the CSV has an image-path column and an integer label column (--label-key); the whole vision tower plus a linear head on the image embedding is trained with cross-entropy. Defaults switch to the reference's: --lr 1e-4, --batch-size 216, --weight-decay 0.01 (biases exempt). The head is written to <out stem>.head.safetensors.

        A checkpoint (model + <out stem>.optimizer.safetensors) is written to --out after every epoch, in float32 so that --resume continues exactly. To hand the result on, convert it: `cleanclip convert OUT cleaned.pt` writes CleanCLIP's checkpoint with this run's AdamW state and epochs, `cleanclip convert OUT cleaned-hf` a Hugging Face CLIPModel directory; --dtype f16 there for float16.

        The starting point comes from exactly one of:

        --model PATH: weights only, fresh AdamW state.

        --checkpoint PATH: CleanCLIP's --checkpoint as its finetuning recipe uses it (with --complete_finetune): the model weights from PATH (a CleanCLIP / open_clip .pt or any model file) and, when PATH is a torch checkpoint with an "optimizer" entry, its AdamW moments and step. AdamW's bias correction continues from that step; this run's epochs and learning-rate schedule (warmup, cosine) start from their beginning. Hyperparameters come from these flags, not from the file's param_groups. Supervised runs take the weights only (the saved optimizer covers other parameters).

        --resume: continue our own run saved at --out (model, optimizer, head, finished epochs, schedule position) with the same flags: an exact continuation.

        CleanCLIP's spellings (src/parser.py) work too: --train_data, --image_key, --caption_key, --batch_size, --num_warmup_steps, --weight_decay, --clip_weight, --inmodal_weight, --finetune (= --supervised), --complete_finetune (accepted; always the whole model), and --delimiter, --epochs, --lr, --beta1, --beta2, --eps, --inmodal, --checkpoint as spelled. Its options with no equivalent here (--name, --logs, --wandb, --device, --distributed, --pretrained, --validation_data, --eval_*, ...) are errors that say why.
        """)

    @Option(help: "Starting weights: .safetensors, .pt/.bin (torch.save or TorchScript), or an HF directory.")
    var model: String?

    @Option(help: "A CleanCLIP training checkpoint (.pt): weights and, if present, AdamW moments and step.")
    var checkpoint: String?

    @Option(help: "Activation override: quick_gelu (OpenAI weights) or gelu (laion/DataComp open_clip weights).")
    var activation: String?

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(name: [.customLong("train-data"), .customLong("train_data")], help: "Training CSV (or TSV with --delimiter '\\t').")
    var trainData: String

    @Option(help: "The training CSV's field delimiter: ',' (default), '\\t' or 'tab', ';', ...")
    var delimiter = ","

    @Option(name: [.customLong("image-key"), .customLong("image_key")], help: "Image-path column.")
    var imageKey = "image"

    @Option(name: [.customLong("caption-key"), .customLong("caption_key")], help: "Caption column.")
    var captionKey = "caption"

    @Flag(inversion: .prefixedNo,
          help: "The unimodal self-supervised loss (CleanCLIP; on by default). --no-inmodal: MMCL-only.")
    var inmodal: Bool?

    /// Whether the run uses the in-modal loss: on unless --no-inmodal (or --supervised).
    private var useInmodal: Bool { inmodal ?? !supervised }

    @Flag(name: [.customLong("supervised"), .customLong("finetune")],
          help: "Supervised finetuning: vision tower + linear head, cross-entropy on --label-key (CleanCLIP's --finetune).")
    var supervised = false

    @Flag(name: .customLong("complete_finetune"),
          help: "CleanCLIP's --complete_finetune, accepted for its recipe: this command always finetunes the whole model.")
    var completeFinetune = false

    @Option(name: .customLong("label-key"), help: "Integer label column (--supervised).")
    var labelKey = "label"

    @Option(help: "Number of classes (--supervised; default: largest label + 1).")
    var classes: Int?

    @Option(name: [.customLong("clip-weight"), .customLong("clip_weight")], help: "lambda1, weight of the multimodal loss.")
    var clipWeight: Float = 1

    @Option(name: [.customLong("inmodal-weight"), .customLong("inmodal_weight")], help: "lambda2, weight of the unimodal loss.")
    var inmodalWeight: Float = 1

    @Option(help: "Peak learning rate (default 1e-5; 1e-4 with --supervised).")
    var lr: Float?

    @Option(name: [.customLong("batch-size"), .customLong("batch_size")], help: "Pairs (images) per step (default 64; 216 with --supervised).")
    var batchSize: Int?

    @Option(help: "Epochs.")
    var epochs = 10

    @Option(name: [.customLong("warmup-steps"), .customLong("num_warmup_steps")], help: "Linear warm-up steps before the cosine decay.")
    var warmupSteps = 50

    @Option(name: [.customLong("weight-decay"), .customLong("weight_decay")],
            help: "AdamW weight decay, not for bn/ln/bias/logit_scale (default 0.1; 0.01 with --supervised).")
    var weightDecay: Float?

    @Option(name: .customLong("max-grad-norm"), help: "Clip the global gradient norm (default: no clipping).")
    var maxGradNorm: Float?

    @Option(help: "AdamW beta1 (default 0.9).")
    var beta1: Float?

    @Option(help: "AdamW beta2 (default 0.999).")
    var beta2: Float?

    @Option(help: "AdamW epsilon (default 1e-8).")
    var eps: Float?

    @Option(help: "Seed for data order, augmentation, caption augmentation and the supervised head.")
    var seed: UInt64 = 0

    @Option(help: "Checkpoint path (.safetensors, OpenAI naming) written after every epoch.")
    var out: String

    @Flag(help: "Continue the run saved at --out (model, optimizer, epoch) with the same flags.")
    var resume = false

    func validate() throws {
        try Bounds.checkThreads(threads)
        _ = try CleanCLIPFlags.delimiter(delimiter)
        // The settings are checked by the library, which names the bad one by its flag here.
        do {
            if supervised { try supervisedConfig.validate(naming: Self.flag) } else { try contrastiveConfig.validate(naming: Self.flag) }
        } catch let e as FinetuneError {
            throw ValidationError(e.description)
        }
        if supervised && inmodal == true { throw ValidationError("--supervised and --inmodal exclude each other") }
        if !supervised && classes != nil { throw ValidationError("--classes needs --supervised") }
        if resume {
            if model != nil || checkpoint != nil {
                throw ValidationError("--resume continues from --out; leave out --model and --checkpoint")
            }
        } else {
            if (model == nil) == (checkpoint == nil) { throw ValidationError("give exactly one of --model and --checkpoint") }
        }
    }

    private func loadModel(_ path: String) throws -> CLIPModel {
        if let threads { Threads.count = threads }
        var options = CLIPLoadOptions()
        if let activation {
            guard let a = Activation(rawValue: activation) else {
                throw ValidationError("unknown activation '\(activation)' (quick_gelu or gelu)")
            }
            options.activation = a
        }
        return try CLIPModel.load(path: path, options: options)
    }

    /// The decoded pickle of `path` when it is a torch file (zip or legacy), else nil.
    private func torchRoot(_ path: String) throws -> PickleValue? {
        guard CheckpointReader.container(path: path) == .torch else { return nil }
        return try CheckpointReader.readTorchPickle(path: path)
    }

    /// The AdamW state in `path` when it is a torch checkpoint with an "optimizer" entry.
    private func torchOptimizerState(_ path: String, model: CLIPModel) throws -> [(String, Tensor)]? {
        guard let root = try torchRoot(path), TorchOptimizerState.isPresent(in: root) else { return nil }
        return try TorchOptimizerState.read(root: root, model: model, path: path)
    }

    func run() throws {
        // Under mpirun/srun: one rank of a data-parallel job (see the README's "Scale-out").
        let world = try Communicators.world()
        if world.size > 1 && supervised {
            throw ValidationError("--supervised runs as one process; data-parallel runs (\(world.size) ranks here) are contrastive only")
        }
        let source = resume ? out : (checkpoint ?? model!)
        let clip = try loadModel(source)
        if supervised { try runSupervised(clip) } else { try runContrastive(clip, world: world) }
    }

    /// The flag that sets a finetuning setting (beta1, beta2 and eps have none: the defaults).
    static func flag(_ setting: FinetuneSetting) -> String {
        switch setting {
        case .batchSize: return "--batch-size"
        case .epochs: return "--epochs"
        case .warmupSteps: return "--warmup-steps"
        case .lr: return "--lr"
        case .weightDecay: return "--weight-decay"
        case .maxGradNorm: return "--max-grad-norm"
        case .clipWeight: return "--clip-weight"
        case .inmodalWeight: return "--inmodal-weight"
        case .classes: return "--classes"
        case .beta1: return "--beta1"
        case .beta2: return "--beta2"
        case .eps: return "--eps"
        }
    }

    private var contrastiveConfig: FinetuneConfig {
        var config = FinetuneConfig()
        config.inmodal = useInmodal
        config.clipWeight = clipWeight
        config.inmodalWeight = inmodalWeight
        config.lr = lr ?? 1e-5
        config.batchSize = batchSize ?? 64
        config.epochs = epochs
        config.warmupSteps = warmupSteps
        config.weightDecay = weightDecay ?? 0.1
        config.maxGradNorm = maxGradNorm
        if let beta1 { config.beta1 = beta1 }
        if let beta2 { config.beta2 = beta2 }
        if let eps { config.eps = eps }
        config.seed = seed
        return config
    }

    private var supervisedConfig: SupervisedFinetuneConfig {
        var config = SupervisedFinetuneConfig()
        if let lr { config.lr = lr }
        if let batchSize { config.batchSize = batchSize }
        if let weightDecay { config.weightDecay = weightDecay }
        config.epochs = epochs
        config.warmupSteps = warmupSteps
        config.maxGradNorm = maxGradNorm
        config.classes = classes
        if let beta1 { config.beta1 = beta1 }
        if let beta2 { config.beta2 = beta2 }
        if let eps { config.eps = eps }
        config.seed = seed
        return config
    }

    private func runContrastive(_ clip: CLIPModel, world: Communicator) throws {
        let config = contrastiveConfig
        let data = try ImageCaptionDataset(csvPath: trainData, imageKey: imageKey, captionKey: captionKey,
                                           delimiter: try CleanCLIPFlags.delimiter(delimiter))
            .preparedForTraining(inmodal: useInmodal, seed: seed)
        let finetuner = try Finetuner(model: clip, dataset: data, config: config, communicator: world)
        // Rank 0 speaks for the job.
        let print: (String) -> Void = world.isRoot ? { Swift.print($0) } : { _ in }
        if resume { try finetuner.resume(from: out) }
        if let checkpoint {
            if let state = try torchOptimizerState(checkpoint, model: clip) {
                try finetuner.importOptimizerState(state)
                print("loaded AdamW moments from \(checkpoint) (step \(finetuner.trainer.stepCount)); "
                      + "the learning-rate schedule starts afresh")
            } else {
                print("\(checkpoint) holds no optimizer state: starting with fresh AdamW moments")
            }
        }
        print("finetuning \(clip.config.architecture) on \(data.count) pairs: \(useInmodal ? "CleanCLIP (L_CLIP + L_SS)" : "MMCL-only (L_CLIP)"), "
              + "\(epochs) epochs x \(finetuner.batchesPerEpoch) steps, batch \(config.batchSize), lr \(config.lr), seed \(seed)"
              + (world.size > 1 ? ", \(world.size) ranks x \(config.batchSize / world.size) pairs" : "")
              + (finetuner.startEpoch > 0 ? ", resuming after epoch \(finetuner.startEpoch)" : ""))
        let bar = ProgressBar("finetune", total: finetuner.batchesPerEpoch * epochs, visible: world.isRoot)
        var stepsDone = 0
        try finetuner.run(checkpoint: out) { event in
            switch event {
            case .step(let p):
                bar.update(p.step + 1, detail: String(format: "epoch %d loss %.4f %.2fs/step", p.epoch + 1, p.loss, p.stepSeconds))
            case .epoch(let e):
                var line = String(format: "epoch %d/%d  loss %.4f  clip %.4f", e.epoch + 1, epochs, e.meanLoss, e.meanClipLoss ?? .nan)
                if let i = e.meanInmodalLoss { line += String(format: "  inmodal %.4f", i) }
                line += String(format: "  %.1fs  %.2f pairs/s  -> %@", e.seconds, e.pairsPerSecond, out)
                stepsDone += finetuner.batchesPerEpoch
                if world.size > 1 {
                    line += String(format: "  (rank 0: %.3fs/step in communication)", finetuner.communicationSeconds / Double(stepsDone))
                }
                print(line)
            }
            return true
        }
    }

    private func runSupervised(_ clip: CLIPModel) throws {
        let config = supervisedConfig
        let data = try ImageLabelDataset(csvPath: trainData, imageKey: imageKey, labelKey: labelKey,
                                         delimiter: try CleanCLIPFlags.delimiter(delimiter))
        let finetuner = try SupervisedFinetuner(model: clip, dataset: data, config: config)
        if resume { try finetuner.resume(from: out) }
        if let checkpoint, let root = try torchRoot(checkpoint), TorchOptimizerState.isPresent(in: root) {
            print("note: \(checkpoint) holds a contrastive optimizer state; supervised finetuning uses its weights only")
        }
        print("supervised finetuning of \(clip.config.architecture) on \(data.count) images, \(finetuner.classes) classes: "
              + "\(epochs) epochs x \(finetuner.batchesPerEpoch) steps, batch \(config.batchSize), lr \(config.lr), seed \(seed)"
              + (finetuner.startEpoch > 0 ? ", resuming after epoch \(finetuner.startEpoch)" : ""))
        let bar = ProgressBar("finetune", total: finetuner.batchesPerEpoch * epochs)
        try finetuner.run(checkpoint: out) { event in
            switch event {
            case .step(let p):
                bar.update(p.step + 1, detail: String(format: "epoch %d loss %.4f %.2fs/step", p.epoch + 1, p.loss, p.stepSeconds))
            case .epoch(let e):
                print(String(format: "epoch %d/%d  cross-entropy %.4f  %.1fs  %.2f images/s  -> %@ (+ head %@)",
                             e.epoch + 1, epochs, e.meanLoss, e.seconds, e.pairsPerSecond, out,
                             SupervisedFinetuner.headPath(for: out)))
            }
            return true
        }
    }
}
