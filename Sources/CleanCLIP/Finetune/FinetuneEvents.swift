import Foundation

/// A finetuning run that stopped: bad settings, a non-finite loss, cancellation.
public struct FinetuneError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// The setting out of range, when that is the error (see `FinetuneSetting`).
    public let setting: FinetuneSetting?

    public init(_ description: String, setting: FinetuneSetting? = nil) {
        self.description = description
        self.setting = setting
    }
}

/// What a run reports as it goes. Return false from the handler to cancel the run.
public enum FinetuneEvent: Sendable {
    /// After every optimizer step.
    case step(FinetuneProgress)
    /// After every epoch (and its checkpoint).
    case epoch(EpochSummary)
}

/// One optimizer step of a run.
///
/// `epoch`, `batch` and `step` are 0-based indices, as `StepResult.step` and
/// `EpochSummary.epoch` are: the first step of a run is epoch 0, batch 0, step 0. Add 1 to show
/// them to people or to count what is done (`step + 1` of `totalSteps`).
public struct FinetuneProgress: Sendable {
    /// The epoch (0-based) of `epochs`.
    public var epoch: Int, epochs: Int
    /// The batch within the epoch (0-based) of `batchesPerEpoch`.
    public var batch: Int, batchesPerEpoch: Int
    /// The step within the run's schedule (0-based, `StepResult.step`) of `totalSteps`; a resumed
    /// run continues the count.
    public var step: Int, totalSteps: Int
    public var loss: Float, clipLoss: Float?, inmodalLoss: Float?
    public var lr: Float
    public var stepSeconds: Double
    /// Time left in the run at the pace of this call's steps so far.
    public var etaSeconds: Double
}

/// One finished epoch. The means are over the epoch's steps, summed and divided in double precision.
public struct EpochSummary: Sendable, Codable {
    /// 0-based.
    public var epoch: Int
    public var meanLoss: Double
    /// nil when the steps report no such term (supervised runs; L_SS in MMCL-only runs).
    public var meanClipLoss: Double?
    public var meanInmodalLoss: Double?
    public var seconds: Double
    /// Training items (pairs, or images for supervised runs) per second.
    public var pairsPerSecond: Double
}
