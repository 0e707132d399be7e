import ArgumentParser
import CleanCLIP
import Foundation

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Finetune a CLIP model on clean image-caption pairs: CleanCLIP (--inmodal) or MMCL-only.",
        discussion: """
        The training CSV has an image-path column and a caption column (paths relative to the CSV);
        optional augmented_<caption key> / augmented_<image key> columns are used instead of
        on-the-fly EDA / AutoAugment. A checkpoint (model + optimizer) is written to --out after
        every epoch; --resume continues a run from it.
        """)

    @OptionGroup var model: ModelOptions

    @Option(name: .customLong("train-data"), help: "Training CSV.")
    var trainData: String

    @Option(name: .customLong("image-key"), help: "Image-path column.")
    var imageKey = "image"

    @Option(name: .customLong("caption-key"), help: "Caption column.")
    var captionKey = "caption"

    @Flag(help: "Add the unimodal self-supervised loss (CleanCLIP). Without it: MMCL-only.")
    var inmodal = false

    @Option(name: .customLong("clip-weight"), help: "lambda1, weight of the multimodal loss.")
    var clipWeight: Float = 1

    @Option(name: .customLong("inmodal-weight"), help: "lambda2, weight of the unimodal loss.")
    var inmodalWeight: Float = 1

    @Option(help: "Peak learning rate.")
    var lr: Float = 1e-5

    @Option(name: .customLong("batch-size"), help: "Pairs per step (each with one augmented view in CleanCLIP mode).")
    var batchSize = 64

    @Option(help: "Epochs.")
    var epochs = 10

    @Option(name: .customLong("warmup-steps"), help: "Linear warm-up steps before the cosine decay.")
    var warmupSteps = 50

    @Option(name: .customLong("weight-decay"), help: "AdamW weight decay (not for bn/ln/bias/logit_scale).")
    var weightDecay: Float = 0.1

    @Option(name: .customLong("max-grad-norm"), help: "Clip the global gradient norm (default: no clipping).")
    var maxGradNorm: Float?

    @Option(help: "Seed for data order, augmentation and caption augmentation.")
    var seed: UInt64 = 0

    @Option(help: "Checkpoint path (.safetensors, OpenAI naming) written after every epoch.")
    var out: String

    @Flag(help: "Continue the run saved at --out (model, optimizer, epoch).")
    var resume = false

    func validate() throws {
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if !(lr > 0) { throw ValidationError("--lr must be positive") }
    }

    func run() throws {
        var options = model
        if resume { options.model = out }
        let clip = try options.load()
        var config = FinetuneConfig()
        config.inmodal = inmodal
        config.clipWeight = clipWeight
        config.inmodalWeight = inmodalWeight
        config.lr = lr
        config.batchSize = batchSize
        config.epochs = epochs
        config.warmupSteps = warmupSteps
        config.weightDecay = weightDecay
        config.maxGradNorm = maxGradNorm
        config.seed = seed
        var data = try ImageCaptionDataset(csvPath: trainData, imageKey: imageKey, captionKey: captionKey)
        if inmodal && data.items.contains(where: { $0.augmentedCaption == nil }) {
            data = try data.augmentingCaptions(with: EDA(wordNet: try WordNet.shared()), seed: seed)
        }
        let finetuner = try Finetuner(model: clip, dataset: data, config: config)
        if resume { try finetuner.resume(from: out) }
        print("finetuning \(clip.config.architecture) on \(data.count) pairs: \(inmodal ? "CleanCLIP (L_CLIP + L_SS)" : "MMCL-only (L_CLIP)"), "
              + "\(epochs) epochs x \(finetuner.batchesPerEpoch) steps, batch \(batchSize), lr \(lr), seed \(seed)"
              + (finetuner.startEpoch > 0 ? ", resuming after epoch \(finetuner.startEpoch)" : ""))
        let bar = ProgressBar("finetune", total: finetuner.batchesPerEpoch * epochs)
        try finetuner.run(checkpoint: out) { event in
            switch event {
            case .step(let p):
                bar.update(p.step, detail: String(format: "epoch %d loss %.4f %.2fs/step", p.epoch + 1, p.loss, p.stepSeconds))
            case .epoch(let e):
                var line = String(format: "epoch %d/%d  loss %.4f  clip %.4f", e.epoch + 1, epochs, e.meanLoss, e.meanClipLoss ?? .nan)
                if let i = e.meanInmodalLoss { line += String(format: "  inmodal %.4f", i) }
                line += String(format: "  %.1fs  %.2f pairs/s  -> %@", e.seconds, e.pairsPerSecond, out)
                print(line)
            }
            return true
        }
    }
}
