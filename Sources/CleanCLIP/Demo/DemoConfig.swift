import Foundation

/// Everything the demo does, configurable; the defaults run in a few minutes on 2 cores.
public struct DemoConfig: Sendable, Codable, Equatable {
    public enum Architecture: String, Sendable, Codable, CaseIterable { case vit, resnet }
    public enum Attack: String, Sendable, Codable, CaseIterable {
        case badnet, blended, wanet
        case labelConsistent = "label-consistent"
    }

    /// How a dirty-label poisoned pair's caption names the target.
    public enum PoisonCaptions: String, Sendable, Codable, CaseIterable {
        /// In the data set's own caption style ("a photo of a banana.", "a ripe banana shape", ...).
        case dataset
        /// A random one of the 80 ImageNet templates, as in the paper's CC3M experiments. Most of
        /// their words never occur in the shapes captions, so the demo's text tower cannot read them.
        case imagenet
    }

    public var seed: UInt64 = 1
    /// ResNet by default: the paper's main model is RN50, and a tiny ViT from scratch does not learn
    /// shapes in the demo's budget (zero-shot CA stays at chance), while the ResNet does.
    public var architecture: Architecture = .resnet
    public var attack: Attack = .badnet
    public var poisonCaptions: PoisonCaptions = .dataset
    /// Image side of the generated data set and of the model.
    public var imageSize = 32
    /// Pairs in the (poisoned) pretraining set.
    public var trainPairs = 4000
    /// Fraction of pretraining pairs that carry the trigger and a "banana" caption. 1% (40 pairs)
    /// with a 4-pixel patch left ASR near 15% after 16 epochs; 2% with an 8-pixel patch and 24+
    /// epochs is what this small model needs to learn the trigger (see the demo notes).
    public var poisonFraction = 0.02
    /// Fraction of captions that mention colour, size or background besides the shape.
    public var detailedCaptions: Float = ShapesDataset.defaultDetailFraction
    /// Labelled test images (ten classes).
    public var testImages = 500
    /// Clean pairs for the cleanup finetunes (generated apart from the pretraining set).
    public var cleanPairs = 1500
    public var pretrainEpochs = 32
    public var pretrainLR: Float = 2e-3
    public var finetuneEpochs = 8
    /// Peak lr of the cleanup finetunes: 30x the paper's 1e-5, which is for ~15,600 steps (100K pairs x
    /// 10 epochs); the demo has ~190. Same pretrained models, seeds 1/2/3, CleanCLIP CA / ASR vs MMCL ASR:
    /// 1e-4: 77.0/58.3 vs 70.8, 57.6/43.5 vs 47.3, 64.8/42.7 vs 52.3;
    /// 3e-4: 81.0/46.9 vs 66.5, 61.0/35.6 vs 40.1, 68.2/36.0 vs 48.9 (better CA, ASR and gap on every seed);
    /// 1e-3: 81.4/35.7 vs 58.7, 60.6/28.8 vs 29.7, 71.2/31.9 vs 41.5 (MMCL-only forgets the backdoor too).
    public var finetuneLR: Float = 3e-4
    public var batchSize = 64
    /// lambda2 of CleanCLIP (lambda1 = 1), the paper's default. The paper's sweep (0.5..8) shows larger
    /// lambda2 lowering ASR; in the demo (seed 2) lambda2 4 was worse than 1 on both CA and ASR.
    public var inmodalWeight: Float = 1
    /// Side of the BadNet patch on the generated images (8 of 32 = 25% of the side; the paper's
    /// 16 of 224 is 7%: at 32 px a 4-pixel patch is learned too slowly for the demo's budget).
    public var patchSize = 8
    /// Width of both towers (ViT width / text width; the ResNet stem is width / 4) and of the embedding.
    public var width = 64
    /// Transformer layers in each tower (the ViT and the text tower).
    public var layers = 3
    /// Attention heads in each transformer.
    public var heads = 4
    /// Text context length (the demo's captions are short; CLIP's 77 would waste the text tower's time).
    public var contextLength = 32

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
