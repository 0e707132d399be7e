import Foundation
import CleanCLIP

/// A demo data set prepared for training: preprocessed pixels, token ids, labels, raw bytes for augmentation.
package struct DemoPairs {
    var images: [[UInt8]]
    var labels: [Int]
    var pixels: Tensor       // [N, 3, S, S], normalised
    var tokens: [Int32]      // N x context
    var augmentedTokens: [Int32]?
    package var count: Int { images.count }
}

/// The batches of one demo training stage, assembled in memory from `DemoPairs`.
///
/// Order: shuffled by (seed, stage, epoch). Pairs with `augment` (CleanCLIP's in-modal term) give
/// each sample an AutoAugment view too, drawn from (seed, stage, epoch, sample), and its EDA
/// caption; the views are made on all cores and do not depend on the thread timing.
struct DemoBatches: BatchSource {
    enum Content {
        /// Image-caption pairs, for contrastive training.
        case pairs(augment: Bool)
        /// Images and their class labels, for supervised finetuning.
        case labels
    }

    let data: DemoPairs
    let batchSize: Int
    let imageSize: Int
    let contextLength: Int
    let seed: UInt64
    /// Tells the stages apart in every seed derived here.
    let stageSeed: UInt64
    let content: Content

    var batchesPerEpoch: Int { data.count / batchSize }

    func batches(epoch: Int) throws -> EpochBatches {
        var order = Array(0..<data.count)
        var rng = SeededRandom(seed: mixSeed(seed, stageSeed, UInt64(epoch)))
        order.shuffle(using: &rng)
        var next = 0
        return EpochBatches(next: {
            guard next < batchesPerEpoch else { return nil }
            defer { next += 1 }
            let idx = Array(order[(next * batchSize)..<((next + 1) * batchSize)])
            switch content {
            case .pairs(let augment): return .pairs(batch(idx, epoch: epoch, augment: augment))
            case .labels: return .labels(LabelBatch(images: images(idx), labels: idx.map { data.labels[$0] }, indices: idx))
            }
        }, close: {})
    }

    private func images(_ idx: [Int]) -> Tensor {
        let per = 3 * imageSize * imageSize
        let images = Tensor(uninitialized: [idx.count, 3, imageSize, imageSize])
        for (k, i) in idx.enumerated() { (images.data + k * per).update(from: data.pixels.data + i * per, count: per) }
        return images
    }

    private func batch(_ idx: [Int], epoch: Int, augment: Bool) -> PairBatch {
        let b = idx.count, s = imageSize, per = 3 * s * s, ctx = contextLength
        var tokens = [Int32](repeating: 0, count: b * ctx)
        for (k, i) in idx.enumerated() {
            for j in 0..<ctx { tokens[k * ctx + j] = data.tokens[i * ctx + j] }
        }
        var augImages: Tensor?, augTokens: [Int32]?
        if augment, let augmentedTokens = data.augmentedTokens {
            let aug = Tensor(uninitialized: [b, 3, s, s])
            let preprocessor = CLIPPreprocessor(size: s)
            let autoAugment = AutoAugment()
            DispatchQueue.concurrentPerform(iterations: b) { k in
                let i = idx[k]
                var r = SeededRandom(seed: mixSeed(seed, stageSeed, UInt64(epoch), UInt64(i)))
                let view = autoAugment.apply(data.images[i], width: s, height: s, using: &r)
                // The view has the data set's size, so the preprocessor only normalises it.
                if let image = try? RGBImage(width: s, height: s, pixels: view) {
                    preprocessor.preprocess(image, into: UnsafeMutableBufferPointer(start: aug.data + k * per, count: per))
                }
            }
            augImages = aug
            augTokens = idx.flatMap { i in augmentedTokens[(i * ctx)..<((i + 1) * ctx)] }
        }
        return PairBatch(images: images(idx), tokens: tokens, augmentedImages: augImages, augmentedTokens: augTokens, indices: idx)
    }
}
