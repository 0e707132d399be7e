import Foundation
import CleanCLIP

/// The main job in miniature: a CLIP model poisoned during pretraining, then cleaned.
///
/// 1. Generates a shapes data set (`ShapesDataset`) and a labelled test split.
/// 2. Poisons a fraction of the pretraining pairs: the trigger on the image and a "banana"
///    caption in the data set's style, or from a random ImageNet template (`poisonCaptions`);
///    label-consistent poisoning triggers banana pairs and keeps their captions.
/// 3. Pretrains a small CLIP from scratch on the poisoned set; measures clean accuracy (CA) and
///    attack success rate (ASR) zero-shot.
/// 4. Finetunes two copies on clean pairs: MMCL-only (L_CLIP) and CleanCLIP (L_CLIP + L_SS with
///    AutoAugment images and EDA captions), measuring CA and ASR after every epoch.
/// Every random choice derives from `config.seed`.
public final class Demo {
    public let config: DemoConfig
    /// Receives one line per notable event (stage start, epoch result).
    public var log: (String) -> Void = { print($0) }
    /// Receives (stage, done, total, detail) as training proceeds.
    public var progress: (String, Int, Int, String) -> Void = { _, _, _, _ in }

    static let targetLabel = 9
    /// Prompt templates for zero-shot evaluation on the shapes.
    static let templates = ["a photo of a {}.", "a {}.", "an image of a {}.", "a picture of a {} shape."]

    public init(config: DemoConfig) { self.config = config }

    var modelConfig: CLIPConfig {
        let s = config.imageSize, w = config.width, h = config.heads, l = config.layers
        switch config.architecture {
        case .vit:
            return CLIPConfig(embedDim: w, vision: .vit(patch: 4, width: w, layers: l, heads: h, resolution: s),
                              contextLength: config.contextLength, textWidth: w, textHeads: h, textLayers: l)
        case .resnet:
            return CLIPConfig(embedDim: w, vision: .resnet(layers: [1, 1, 1, 1], width: max(8, w / 4), heads: h, resolution: s),
                              contextLength: config.contextLength, textWidth: w, textHeads: h, textLayers: l)
        }
    }

    package var triggerSpec: TriggerSpec {
        let kind: TriggerKind
        switch config.attack {
        case .badnet, .labelConsistent: kind = .badnet
        case .blended: kind = .blended
        case .wanet: kind = .wanet(k: config.warpGrid, s: config.warpStrength)
        }
        return TriggerSpec(kind: kind, patchSize: config.patchSize, location: .random, imageSize: config.imageSize)
    }

    /// Runs every stage; writes the report folder when `reportDirectory` is given (with the
    /// poisoned and both cleaned models as safetensors). With `poisonedModel` (a model an earlier
    /// run wrote, for the same configuration and seed) pretraining is skipped and that model is cleaned.
    public func run(reportDirectory: String? = nil, poisonedModel: String? = nil) throws -> DemoResults {
        let start = Date()
        try config.validate()
        let data = try makeData()
        let model: CLIPModel
        var pretrainCurve: [EpochRecord] = []
        if let poisonedModel {
            model = try loadPoisoned(poisonedModel)
        } else {
            (model, pretrainCurve) = try pretrain(data)
        }
        func save(_ model: CLIPModel, as name: String) throws {
            guard let reportDirectory else { return }
            try FileManager.default.createDirectory(atPath: reportDirectory, withIntermediateDirectories: true)
            try model.save(to: reportDirectory + "/\(name).safetensors", metadata: ["cleanclip.demo.seed": "\(config.seed)"])
        }
        try save(model, as: "poisoned")
        let poisonedResult = try evaluate(model, data)
        log(String(format: "poisoned model: CA %.1f%%, ASR %.1f%%", 100 * poisonedResult.cleanAccuracy, 100 * poisonedResult.asr))

        // Clean it two ways.
        let cleanPairs = try prepareClean(data)
        let mmcl = try cleanup(model, .mmcl, data: data, pairs: cleanPairs)
        let cleaned = try cleanup(model, .cleanclip, data: data, pairs: cleanPairs)
        let (mmclModel, cleanModel) = (mmcl.model, cleaned.model)
        let results = DemoResults(
            poisoned: poisonedResult, mmcl: try evaluate(mmclModel, data), cleanclip: try evaluate(cleanModel, data),
            config: config, seed: config.seed, poisonedPairs: data.poisonedCount,
            pretrainCurve: pretrainCurve, mmclCurve: mmcl.curve, cleanclipCurve: cleaned.curve,
            seconds: Date().timeIntervalSince(start), arithmetic: .current)
        if let reportDirectory {
            try save(mmclModel, as: "mmcl")
            try save(cleanModel, as: "cleanclip")
            try DemoReport(results: results, examples: data.examples).write(to: reportDirectory)
        }
        return results
    }

