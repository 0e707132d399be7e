import CleanCLIP
import Foundation

@_cdecl("cleanclip_finetune_default_options")
public func cleanclip_finetune_default_options(_ options: UnsafeMutableRawPointer?, _ structSize: Int) -> Int32 {
    boundary {
        try fillDefaults(options, structSize, CFinetuneOptions.self) { s in
            let d = FinetuneConfig()
            s.write(\.inmodal, Int32(d.inmodal ? 1 : 0))
            s.write(\.batch_size, Int32(clamping: d.batchSize))
            s.write(\.epochs, Int32(clamping: d.epochs))
            s.write(\.warmup_steps, Int32(clamping: d.warmupSteps))
            s.write(\.clip_weight, d.clipWeight)
            s.write(\.inmodal_weight, d.inmodalWeight)
            s.write(\.lr, d.lr)
            s.write(\.weight_decay, d.weightDecay)
            s.write(\.beta1, d.beta1)
            s.write(\.beta2, d.beta2)
            s.write(\.eps, d.eps)
            s.write(\.max_grad_norm, d.maxGradNorm ?? 0)
            s.write(\.seed, d.seed)
            s.write(\.wordnet_dir, nil)
        }
    }
}

/// Reads `cleanclip_finetune_options` (NULL: the defaults) and checks it with the library's
/// `FinetuneConfig.validate(naming:)`, which names the bad field as `options-><field>`.
private func finetuneConfig(_ p: UnsafeRawPointer?) throws -> (FinetuneConfig, wordNet: String?) {
    var c = FinetuneConfig()
    guard let s = try callerOptions(p, CFinetuneOptions.self) else { return (c, nil) }
    if let v = s.read(\.inmodal) { c.inmodal = v != 0 }
    if let v = s.read(\.batch_size) { c.batchSize = Int(v) }
    if let v = s.read(\.epochs) { c.epochs = Int(v) }
    if let v = s.read(\.warmup_steps) { c.warmupSteps = Int(v) }
    if let v = s.read(\.clip_weight) { c.clipWeight = v }
    if let v = s.read(\.inmodal_weight) { c.inmodalWeight = v }
    if let v = s.read(\.lr) { c.lr = v }
    if let v = s.read(\.weight_decay) { c.weightDecay = v }
    if let v = s.read(\.beta1) { c.beta1 = v }
    if let v = s.read(\.beta2) { c.beta2 = v }
    if let v = s.read(\.eps) { c.eps = v }
    if let v = s.read(\.max_grad_norm) { c.maxGradNorm = v == 0 ? nil : v }  // 0: no clipping
    if let seed = s.read(\.seed) { c.seed = seed }
    try c.validate { "options->" + field($0) }
    return (c, try s.string(\.wordnet_dir))
}

/// The `cleanclip_finetune_options` field that holds a setting.
private func field(_ setting: FinetuneSetting) -> String {
    switch setting {
    case .batchSize: return "batch_size"
    case .epochs: return "epochs"
    case .warmupSteps: return "warmup_steps"
    case .lr: return "lr"
    case .weightDecay: return "weight_decay"
    case .beta1: return "beta1"
    case .beta2: return "beta2"
    case .eps: return "eps"
    case .maxGradNorm: return "max_grad_norm (0: no clipping)"
    case .clipWeight: return "clip_weight"
    case .inmodalWeight: return "inmodal_weight"
    case .classes: return "classes"  // not a field: supervised finetuning has no C entry point
    }
}

@_cdecl("cleanclip_finetune")
public func cleanclip_finetune(_ model: OpaquePointer?, _ trainCSV: UnsafePointer<CChar>?,
                               _ imageKey: UnsafePointer<CChar>?, _ captionKey: UnsafePointer<CChar>?,
                               _ options: UnsafeRawPointer?, _ checkpoint: UnsafePointer<CChar>?, _ resume: Int32,
                               _ progress: ProgressCallback?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    boundary {
        let handle = try ModelHandle.from(model)
        let csv = try string(trainCSV, "train_csv")
        let imageKey = try optionalString(imageKey, "image_key") ?? "image"
        let captionKey = try optionalString(captionKey, "caption_key") ?? "caption"
        let (config, wordNetDir) = try finetuneConfig(options)
        let checkpoint = try optionalString(checkpoint, "checkpoint_path")
        if let checkpoint, checkpoint.isEmpty { throw BoundaryError(.invalidArgument, "checkpoint_path is empty") }
        if resume != 0 && checkpoint == nil {
            throw BoundaryError(.invalidArgument, "resume needs checkpoint_path: the checkpoint of the run to continue")
        }
        guard FileManager.default.fileExists(atPath: csv) else { throw BoundaryError(.ioErrorNotFound, "\(csv): no such file") }
        let dataset = try ImageCaptionDataset(csvPath: csv, imageKey: imageKey, captionKey: captionKey)
            .preparedForTraining(inmodal: config.inmodal, seed: config.seed, wordNetDirectory: wordNetDir)
        let reporter = ProgressReporter(progress, userData)
        try handle.exclusiveFinetune {
            let m = handle.model
            // In a host started by mpirun/srun for N > 1 ranks: one rank of a data-parallel run.
            let finetuner = try Finetuner(model: m, dataset: dataset, config: config, communicator: try Communicators.world())
            if resume != 0, let checkpoint { try finetuner.resumeLoadingWeights(from: checkpoint) }
            try reporter.run {
                _ = try finetuner.run(checkpoint: checkpoint) { event in
                    switch event {
                    case .step(let p):
                        // The library's indices are 0-based; the struct counts what is done.
                        return reporter.report(phase: "step", where: "epoch \(p.epoch + 1), step \(p.step + 1)") { s in
                            s.write(\.done, Int64(p.step + 1))
                            s.write(\.total, Int64(p.totalSteps))
                            s.write(\.epoch, Int32(clamping: p.epoch))
                            s.write(\.epochs, Int32(clamping: p.epochs))
                            s.write(\.batch, Int32(clamping: p.batch + 1))
                            s.write(\.batches_per_epoch, Int32(clamping: p.batchesPerEpoch))
                            s.write(\.loss, p.loss)
                            s.write(\.clip_loss, p.clipLoss ?? .nan)
                            s.write(\.inmodal_loss, p.inmodalLoss ?? .nan)
                            s.write(\.lr, p.lr)
                            s.write(\.seconds, p.stepSeconds)
                            s.write(\.eta_seconds, p.etaSeconds)
                        }
                    case .epoch(let e):
                        return reporter.report(phase: "epoch", where: "the end of epoch \(e.epoch + 1)") { s in
                            s.write(\.done, Int64(e.epoch + 1))
                            s.write(\.total, Int64(config.epochs))
                            s.write(\.epoch, Int32(clamping: e.epoch))
                            s.write(\.epochs, Int32(clamping: config.epochs))
                            s.write(\.batches_per_epoch, Int32(clamping: finetuner.batchesPerEpoch))
                            s.write(\.batch, Int32(clamping: finetuner.batchesPerEpoch))
                            s.write(\.loss, Float(e.meanLoss))
                            s.write(\.clip_loss, e.meanClipLoss.map(Float.init) ?? .nan)
                            s.write(\.inmodal_loss, e.meanInmodalLoss.map(Float.init) ?? .nan)
                            s.write(\.seconds, e.seconds)
                            s.write(\.pairs_per_second, e.pairsPerSecond)
                        }
                    }
                }
            }
        }
    }
}
