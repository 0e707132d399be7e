import Foundation
import CleanCLIP

/// A demo data set prepared for training: preprocessed pixels, token ids, raw bytes for augmentation.
struct DemoPairs {
    var images: [[UInt8]]
    var pixels: Tensor       // [N, 3, S, S], normalised
    var tokens: [Int32]      // N x context
    var augmentedTokens: [Int32]?
    var count: Int { images.count }
}

/// The batches of one demo training stage, assembled in memory from `DemoPairs`.
///
/// Order: shuffled by (seed, stage, epoch). With `augment` (CleanCLIP's in-modal term) each
/// sample also gets an AutoAugment view, drawn from (seed, stage, epoch, sample), and its EDA
/// caption; the views are made on all cores and do not depend on the thread timing.
struct DemoBatches: BatchSource {
    let data: DemoPairs
    let batchSize: Int
    let imageSize: Int
    let contextLength: Int
    let seed: UInt64
    /// Tells the stages apart in every seed derived here.
    let stageSeed: UInt64
    let augment: Bool

    var batchesPerEpoch: Int { data.count / batchSize }

    func batches(epoch: Int) throws -> EpochBatches {
        var order = Array(0..<data.count)
        var rng = SeededRandom(seed: mixSeed(seed, stageSeed, UInt64(epoch)))
        order.shuffle(using: &rng)
        var next = 0
        return EpochBatches(next: {
            guard next < batchesPerEpoch else { return nil }
            defer { next += 1 }
            return .pairs(batch(Array(order[(next * batchSize)..<((next + 1) * batchSize)]), epoch: epoch))
        }, close: {})
    }

    private func batch(_ idx: [Int], epoch: Int) -> PairBatch {
        let b = idx.count, s = imageSize, per = 3 * s * s, ctx = contextLength
        let images = Tensor(uninitialized: [b, 3, s, s])
        var tokens = [Int32](repeating: 0, count: b * ctx)
        for (k, i) in idx.enumerated() {
            (images.data + k * per).update(from: data.pixels.data + i * per, count: per)
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
        return PairBatch(images: images, tokens: tokens, augmentedImages: augImages, augmentedTokens: augTokens, indices: idx)
    }
}