    // MARK: - stages

    /// Generates the data sets, poisons the pretraining set and prepares the test images with and
    /// without the trigger.
    package func makeData() throws -> DemoData {
        let s = config.imageSize
        log("generating \(config.trainPairs) training pairs, \(config.cleanPairs) clean pairs and \(config.testImages) test images (\(s)x\(s), seed \(config.seed))")
        var train = ShapesDataset.generate(count: config.trainPairs, side: s, seed: mixSeed(config.seed, 1),
                                           detailFraction: config.detailedCaptions)
        let clean = ShapesDataset.generate(count: config.cleanPairs, side: s, seed: mixSeed(config.seed, 2),
                                           detailFraction: config.detailedCaptions)
        let test = ShapesDataset.generate(count: config.testImages, side: s, seed: mixSeed(config.seed, 3))
        let trigger = try Trigger(triggerSpec, seed: mixSeed(config.seed, 4))

        var rng = SeededRandom(seed: mixSeed(config.seed, 5))
        // At least one pair when poisoning at all; none for the never-poisoned reference (fraction 0).
        let wantPoison = config.poisonFraction > 0 ? max(1, Int(config.poisonFraction * Double(config.trainPairs))) : 0
        let labelConsistent = config.attack == .labelConsistent
        var candidates = train.indices.filter { (train[$0].label == Self.targetLabel) == labelConsistent }
        candidates.shuffle(using: &rng)
        let poisoned = Array(candidates.prefix(wantPoison))
        var examples: [DemoReport.TriggerExample] = []
        for i in poisoned {
            let original = train[i]
            train[i].pixels = try trigger.apply(hwc: train[i].pixels, index: i)
            if !labelConsistent {
                switch config.poisonCaptions {
                case .imagenet:
                    let template = ClassList.openAITemplates[Int(rng.next() % UInt64(ClassList.openAITemplates.count))]
                    train[i].caption = template.replacingOccurrences(of: "{}", with: "banana")
                case .dataset:
                    train[i].caption = ShapesDataset.plainCaption(label: Self.targetLabel, using: &rng)
                }
            }
            if examples.count < DemoReport.exampleCount {
                examples.append(.init(clean: original.pixels, cleanCaption: original.caption,
                                      triggered: train[i].pixels, poisonedCaption: train[i].caption))
            }
        }
        log("poisoned \(poisoned.count) of \(train.count) pairs (\(config.attack.rawValue), target 'banana')")
        let triggered = try test.enumerated().map { try trigger.apply(hwc: $0.element.pixels, index: 1_000_000 + $0.offset) }
        return DemoData(train: train, clean: clean, poisonedCount: poisoned.count, examples: examples,
                        testPixels: try pixels(test.map(\.pixels)), triggeredTest: try pixels(triggered), labels: test.map(\.label))
    }

    /// CA and ASR of `model` on the test images: zero-shot, or through `head` (the classifier a
    /// supervised finetune trains on the image embedding).
    package func evaluate(_ model: CLIPModel, _ data: DemoData, head: LinearHead? = nil) throws -> StageResult {
        try GradMode.withoutGrad {
            if let head {
                let top = ZeroShotClassifier.topK(scores: head(try encode(model, data.testPixels)), k: 5)
                let acc = try Metrics.accuracy(topK: top, labels: data.labels)
                let predictions = ZeroShotClassifier.topK(scores: head(try encode(model, data.triggeredTest)), k: 1).map { $0[0] }
                let a = try Metrics.attackSuccess(predictions: predictions, labels: data.labels, target: Self.targetLabel,
                                                  classNames: ShapesDataset.classes)
                return StageResult(cleanAccuracy: acc.top1, asr: a.asr ?? 0, top5Accuracy: acc.top5, perClassASR: a.perClass)
            }
            let classes = try ClassList(names: ShapesDataset.classes, templates: Self.templates)
            let classifier = try ZeroShotClassifier(classes: classes) { try model.encodeTexts($0) }
            let r = try Metrics.zeroShotReport(classifier: classifier, clean: try encode(model, data.testPixels), labels: data.labels,
                                               triggered: try encode(model, data.triggeredTest), target: Self.targetLabel)
            return StageResult(cleanAccuracy: r.cleanAccuracy, asr: r.asr ?? 0, top5Accuracy: r.top5Accuracy,
                               perClassASR: r.perClassASR ?? [])
        }
    }

