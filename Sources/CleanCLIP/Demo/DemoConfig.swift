import Foundation

/// Everything the demo does, configurable; the defaults run in a few minutes on 2 cores.
public struct DemoConfig: Sendable, Codable, Equatable {
    public enum Architecture: String, Sendable, Codable, CaseIterable { case vit, resnet }
    public enum Attack: String, Sendable, Codable, CaseIterable {
        case badnet, blended, wanet
        case labelConsistent = "label-consistent"
    }

    public var seed: UInt64 = 1
    public var architecture: Architecture = .vit
    public var attack: Attack = .badnet
    /// Image side of the generated data set and of the model.
    public var imageSize = 32
    /// Pairs in the (poisoned) pretraining set.
    public var trainPairs = 4000
    /// Fraction of pretraining pairs that carry the trigger and a "banana" caption.
    public var poisonFraction = 0.01
    /// Labelled test images (ten classes).
    public var testImages = 500
    /// Clean pairs for the cleanup finetunes (generated apart from the pretraining set).
    public var cleanPairs = 1000
    public var pretrainEpochs = 12
    public var pretrainLR: Float = 1e-3
    public var finetuneEpochs = 6
    public var finetuneLR: Float = 2e-4
    public var batchSize = 64
    /// lambda2 of CleanCLIP (lambda1 = 1).
    public var inmodalWeight: Float = 1
    /// Side of the BadNet patch on the generated images.
    public var patchSize = 4

    public init() {}

    /// A smaller run for smoke tests (well under two minutes).
    public static var quick: DemoConfig {
        var c = DemoConfig()
        c.trainPairs = 1200
        c.testImages = 200
        c.cleanPairs = 320
        c.pretrainEpochs = 4
        c.finetuneEpochs = 2
        c.batchSize = 64
        c.poisonFraction = 0.02
        return c
    }
}

/// CA and ASR of one model.
public struct StageResult: Sendable, Codable, Equatable {
    public var cleanAccuracy: Double
    public var asr: Double
    public var top5Accuracy: Double

    enum CodingKeys: String, CodingKey {
        case cleanAccuracy = "clean_accuracy", asr, top5Accuracy = "top5_accuracy"
    }
}

/// One epoch of a training stage, for the report's curves.
public struct EpochRecord: Sendable, Codable, Equatable {
    public var epoch: Int
    public var loss: Double
    public var cleanAccuracy: Double
    public var asr: Double

    enum CodingKeys: String, CodingKey { case epoch, loss, cleanAccuracy = "clean_accuracy", asr }
}

/// What the demo found.
public struct DemoResults: Sendable, Codable {
    public var poisoned: StageResult
    public var mmcl: StageResult
    public var cleanclip: StageResult
    public var config: DemoConfig
    public var seed: UInt64
    public var poisonedPairs: Int
    public var pretrainCurve: [EpochRecord]
    public var mmclCurve: [EpochRecord]
    public var cleanclipCurve: [EpochRecord]
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case poisoned, mmcl, cleanclip, config, seed, seconds
        case poisonedPairs = "poisoned_pairs", pretrainCurve = "pretrain_curve"
        case mmclCurve = "mmcl_curve", cleanclipCurve = "cleanclip_curve"
    }
}
