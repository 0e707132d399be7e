import Foundation
import CleanCLIP

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

    /// The cleanups the demo can run on a poisoned model (and `none`, the poisoned model itself).
    public enum Defence: String, Sendable, Codable, CaseIterable {
        case none
        /// Contrastive finetuning alone (L_CLIP).
        case mmcl
        /// The in-modal term alone (lambda1 = 0): the ablation of CleanCLIP's loss.
        case ssl
        /// L_CLIP + lambda2 L_SS.
        case cleanclip
        /// The vision tower and a linear head trained with cross-entropy on the clean images' labels
        /// (the text tower is untouched, so zero-shot evaluation still reads it).
        case supervised

        /// The name in tables.
        public var title: String {
            switch self {
            case .none: "no defence"
            case .mmcl: "MMCL-only"
            case .ssl: "SSL-only"
            case .cleanclip: "CleanCLIP"
            case .supervised: "supervised"
            }
        }
    }

    /// The loss the poisoned model is pretrained with.
    public enum PretrainLoss: String, Sendable, Codable, CaseIterable {
        /// Contrastive only, as CLIP and the paper's poisoned models.
        case mmcl
        /// Contrastive plus CleanCLIP's in-modal term from the start (lambda1 = lambda2 = 1): the
        /// setting in which Verma et al. (arXiv 2311.14948) find CleanCLIP fails to clean.
        case mmclSSL = "mmcl+ssl"
    }

    public var seed: UInt64 = 1
    /// ResNet by default: the paper's main model is RN50, and a tiny ViT from scratch does not learn
    /// shapes in the demo's budget (zero-shot CA stays at chance), while the ResNet does.
    public var architecture: Architecture = .resnet
    public var attack: Attack = .badnet
    public var poisonCaptions: PoisonCaptions = .dataset
    public var pretrainLoss: PretrainLoss = .mmcl
    /// Image side of the generated data set and of the model.
    public var imageSize = 32
    /// Pairs in the (poisoned) pretraining set. Large enough that 8 epochs do not memorise it: with
    /// 4000 pairs x 32 epochs (the same number of steps) the model fitted its training pairs (loss 0.4
    /// against 2.2 on fresh pairs), which made even MMCL-only finetuning on fresh pairs a large
    /// disruption, unlike the paper's setting where finetuning pairs are in-distribution.
    public var trainPairs = 16000
    /// Fraction of pretraining pairs that carry the trigger and a "banana" caption. ASR follows the
    /// number of poisoned pairs the model sees: the paper's 1,500 pairs x 64 epochs is ~96,000
    /// exposures, while the demo's whole budget is ~128,000 samples. Seed 2, 16,000 pairs, 8 epochs:
    /// 1% gave ASR 26%, 2% gave 63%, 5% gave 95% (a saturated backdoor, as in the paper).
    public var poisonFraction = 0.05
    /// Fraction of captions that mention colour, size or background besides the shape. With every
    /// caption detailed, the contrastive task is solved by colour and position and zero-shot shape
    /// accuracy fell to 37% (seed 2), so most captions name only the shape, like most web captions.
    public var detailedCaptions: Float = ShapesDataset.defaultDetailFraction
    /// Labelled test images (ten classes).
    public var testImages = 500
    /// Clean pairs for the cleanup finetunes (generated apart from the pretraining set). Fresh clean
    /// data on the scale of the pretraining set is retraining, not cleanup: 20,000 pairs x 12 epochs
    /// at lr 5e-4 (as many steps as 5,000 x 48) took MMCL-only down to 18.3 / 12.6% ASR on seeds 1 and 2
    /// (CleanCLIP 14.1 / 15.1%), where the paper's MMCL-only keeps the backdoor.
    public var cleanPairs = 5000
    /// Epochs of pretraining. 8 keeps the default demo under 5 minutes on 2 cores, but leaves the
    /// model short of converged (CA 73-89% on seeds 1-3), and clean finetuning then goes on
    /// training it: MMCL-only forgets part of the backdoor (ASR 62-86%), unlike the paper's. With 24
    /// epochs (`--pretrain-epochs 24`) CA is 97-99.6%, MMCL-only keeps 90-96% ASR, as in the paper,
    /// and CleanCLIP (24 finetune epochs at lr 5e-4) leaves 13-20% (README, "Longer pretraining").
    public var pretrainEpochs = 8
    public var pretrainLR: Float = 2e-3
    /// Epochs of each cleanup finetune. CleanCLIP's ASR keeps falling with more finetune steps
    /// (seed 2, lr 3e-4, CleanCLIP ASR / MMCL-only ASR from 94.6% poisoned): 1500 pairs x 8 epochs
    /// 64.9 / 87.8; 3000 x 10: 55.6 / 74.3; 4000 x 12: 47.1 / 65.1; 5000 x 12: 44.1 / 56.5 (the
    /// default; about 940 steps of each finetune). The paper runs ~15,600 steps. On seeds 1-3 (table
    /// models, lr 5e-4, `--threads 1`) 24 epochs gave 16.7 / 38.3 / 19.5 and 48 epochs 13.2 / 29.5 / 12.4,
    /// with seed 2 stalled near 30% from epoch 24 on; 48 would make every finetune 4x as long.
    public var finetuneEpochs = 12
    /// Peak lr of the cleanup finetunes: 30x the paper's 1e-5, which is for ~15,600 steps; the demo
    /// has ~750. Seed 2 (3000 pairs x 10 epochs): 3e-4 gave CleanCLIP 69.2/55.6 (CA/ASR) against
    /// MMCL-only ASR 74.3; 5e-4 gave 71.2/48.6 against 59.2 (MMCL-only forgets more too); 1e-3
    /// (1500 x 8) cost CleanCLIP 6 points of CA.
    public var finetuneLR: Float = 3e-4
    public var batchSize = 64
    /// lambda2 of CleanCLIP (lambda1 = 1), the paper's default. The paper's sweep (0.5..8) shows larger
    /// lambda2 lowering ASR. On the default 8-epoch pretraining (seed 2) lambda2 2 and 4 cost 9-14 points
    /// of CA and did not lower ASR; on models pretrained for 24 epochs, lambda2 2 (24 finetune epochs,
    /// lr 5e-4) took CleanCLIP's BadNet ASR from 17.9 / 20.0 / 13.3% to 15.0 / 11.5 / 7.8% on seeds 1-3
    /// at 1.4-2.4 points of CA, but left held-out seed 15 at 24.1%; lambda2 3 gave 15.0 / 8.3 / 6.2 and
    /// 10.6% (seed 15) at 1.8-3.0 points of CA (held-out seeds 11-14: 8.9 / 7.2 / 16.0 / 8.3%, seed 13
    /// at 3.4 points of CA), lambda2 4 11.2 / 10.6 / 6.7 and 6.8% at 1.8-3.4 (README, "Longer
    /// pretraining"; lambda2 3 was chosen with seed 15 in view). On the other attacks lambda2 3 lowers
    /// WaNet (40.6 -> 34.0%), leaves Blended and label-consistent as they were, and takes two runs
    /// past 3 points of lost CA (Blended seed 2, label-consistent seed 3).
    public var inmodalWeight: Float = 1
    /// Side of the BadNet patch on the generated images (8 of 32 = 25% of the side; the paper's
    /// 16 of 224 is 7%: at 32 px a 4-pixel patch is learned too slowly for the demo's budget, and a
    /// 6-pixel one planted 67.6% on seed 2 (`--patch-size 6 --threads 1`) where 8 pixels plant 94.1%).
    /// The patch hides part of a shape, so even a never-poisoned model reads 7-14% of triggered
    /// images as banana (seeds 1-3, the first row of `demo --table --short`; 4.5-8.3% after the 24 epochs
    /// of `--long`): the floor of BadNet's ASR.
    public var patchSize = 8
    /// WaNet's warp for the miniature: noise grid k = 16, strength s = 8. A pixel moves by about
    /// s / 2 pixels whatever the image size, so the settings made for 224-pixel photos (WaNet's
    /// k = 4, s = 0.5; CleanCLIP's k = 224, s = 1) barely change a 32-pixel shape, and a smooth
    /// k = 4 warp mostly shifts a small shape, which the data set's random positions already do.
    /// Poisoned ASR after pretraining, seed 1 (`demo --attack wanet --warp-grid k --warp-strength s
    /// --threads 1`; (4, 0.5) from the 2-thread table) for (k, s): (4, 0.5) 0.4%, (4, 2) 8.5% at epoch 7,
    /// (4, 4) 45.5%, (4, 8) 70.5%, (8, 4) 63.8%, (16, 4) 80.8%, (16, 6) 94.4%, (16, 8) 98.0%,
    /// (32, 1) 0.2%, (32, 2) 38.2%. The warp is visible at this size, as any warp a model this small
    /// learns from 800 pairs would be. Pretrained for 24 epochs (README, "Longer pretraining"),
    /// (16, 4) is planted at 94-97% and CleanCLIP leaves 12.5% of it (seeds 1-3; held-out seeds
    /// 11-15: 16.5%, 8.2-23.1%), where (16, 8) leaves 40.6%: `DemoConfig.long` uses s = 4.
    public var warpStrength: Float = 8
    /// Side k of WaNet's random noise grid, upsampled to the image: the warp's smoothness.
    public var warpGrid = 16
    /// Width of both towers (ViT width / text width; the ResNet stem is width / 4) and of the embedding.
    public var width = 64
    /// Transformer layers in each tower (the ViT and the text tower).
    public var layers = 3
    /// Attention heads in each transformer.
    public var heads = 4
    /// Text context length (the demo's captions are short; CLIP's 77 would waste the text tower's time).
    public var contextLength = 32

    public init() {}

    /// snake_case keys, like every JSON file the demo writes.
    enum CodingKeys: String, CodingKey {
        case seed, architecture, attack, poisonCaptions = "poison_captions", pretrainLoss = "pretrain_loss", imageSize = "image_size"
        case trainPairs = "train_pairs", poisonFraction = "poison_fraction", detailedCaptions = "detailed_captions"
        case testImages = "test_images", cleanPairs = "clean_pairs", pretrainEpochs = "pretrain_epochs"
        case pretrainLR = "pretrain_lr", finetuneEpochs = "finetune_epochs", finetuneLR = "finetune_lr"
        case batchSize = "batch_size", inmodalWeight = "inmodal_weight", patchSize = "patch_size", warpStrength = "warp_strength"
        case warpGrid = "warp_grid"
        case width, layers, heads, contextLength = "context_length"
    }

    /// Checks every setting against the range the demo can run with (each far beyond the
    /// defaults, and small enough that sizes computed from them cannot overflow); the message
    /// names the setting and its value.
    public func validate() throws {
        func check<T: Comparable>(_ value: T, _ name: String, _ range: ClosedRange<T>) throws {
            guard range.contains(value) else {  // NaN is in no range
                throw FinetuneError("demo: \(name) must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
            }
        }
        try check(imageSize, "image size", 8...512)
        try check(batchSize, "batch size", 2...4096)
        try check(trainPairs, "training pairs", batchSize...1_000_000)
        try check(cleanPairs, "clean pairs", batchSize...1_000_000)
        try check(testImages, "test images", 1...100_000)
        try check(poisonFraction, "poison fraction", 0...1)
        try check(detailedCaptions, "detailed-caption fraction", 0...1)
        try check(pretrainEpochs, "pretraining epochs", 1...10_000)
        try check(finetuneEpochs, "finetuning epochs", 1...10_000)
        try check(pretrainLR, "pretraining learning rate", Float.leastNormalMagnitude...1)
        try check(finetuneLR, "finetuning learning rate", Float.leastNormalMagnitude...1)
        try check(inmodalWeight, "in-modal weight", 0...1000)
        try check(patchSize, "patch size", 1...(imageSize - 1))
        try check(warpStrength, "warp strength", 0...Float(imageSize))
        try check(warpGrid, "warp grid", 2...imageSize)
        try check(heads, "heads", 1...64)
        try check(width, "width", heads...4096)
        try check(layers, "layers", 1...64)
        try check(contextLength, "context length", 2...77)
        guard width % heads == 0 else { throw FinetuneError("demo: width \(width) is not a multiple of the \(heads) heads") }
        switch architecture {
        case .resnet:
            guard imageSize % 32 == 0 else { throw FinetuneError("demo: ResNet needs an image size that is a multiple of 32, got \(imageSize)") }
        case .vit:
            guard imageSize % 4 == 0 else { throw FinetuneError("demo: the ViT's 4-pixel patches need an image size that is a multiple of 4, got \(imageSize)") }
        }
    }

    /// A smaller run for smoke tests: about 75 CPU-seconds (seed 1: 38 s on 2 cores). It plants the backdoor
    /// (poisoned ASR 89-97%, with 10% of 4,000 pairs poisoned; the earlier 2% of 1,200 pairs planted
    /// none) and finetuning removes most of it (CleanCLIP ASR 15-44%). At this size it does not show
    /// CleanCLIP beating MMCL-only: pretraining is short (372 steps, CA 21-39%), its backdoor is
    /// fragile, and clean contrastive finetuning alone erases it (MMCL-only ASR 0.4-18%; seed 1 at
    /// finetune lr 3e-4: MMCL-only 2.9%, CleanCLIP 70.6%). The default run shows the difference.
    public static var quick: DemoConfig {
        var c = DemoConfig()
        c.trainPairs = 4000
        c.testImages = 300
        c.cleanPairs = 1280
        c.pretrainEpochs = 6
        c.finetuneEpochs = 5
        c.finetuneLR = 1e-3
        c.poisonFraction = 0.1
        return c
    }

    /// The paper's regime in miniature (`--long`, the default of `demo --table`; README, "Longer
    /// pretraining"): pretraining to convergence (24 epochs: CA 97-99.6%, where 8 leave 73-89%),
    /// then cleanup finetunes of 24 epochs at lr 5e-4 with lambda2 = 2, and WaNet's warp at half
    /// strength (s = 4), which 24-epoch models learn (poisoned 93-97%) and CleanCLIP removes (12.5%
    /// on seeds 1-3), where s = 8 leaves 40.6%. CleanCLIP's ASR on seeds 1-3 / held-out 11-15:
    /// BadNet 11.4 / 14.4%, Blended 3.8 / 3.9%, WaNet 12.5 / 16.5%, with MMCL-only at 78-98% and
    /// 1.4-2.3 points of mean CA lost. A `demo` run takes about 12 minutes of one core, a table run
    /// (five rows) about 15.
    public static var long: DemoConfig {
        var c = DemoConfig()
        c.pretrainEpochs = 24
        c.finetuneEpochs = 24
        c.finetuneLR = 5e-4
        c.inmodalWeight = 2
        c.warpStrength = 4
        return c
    }
}