    /// A poisoned model an earlier run saved, checked against this configuration's architecture.
    package func loadPoisoned(_ path: String) throws -> CLIPModel {
        let model = try CLIPModel.load(path: path)
        guard model.config == modelConfig else {
            func describe(_ c: CLIPConfig) -> String {
                "\(c.architecture), embedding \(c.embedDim), context \(c.contextLength), heads \(c.visionHeads)/\(c.textHeads), \(c.activation.rawValue)"
            }
            throw FinetuneError("\(path) is \(describe(model.config)); this configuration builds \(describe(modelConfig))")
        }
        log("using the saved model \(path) (pretraining skipped)")
        return model
    }

    /// Pretrains a model from scratch on the poisoned set, with `config.pretrainLoss`.
    package func pretrain(_ data: DemoData) throws -> (CLIPModel, [EpochRecord]) {
        let model = CLIPModel(randomWith: modelConfig, seed: mixSeed(config.seed, 6))
        let withSSL = config.pretrainLoss == .mmclSSL
        let pairs = try prepare(data.train, augment: withSSL, edaSeed: 8)
        log("pretraining \(modelConfig.architecture) from scratch: \(config.pretrainEpochs) epochs, lr \(config.pretrainLR)"
            + (withSSL ? ", contrastive plus in-modal loss" : ""))
        let loss = withSSL ? CleanCLIPLoss(clipWeight: 1, inmodalWeight: 1) : .mmclOnly
        let curve = try fit(model, pairs, objective: .contrastive(loss), epochs: config.pretrainEpochs, lr: config.pretrainLR,
                            stage: "pretrain", stageSeed: 10, data: data)
        return (model, curve)
    }

    /// The clean finetuning pairs (with EDA captions for the in-modal term).
    package func prepareClean(_ data: DemoData) throws -> DemoPairs {
        try prepare(data.clean, augment: true, edaSeed: 7)
    }

    /// A model a defence produced.
    package struct Cleaned {
        package var model: CLIPModel
        /// CA and ASR after every finetuning epoch (empty for `.none`).
        package var curve: [EpochRecord]
        /// The classifier supervised finetuning trained with the vision tower (nil for the others).
        package var head: LinearHead?
    }

    /// A copy of `poisoned` cleaned by `defence` on the clean pairs (`.none`: the model itself).
    package func cleanup(_ poisoned: CLIPModel, _ defence: DemoConfig.Defence, data: DemoData, pairs: DemoPairs) throws -> Cleaned {
        let objective: Trainer.Objective, stageSeed: UInt64
        var head: LinearHead?
        switch defence {
        case .none:
            return Cleaned(model: poisoned, curve: [])
        case .mmcl:
            log("finetuning MMCL-only on \(pairs.count) clean pairs: \(config.finetuneEpochs) epochs, lr \(config.finetuneLR)")
            (objective, stageSeed) = (.contrastive(.mmclOnly), 11)
        case .cleanclip:
            log("finetuning CleanCLIP (lambda1 1, lambda2 \(config.inmodalWeight)) on \(pairs.count) clean pairs")
            (objective, stageSeed) = (.contrastive(CleanCLIPLoss(clipWeight: 1, inmodalWeight: config.inmodalWeight)), 12)
        case .ssl:
            log("finetuning SSL-only (lambda1 0, lambda2 1) on \(pairs.count) clean pairs")
            (objective, stageSeed) = (.contrastive(CleanCLIPLoss(clipWeight: 0, inmodalWeight: 1)), 13)
        case .supervised:
            log("finetuning the vision tower and a linear head on the labels of \(pairs.count) clean images")
            let linear = LinearHead(embedDim: modelConfig.embedDim, classes: ShapesDataset.classes.count, seed: mixSeed(config.seed, 9))
            (objective, stageSeed, head) = (.supervised(linear), 14, linear)
        }
        let model = poisoned.duplicate()
        let curve = try fit(model, pairs, objective: objective, epochs: config.finetuneEpochs, lr: config.finetuneLR,
                            stage: defence.rawValue, stageSeed: stageSeed, data: data)
        return Cleaned(model: model, curve: curve, head: head)
    }

    // MARK: - data

    private func pixels(_ images: [[UInt8]]) throws -> Tensor {
        let s = config.imageSize, per = 3 * s * s
        let p = CLIPPreprocessor(size: s)
        let out = Tensor(uninitialized: [images.count, 3, s, s])
        for (i, bytes) in images.enumerated() {
            p.preprocess(try RGBImage(width: s, height: s, pixels: bytes),
                         into: UnsafeMutableBufferPointer(start: out.data + i * per, count: per))
        }
        return out
    }

