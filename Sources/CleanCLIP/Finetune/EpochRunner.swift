import Foundation

/// The training loop: epochs of `Trainer` steps over a `BatchSource`. `Finetuner`,
/// `SupervisedFinetuner` and the demo's stages all run through it.
///
/// Every step: the trainer's step on the next batch, a stop on a non-finite loss (a
/// `FinetuneError` naming the epoch and step; a checkpoint is only ever written after a whole
/// epoch, so the last one on disk is intact), then a `.step` event with the progress and an ETA.
/// Every epoch: its `EpochSummary` (kept in `history`), the checkpoint (`save`), then an `.epoch`
/// event. An event handler that returns false cancels the run with a `FinetuneError`; the model
/// keeps the weights of the last step taken. On return, whatever the outcome, the tensor buffers
/// kept for reuse between steps go back to the system (`BufferPool.drain`).
package final class EpochRunner {
    let trainer: Trainer
    let source: any BatchSource
    let epochs: Int
    /// The summaries of the epochs finished by `run`, in order.
    private(set) var history: [EpochSummary] = []

    package init(trainer: Trainer, source: any BatchSource, epochs: Int) {
        self.trainer = trainer
        self.source = source
        self.epochs = epochs
    }

    /// Steps in the whole run: `batchesPerEpoch * epochs` (checked by `totalSteps`).
    var totalSteps: Int { source.batchesPerEpoch * epochs }

    /// Runs epochs `startEpoch..<epochs`. `save(epochsDone)` writes a checkpoint after each
    /// (nil: none). Returns `history`.
    @discardableResult
    package func run(from startEpoch: Int, save: ((Int) throws -> Void)?,
             onEvent: (FinetuneEvent) throws -> Bool) throws -> [EpochSummary] {
        defer { BufferPool.shared.drain() }
        let total = totalSteps
        let runStart = Date()
        var stepsThisRun = 0
        for epoch in startEpoch..<epochs {
            let start = Date()
            let batches = try source.batches(epoch: epoch)
            defer { batches.close() }
            var sums = LossSums()
            while let batch = try batches.next() {
                let t0 = Date()
                let r = try trainer.step(batch)
                guard r.loss.isFinite else {
                    throw FinetuneError("loss became \(r.loss) at epoch \(epoch + 1), step \(r.step + 1); stopped"
                        + (save == nil ? "" : " (the last checkpoint on disk is from before this epoch)"))
                }
                let index = sums.steps
                sums.add(r)
                stepsThisRun += 1
                let elapsed = Date().timeIntervalSince(runStart)
                let progress = FinetuneProgress(
                    epoch: epoch, epochs: epochs, batch: index, batchesPerEpoch: source.batchesPerEpoch,
                    step: r.step, totalSteps: total, loss: r.loss, clipLoss: r.clipLoss, inmodalLoss: r.inmodalLoss,
                    lr: r.lr, stepSeconds: Date().timeIntervalSince(t0),
                    etaSeconds: elapsed / Double(stepsThisRun) * Double(total - (r.step + 1)))
                guard try onEvent(.step(progress)) else { throw FinetuneError("cancelled at epoch \(epoch + 1), step \(r.step + 1)") }
            }
            let seconds = Date().timeIntervalSince(start)
            let summary = sums.summary(epoch: epoch, seconds: seconds, items: sums.steps * source.batchSize)
            history.append(summary)
            try save?(epoch + 1)
            guard try onEvent(.epoch(summary)) else { throw FinetuneError("cancelled after epoch \(epoch + 1)") }
        }
        return history
    }
}

/// The losses of an epoch's steps, summed in double precision.
private struct LossSums {
    var steps = 0
    var loss = 0.0
    /// nil until a step reports the term.
    var clip: Double?, inmodal: Double?

    mutating func add(_ r: StepResult) {
        steps += 1
        loss += Double(r.loss)
        if let c = r.clipLoss { clip = (clip ?? 0) + Double(c) }
        if let i = r.inmodalLoss { inmodal = (inmodal ?? 0) + Double(i) }
    }

    func summary(epoch: Int, seconds: Double, items: Int) -> EpochSummary {
        let n = Double(max(steps, 1))
        return EpochSummary(epoch: epoch, meanLoss: loss / n, meanClipLoss: clip.map { $0 / n },
                            meanInmodalLoss: inmodal.map { $0 / n }, seconds: seconds,
                            pairsPerSecond: Double(items) / max(seconds, 1e-9))
    }
}
