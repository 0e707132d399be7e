import Foundation

/// A training batch as `Trainer.step(_:)` takes it.
package enum TrainingBatch {
    /// Image-caption pairs, for the contrastive objective.
    case pairs(PairBatch)
    /// Labelled images, for the supervised objective.
    case labels(LabelBatch)
}

/// Where `EpochRunner` takes a run's batches from, one epoch at a time: a CSV data set through its
/// background loader (`PairLoaderSource`, `LabelLoaderSource`) or the demo's pairs in memory.
package protocol BatchSource {
    /// Items (pairs or images) per batch.
    var batchSize: Int { get }
    /// Batches in every epoch (a last partial batch is dropped, as the reference does).
    var batchesPerEpoch: Int { get }
    /// The batches of `epoch` in training order. They depend on the epoch alone, so a resumed run
    /// sees the batches an uninterrupted one would.
    func batches(epoch: Int) throws -> EpochBatches
}

/// One epoch's batches, made as they are asked for.
package struct EpochBatches {
    /// The next batch; nil after the last.
    package let next: () throws -> TrainingBatch?
    /// Stops background loading and waits for it; called when the epoch ends, also by an error.
    package let close: () -> Void

    package init(next: @escaping () throws -> TrainingBatch?, close: @escaping () -> Void) {
        self.next = next
        self.close = close
    }
}

/// An `ImageCaptionDataset` through `PairBatchLoader`: shuffled by seed and epoch, augmented
/// views and captions when `augment` (CleanCLIP's in-modal term needs them).
struct PairLoaderSource: BatchSource {
    let dataset: ImageCaptionDataset
    let preprocessor: CLIPPreprocessor
    let batchSize: Int
    let seed: UInt64
    let augment: Bool
    let contextLength: Int
    /// This rank's slice of every (global) batch: (rank, ranks); (0, 1) for a single process.
    var shard: (index: Int, count: Int) = (0, 1)

    var batchesPerEpoch: Int { dataset.count / batchSize }

    func batches(epoch: Int) throws -> EpochBatches {
        let loader = try PairBatchLoader(
            dataset: dataset, preprocessor: preprocessor, tokenizer: .standard,
            options: .init(batchSize: batchSize, seed: seed, epoch: epoch, augment: augment, contextLength: contextLength, shard: shard))
        return EpochBatches(next: { try loader.nextBatch().map(TrainingBatch.pairs) }, close: loader.close)
    }
}

/// An `ImageLabelDataset` through `LabelBatchLoader`, shuffled by seed and epoch.
struct LabelLoaderSource: BatchSource {
    let dataset: ImageLabelDataset
    let preprocessor: CLIPPreprocessor
    let batchSize: Int
    let seed: UInt64

    var batchesPerEpoch: Int { dataset.count / batchSize }

    func batches(epoch: Int) throws -> EpochBatches {
        let loader = try LabelBatchLoader(dataset: dataset, preprocessor: preprocessor, batchSize: batchSize,
                                          seed: seed, epoch: epoch, shuffle: true, dropLast: true)
        return EpochBatches(next: { try loader.nextBatch().map(TrainingBatch.labels) }, close: loader.close)
    }
}