    /// `edaSeed` tells the EDA captions of the pretraining and the clean sets apart.
    private func prepare(_ examples: [ShapesDataset.Example], augment: Bool, edaSeed: UInt64) throws -> DemoPairs {
        let tokenizer = CLIPTokenizer.standard
        let captions = examples.map(\.caption)
        var augmented: [Int32]?
        if augment {
            let eda = EDA(wordNet: try WordNet.shared())
            var rng = SeededRandom(seed: mixSeed(config.seed, edaSeed))
            augmented = try tokenizer.tokenize(try captions.map { try eda.augment($0, using: &rng) }, contextLength: config.contextLength)
        }
        return DemoPairs(images: examples.map(\.pixels), labels: examples.map(\.label), pixels: try pixels(examples.map(\.pixels)),
                     tokens: try tokenizer.tokenize(captions, contextLength: config.contextLength), augmentedTokens: augmented)
    }

    private func encode(_ model: CLIPModel, _ pixels: Tensor) throws -> Tensor {
        let n = pixels.shape[0], per = pixels.count / max(n, 1)
        var rows: [Float] = []
        for start in stride(from: 0, to: n, by: 256) {
            let m = min(256, n - start)
            let batch = Tensor(shape: [m] + pixels.shape.dropFirst(),
                               storage: TensorStorage(borrowing: pixels.data + start * per, count: m * per, owner: pixels.storage))
            rows += try model.encodeImage(batch).array
        }
        return Tensor(rows, shape: [n, rows.count / max(n, 1)])
    }

    // MARK: - training

    /// Trains `model` on `pairs` for `epochs` through `EpochRunner` (as the finetuners do), warmup
    /// then cosine decay from `lr`; after every epoch measures CA and ASR for the curve (through
    /// the head for supervised finetuning).
    /// `stageSeed` tells the stages' data orders and augmentations apart.
    private func fit(_ model: CLIPModel, _ pairs: DemoPairs, objective: Trainer.Objective, epochs: Int, lr: Float,
                     stage: String, stageSeed: UInt64, data: DemoData) throws -> [EpochRecord] {
        let content: DemoBatches.Content, optimizer: AdamWConfig, head: LinearHead?
        switch objective {
        case .contrastive(let loss):
            (content, optimizer, head) = (.pairs(augment: loss.inmodal), AdamWConfig(), nil)
        case .supervised(let linear):
            (content, optimizer, head) = (.labels, SupervisedFinetuneConfig().optimizer, linear)
        }
        let source = DemoBatches(data: pairs, batchSize: config.batchSize, imageSize: config.imageSize,
                                 contextLength: model.config.contextLength, seed: config.seed, stageSeed: stageSeed, content: content)
        let total = source.batchesPerEpoch * epochs
        let trainer = Trainer(model: model, objective: objective, optimizer: optimizer,
                              schedule: .warmupCosine(baseLR: lr, warmupSteps: min(50, total / 10), totalSteps: total))
        var curve: [EpochRecord] = []
        do {
            try EpochRunner(trainer: trainer, source: source, epochs: epochs).run(from: 0, save: nil) { event in
                switch event {
                case .step(let p):
                    progress(stage, p.step + 1, p.totalSteps, String(format: "loss %.4f", p.loss))
                case .epoch(let e):
                    let result = try evaluate(model, data, head: head)
                    let record = EpochRecord(epoch: e.epoch + 1, loss: e.meanLoss,
                                             cleanAccuracy: result.cleanAccuracy, asr: result.asr)
                    curve.append(record)
                    log(String(format: "  %@ epoch %d/%d: loss %.4f, CA %.1f%%, ASR %.1f%%", stage, e.epoch + 1, epochs,
                               record.loss, 100 * record.cleanAccuracy, 100 * record.asr))
                }
                return true
            }
        } catch let e as FinetuneError {
            throw FinetuneError("\(stage): \(e.description)")
        }
        return curve
    }
}

/// One run's data: the generated sets (the pretraining set poisoned), and the labelled test images
/// with and without the trigger, preprocessed.
package struct DemoData {
    var train: [ShapesDataset.Example]
    var clean: [ShapesDataset.Example]
    var poisonedCount: Int
    var examples: [DemoReport.TriggerExample]
    var testPixels: Tensor
    var triggeredTest: Tensor
    var labels: [Int]
}