extension DemoConfig {
    /// These settings with the cleanup finetunes' at their defaults: configurations with the same
    /// `pretraining` poison and pretrain the same model and score it on the same test images.
    public var pretraining: DemoConfig {
        var c = self
        let d = DemoConfig()
        (c.cleanPairs, c.finetuneEpochs, c.finetuneLR, c.inmodalWeight) = (d.cleanPairs, d.finetuneEpochs, d.finetuneLR, d.inmodalWeight)
        return c
    }

    /// These settings with those the attack's trigger does not use at their defaults (WaNet's warp
    /// for the other attacks, the patch size for Blended and WaNet): configurations that differ only
    /// there poison, train and score the same models, and compare equal after this.
    public var withUnusedTriggerDefaults: DemoConfig {
        var c = self
        let d = DemoConfig()
        if attack != .wanet { (c.warpGrid, c.warpStrength) = (d.warpGrid, d.warpStrength) }
        if attack == .blended || attack == .wanet { c.patchSize = d.patchSize }
        return c
    }

    /// The architecture, caption style and pretraining loss as `cleanclip demo` flags, those at
    /// their defaults left out (the seed and the attack, which a table varies, are not here).
    var choiceFlags: String {
        (architecture == .resnet ? "" : " --architecture \(architecture.rawValue)")
            + (poisonCaptions == .dataset ? "" : " --poison-captions \(poisonCaptions.rawValue)")
            + (pretrainLoss == .mmcl ? "" : " --pretrain-loss \(pretrainLoss.rawValue)")
    }

