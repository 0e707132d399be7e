import CleanCLIP
import Foundation
import Testing

@Suite struct FinetuneTests {
    /// A small ViT CLIP learns to match 256 random images with 256 random captions: the mean
    /// CleanCLIP loss over each pass through the data falls steadily.
    @Test func finetuneLowersTheLoss() throws {
        let config = CLIPConfig(embedDim: 16, vision: .vit(patch: 8, width: 32, layers: 1, heads: 2, resolution: 16),
                                contextLength: 8, vocabSize: 64, textWidth: 32, textHeads: 2, textLayers: 1)
        let model = CLIPModel(randomWith: config, seed: 3)
        var rng = SeededRandom(seed: 11)
        let pairs = 256, batch = 32, ctx = 8
        let images = Tensor.randomNormal([pairs, 3, 16, 16], std: 1, using: &rng)
        var captions: [Int32] = []
        for _ in 0..<pairs {
            let n = 2 + Int(rng.next() % 4)
            var row = [Int32](repeating: 0, count: ctx)
            row[0] = 62
            for j in 1...n { row[j] = Int32(1 + rng.next() % 60) }
            row[n + 1] = 63  // end of text: the largest id
            captions += row
        }
        // Augmented views: a little pixel noise; captions with one token changed.
        let noise = Tensor.randomNormal(images.shape, std: 0.1, using: &rng)
        let augImages = images + noise
        var augCaptions = captions
        for i in 0..<pairs { augCaptions[i * ctx + 1] = Int32(1 + rng.next() % 60) }

        let epochs = 6, perEpoch = pairs / batch
        let trainer = Trainer(model: model, loss: .cleanCLIP, optimizer: AdamWConfig(),
                              schedule: .warmupCosine(baseLR: 2e-3, warmupSteps: 4, totalSteps: epochs * perEpoch))
        var means: [Float] = []
        for _ in 0..<epochs {
            var total: Float = 0
            for b in 0..<perEpoch {
                let range = (b * batch)..<((b + 1) * batch)
                let texts = Array(captions[(range.lowerBound * ctx)..<(range.upperBound * ctx)])
                let augTexts = Array(augCaptions[(range.lowerBound * ctx)..<(range.upperBound * ctx)])
                let r = GradMode.withoutGrad { () -> (Tensor, Tensor) in
                    (images.slice(rows: range), augImages.slice(rows: range))
                }
                let result = try trainer.step(images: r.0, tokens: texts, augmentedImages: r.1, augmentedTokens: augTexts)
                #expect(result.loss.isFinite)
                total += result.loss
            }
            means.append(total / Float(perEpoch))
        }
        print("[finetune] mean loss per epoch: \(means.map { String(format: "%.3f", $0) })")
        for e in 1..<epochs { #expect(means[e] < means[e - 1], "epoch \(e) mean loss \(means[e]) did not fall below \(means[e - 1])") }
        #expect(means.last! < 0.5 * means.first!)
        let s = model.logitScale.scalar
        #expect(s >= 0 && s <= Trainer.maxLogitScale)
    }

    @Test func trainerRejectsMissingAugmentedViews() throws {
        let config = CLIPConfig(embedDim: 8, vision: .vit(patch: 8, width: 16, layers: 1, heads: 1, resolution: 16),
                                contextLength: 8, vocabSize: 64, textWidth: 16, textHeads: 1, textLayers: 1)
        let trainer = Trainer(model: CLIPModel(randomWith: config, seed: 1), loss: .cleanCLIP, schedule: .constant(1e-3))
        let images = Tensor(zeros: [2, 3, 16, 16])
        let tokens = [Int32](repeating: 1, count: 16)
        #expect(throws: CLIPInputError.self) { try trainer.step(images: images, tokens: tokens) }
        #expect(throws: CLIPInputError.self) {
            try trainer.step(images: images, tokens: tokens, augmentedImages: Tensor(zeros: [3, 3, 16, 16]), augmentedTokens: tokens)
        }
        #expect(trainer.stepCount == 0)
        // MMCL-only mode needs no augmented views.
        let mmcl = Trainer(model: CLIPModel(randomWith: config, seed: 1), loss: .mmclOnly, schedule: .constant(1e-3))
        let r = try mmcl.step(images: images, tokens: tokens)
        #expect(r.inmodalLoss == nil && mmcl.stepCount == 1)
    }

    @Test func logitScaleIsClampedAfterEachStep() throws {
        let config = CLIPConfig(embedDim: 8, vision: .vit(patch: 8, width: 16, layers: 1, heads: 1, resolution: 16),
                                contextLength: 8, vocabSize: 64, textWidth: 16, textHeads: 1, textLayers: 1)
        let model = CLIPModel(randomWith: config, seed: 1)
        model.logitScale.data[0] = 7  // above ln 100; one step moves it by at most ~lr
        let trainer = Trainer(model: model, loss: .mmclOnly, schedule: .constant(1e-3))
        var rng = SeededRandom(seed: 2)
        let tokens: [Int32] = (0..<16).map { $0 % 8 == 3 ? 63 : ($0 % 8 < 3 ? Int32(1 + rng.next() % 60) : 0) }
        _ = try trainer.step(images: Tensor.randomNormal([2, 3, 16, 16], std: 1, using: &rng), tokens: tokens)
        #expect(model.logitScale.scalar == Trainer.maxLogitScale)
    }
}
