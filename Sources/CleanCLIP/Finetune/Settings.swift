import Foundation

/// A finetuning setting that validation can reject.
///
/// Each front end names a setting its own way (`--lr` on the command line, `options->lr` in the C
/// ABI) but checks it here, so every rule lives in one place: `FinetuneConfig.validate(naming:)`
/// and `SupervisedFinetuneConfig.validate(naming:)`. `description` is the library's own name.
public enum FinetuneSetting: String, Sendable, CaseIterable, CustomStringConvertible {
    case batchSize = "batch size"
    case epochs
    case warmupSteps = "warmup steps"
    case lr = "learning rate"
    case weightDecay = "weight decay"
    case beta1, beta2, eps
    case maxGradNorm = "max gradient norm"
    case clipWeight = "clip weight"
    case inmodalWeight = "in-modal weight"
    case classes

    public var description: String { rawValue }
}

extension FinetuneConfig {
    /// Throws a `FinetuneError` for the first setting out of range: "<name> must be <rule>, got
    /// <value>", with `name` giving the setting's name (the library's by default) and the error's
    /// `setting` saying which it is. `Finetuner` calls it; front ends call it first to name their
    /// own fields.
    public func validate(naming name: (FinetuneSetting) -> String = \.description) throws {
        try withoutActuallyEscaping(name) { name in
            let check = SettingsCheck(name: name)
            try check.optimization(batchSize: batchSize, epochs: epochs, warmupSteps: warmupSteps, lr: lr, weightDecay: weightDecay,
                                   beta1: beta1, beta2: beta2, eps: eps, maxGradNorm: maxGradNorm)
            try check.require(clipWeight.isFinite && clipWeight >= 0, .clipWeight, clipWeight, "finite and non-negative")
            try check.require(inmodalWeight.isFinite && inmodalWeight >= 0, .inmodalWeight, inmodalWeight, "finite and non-negative")
        }
    }
}

extension SupervisedFinetuneConfig {
    /// As `FinetuneConfig.validate(naming:)`, with `classes` (when given) in 2...`maxClasses`.
    public func validate(naming name: (FinetuneSetting) -> String = \.description) throws {
        try withoutActuallyEscaping(name) { name in
            let check = SettingsCheck(name: name)
            try check.optimization(batchSize: batchSize, epochs: epochs, warmupSteps: warmupSteps, lr: lr, weightDecay: weightDecay,
                                   beta1: beta1, beta2: beta2, eps: eps, maxGradNorm: maxGradNorm)
            if let classes {
                try check.require((2...Self.maxClasses).contains(classes), .classes, classes, "between 2 and \(Self.maxClasses)")
            }
        }
    }
}

/// The rules, each stated once; the message names the setting and its value.
private struct SettingsCheck {
    // Escaping only in type: a check lives for one `validate` call.
    let name: (FinetuneSetting) -> String

    func require(_ ok: Bool, _ setting: FinetuneSetting, _ value: some CustomStringConvertible, _ rule: String) throws {
        guard ok else { throw FinetuneError("\(name(setting)) must be \(rule), got \(value)", setting: setting) }
    }

    /// The settings of the optimizer and the schedule, which both finetuners have. Epochs and
    /// warmup are bounded by the steps a checkpoint can record exactly (`AdamW.maxStepCount`).
    /// NaN fails every rule (each comparison with it is false).
    func optimization(batchSize: Int, epochs: Int, warmupSteps: Int, lr: Float, weightDecay: Float,
                      beta1: Float, beta2: Float, eps: Float, maxGradNorm: Float?) throws {
        let maxSteps = AdamW.maxStepCount
        try require(batchSize > 0, .batchSize, batchSize, "positive")
        try require((1...maxSteps).contains(epochs), .epochs, epochs, "between 1 and \(maxSteps)")
        try require((0...maxSteps).contains(warmupSteps), .warmupSteps, warmupSteps, "between 0 and \(maxSteps)")
        try require(lr > 0 && lr.isFinite, .lr, lr, "positive and finite")
        try require(weightDecay >= 0 && weightDecay.isFinite, .weightDecay, weightDecay, "finite and non-negative")
        try require(beta1 >= 0 && beta1 < 1, .beta1, beta1, "in [0, 1)")
        try require(beta2 >= 0 && beta2 < 1, .beta2, beta2, "in [0, 1)")
        try require(eps > 0 && eps.isFinite, .eps, eps, "positive and finite")
        if let maxGradNorm {
            try require(maxGradNorm > 0 && maxGradNorm.isFinite, .maxGradNorm, maxGradNorm, "positive and finite")
        }
    }
}