    /// The preset these settings are, the seed, attack and choices aside (a table varies those and
    /// names the choices apart); nil when any other setting moved (then no short command makes them).
    public var preset: Preset? {
        Preset.allCases.first { preset in
            var p = preset.config
            (p.seed, p.attack, p.architecture, p.poisonCaptions, p.pretrainLoss) = (seed, attack, architecture, poisonCaptions, pretrainLoss)
            return self == p
        }
    }

    /// The named settings `cleanclip demo` starts from, one flag each.
    public enum Preset: String, Sendable, CaseIterable {
        /// `--quick`: the smoke run `make test` makes.
        case quick
        /// `--short`: 8 pretraining epochs, then 12 finetune epochs at lr 3e-4, lambda2 = 1; a single
        /// run's default, under 5 minutes on 2 cores.
        case short
        /// `--long`: the paper's regime (`DemoConfig.long`); the default of `demo --table`.
        case long

        public var config: DemoConfig {
            switch self {
            case .quick: .quick
            case .short: DemoConfig()
            case .long: .long
            }
        }

        /// " --long", or "" for the preset `demo` (a single run) or `demo --table` takes by default.
        public func flag(table: Bool) -> String { self == (table ? .long : .short) ? "" : " --" + rawValue }
    }
}

/// What decides a run's float rounding besides its settings and seed: the OpenBLAS kernel and
/// the thread count (`Threads.count`). Runs with the same settings, seed and arithmetic give the
/// same figures, bit for bit; another kernel or thread count moves them a little.
public struct Arithmetic: Sendable, Codable, Hashable {
    public var blasKernel: String
    public var threads: Int

