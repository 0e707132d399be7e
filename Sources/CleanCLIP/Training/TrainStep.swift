import CLIP
import Foundation
import TensorCore

/// What one training step did.
package struct StepResult: Sendable {
    /// The schedule step this was: 0-based, like every step and epoch index in the finetuning API
    /// (`FinetuneProgress.step` is this value), and the index the learning rate was taken at.
    /// Equals the optimizer's step count before the update, less `Trainer.scheduleStepOffset`.
    package let step: Int
    /// The learning rate used.
    package let lr: Float
    /// The total loss before the update.
    package let loss: Float
    /// L_CLIP (contrastive modes) before the update.
    package let clipLoss: Float?
    /// L_SS (CleanCLIP mode) before the update.
    package let inmodalLoss: Float?
    /// The supervised cross-entropy (supervised mode).
    package let supervisedLoss: Float?
    /// The global gradient norm before clipping.
    package let gradientNorm: Float
}

/// Finetunes a CLIP model one batch at a time, as CleanCLIP's `train.py` does:
/// learning rate for this step from the schedule, one forward pass over the whole batch
/// (originals and augmented views concatenated, so BatchNorm sees all 2B images), the loss,
/// backward, an AdamW update, then logit_scale clamped to [0, ln 100].
///
/// The data side (CSV, augmentation, loading threads) hands it tensors:
/// ```
/// let trainer = Trainer(model: model, loss: .cleanCLIP, optimizer: AdamWConfig(),
///                       schedule: .warmupCosine(baseLR: 1e-5, warmupSteps: 50, totalSteps: 15_620))
/// let r = try trainer.step(images: pixels, tokens: ids, augmentedImages: augPixels, augmentedTokens: augIds)
/// ```
/// Not thread-safe: one step at a time. While a step runs the model is in training mode and its
/// trained parameters record gradients; between steps it is back in inference state, so encodes
/// and evaluations between (or after) steps record no autograd graph.
package final class Trainer {
    package enum Objective {
        /// Contrastive finetuning with the CleanCLIP loss (or MMCL-only).
        case contrastive(CleanCLIPLoss)
        /// Vision tower + linear head, cross-entropy on labels (the text tower is not trained).
        case supervised(LinearHead)
    }

    package let model: CLIPModel
    package let objective: Objective
    package let optimizer: AdamW
    package var schedule: LRSchedule
    /// The ranks of a data-parallel run (contrastive steps only): embeddings are all-gathered so
    /// the loss is over the global batch, gradients are averaged over ranks (see `DataParallel.swift`).
    /// `SingleProcess` by default, for which both are no-ops.
    package let communicator: Communicator
    /// Seconds spent in the step's collectives so far (0 for a single process).
    package private(set) var communicationSeconds = 0.0

    /// logit_scale is clamped to [0, ln 100] after every contrastive step.
    package static let maxLogitScale: Float = Float(Foundation.log(100.0))

    /// Contrastive finetuning of every model parameter.
    package convenience init(model: CLIPModel, loss: CleanCLIPLoss, optimizer: AdamWConfig = AdamWConfig(),
                            schedule: LRSchedule, communicator: Communicator = SingleProcess()) {
        self.init(model: model, objective: .contrastive(loss), optimizer: optimizer, schedule: schedule, communicator: communicator)
    }

    package init(model: CLIPModel, objective: Objective, optimizer: AdamWConfig = AdamWConfig(), schedule: LRSchedule,
                 communicator: Communicator = SingleProcess()) {
        precondition(communicator.size == 1 || { if case .contrastive = objective { return true } else { return false } }(),
                     "Trainer: data-parallel runs are contrastive only")
        self.model = model
        self.objective = objective
        self.schedule = schedule
        self.communicator = communicator
        var params = model.parameters.map { (name: $0.name, tensor: $0.tensor) }
        if case .supervised(let head) = objective {
            params = params.filter { $0.name.hasPrefix("visual.") } + head.parameters
        }
        self.optimizer = AdamW(parameters: params, config: optimizer)
    }

    /// Steps taken so far (the optimizer's step count: restored with its state).
    package var stepCount: Int { optimizer.stepCount }

    /// Optimizer steps that were taken before this schedule began, e.g. by the run whose AdamW
    /// state was imported (`Finetuner.importOptimizerState`). The learning rate of a step is
    /// `schedule.lr(at: stepCount - scheduleStepOffset)`, while AdamW's bias correction keeps
    /// counting from the imported step, as `torch.optim.AdamW.load_state_dict` does. 0 by default.
    package var scheduleStepOffset = 0

    /// One contrastive step. `images` [B, 3, S, S] and `tokens` [B * contextLength] token ids
    /// (the captions, tokenized); the augmented views (same shapes) are required when the loss is
    /// in CleanCLIP mode and ignored (not encoded) in MMCL-only mode.
    package func step(images: Tensor, tokens: [Int32], augmentedImages: Tensor? = nil,
                     augmentedTokens: [Int32]? = nil) throws -> StepResult {
        guard case .contrastive(let loss) = objective else {
            throw CLIPInputError("this trainer is supervised: use supervisedStep(images:labels:)")
        }
        guard images.rank == 4 else { throw CLIPInputError("images have shape \(images.shape); expected [B, 3, S, S]") }
        let b = images.shape[0]
        var pixels = images, ids = tokens, textBatch = b
        if loss.inmodal {
            guard let augmentedImages, let augmentedTokens else {
                throw CLIPInputError("CleanCLIP mode needs augmented images and texts (or use MMCL-only mode)")
            }
            guard augmentedImages.shape == images.shape else {
                throw CLIPInputError("augmented images \(augmentedImages.shape) do not match images \(images.shape)")
            }
            guard augmentedTokens.count == tokens.count else {
                throw CLIPInputError("\(augmentedTokens.count) augmented token ids for \(tokens.count) token ids")
            }
            pixels = Tensor.concatenated([images, augmentedImages])
            ids = tokens + augmentedTokens
            textBatch = 2 * b
        }
        let step = optimizer.stepCount - scheduleStepOffset
        let lr = schedule.lr(at: step)
        optimizer.zeroGrad()
        let terms: CleanCLIPLoss.Terms = try withTrainingMode {
            // With N ranks: this rank's rows of the global batch, then all ranks' rows gathered
            // (originals and augmented views stay separate blocks), so negatives are global.
            let blocks = loss.inmodal ? 2 : 1
            let localImages = try model.encodeImage(pixels)
            let localTexts = try model.encodeText(tokens: ids, batch: textBatch)
            let (imageEmbeddings, textEmbeddings) = try timedCollective {
                (try communicator.gatherRows(localImages, blocks: blocks), try communicator.gatherRows(localTexts, blocks: blocks))
            }
            let terms = loss(images: imageEmbeddings, texts: textEmbeddings, logitScale: model.logitScale)
            terms.total.backward()
            return terms
        }
        try timedCollective { try communicator.averageGradients(optimizer.parameters.map(\.tensor)) }
        let norm = optimizer.step(lr: lr)
        let s = model.logitScale.data
        s[0] = min(max(s[0], 0), Self.maxLogitScale)
        return StepResult(step: step, lr: lr, loss: terms.total.scalar, clipLoss: terms.clip.scalar,
                          inmodalLoss: terms.inmodal?.scalar, supervisedLoss: nil, gradientNorm: norm)
    }

    /// One supervised step: images [B, 3, S, S], labels in 0..<classes.
    package func supervisedStep(images: Tensor, labels: [Int]) throws -> StepResult {
        guard case .supervised(let head) = objective else {
            throw CLIPInputError("this trainer is contrastive: use step(images:tokens:...)")
        }
        let classes = head.weight.shape[0]
        guard images.rank == 4, labels.count == images.shape[0] else {
            throw CLIPInputError("\(labels.count) labels for images of shape \(images.shape)")
        }
        if let bad = labels.first(where: { $0 < 0 || $0 >= classes }) {
            throw CLIPInputError("label \(bad) outside 0..<\(classes)")
        }
        let step = optimizer.stepCount - scheduleStepOffset
        let lr = schedule.lr(at: step)
        optimizer.zeroGrad()
        let loss = try withTrainingMode {
            let loss = head(try model.encodeImage(images)).crossEntropy(targets: labels)
            loss.backward()
            return loss
        }
        let norm = optimizer.step(lr: lr)
        return StepResult(step: step, lr: lr, loss: loss.scalar, clipLoss: nil, inmodalLoss: nil,
                          supervisedLoss: loss.scalar, gradientNorm: norm)
    }

    /// One step on `batch` with this trainer's objective (`EpochRunner`'s single call).
    func step(_ batch: TrainingBatch) throws -> StepResult {
        switch batch {
        case .pairs(let b):
            return try step(images: b.images, tokens: b.tokens, augmentedImages: b.augmentedImages, augmentedTokens: b.augmentedTokens)
        case .labels(let b):
            return try supervisedStep(images: b.images, labels: b.labels)
        }
    }

    /// Runs `body` (collectives) adding the collective's time to
    /// `communicationSeconds`; with one rank it only runs `body`.
    private func timedCollective<T>(_ body: () throws -> T) rethrows -> T {
        guard communicator.size > 1 else { return try body() }
        let start = Date()
        defer { communicationSeconds += Date().timeIntervalSince(start) }
        return try body()
    }

    /// Runs a forward and backward pass as PyTorch's `model.train()`: BatchNorm in training mode
    /// and every trained parameter recording gradients. Both are restored afterwards, also when
    /// `body` throws.
    private func withTrainingMode<T>(_ body: () throws -> T) rethrows -> T {
        let previous = model.isTraining
        let recording = optimizer.parameters.map(\.tensor.requiresGrad)
        model.isTraining = true
        for p in optimizer.parameters { p.tensor.requiresGrad = true }
        defer {
            model.isTraining = previous
            for (p, r) in zip(optimizer.parameters, recording) { p.tensor.requiresGrad = r }
        }
        return try body()
    }
}