    public init(blasKernel: String, threads: Int) { (self.blasKernel, self.threads) = (blasKernel, threads) }

    /// This process's, as it computes now.
    public static var current: Arithmetic { Arithmetic(blasKernel: BLASBackend.status.kernel, threads: Threads.count) }

    /// "OpenBLAS kernel Cooperlake, 1 thread".
    public var description: String { "OpenBLAS kernel \(blasKernel), \(threads) thread\(threads == 1 ? "" : "s")" }

    enum CodingKeys: String, CodingKey { case blasKernel = "blas_kernel", threads }
}

/// CA and ASR of one model.
public struct StageResult: Sendable, Codable, Equatable {
    public var cleanAccuracy: Double
    public var asr: Double
    public var top5Accuracy: Double
    /// ASR per true class of the triggered test images (the target class left out), in label order.
    public var perClassASR: [ClassASR]

    enum CodingKeys: String, CodingKey {
        case cleanAccuracy = "clean_accuracy", asr, top5Accuracy = "top5_accuracy", perClassASR = "per_class_asr"
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
    /// The kernel and thread count the run computed with.
    public var arithmetic: Arithmetic

    enum CodingKeys: String, CodingKey {
        case poisoned, mmcl, cleanclip, config, seed, seconds, arithmetic
        case poisonedPairs = "poisoned_pairs", pretrainCurve = "pretrain_curve"
        case mmclCurve = "mmcl_curve", cleanclipCurve = "cleanclip_curve"
    }
}
