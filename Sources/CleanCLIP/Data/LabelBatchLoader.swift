import Foundation

/// One batch of labelled images (supervised variant).
package struct LabelBatch: Sendable {
    /// Preprocessed images [B, 3, S, S].
    package let images: Tensor
    package let labels: [Int]
    /// Dataset indices of the rows, in batch order.
    package let indices: [Int]

    package init(images: Tensor, labels: [Int], indices: [Int]) {
        self.images = images
        self.labels = labels
        self.indices = indices
    }
}

/// Loads `LabelBatch`es of an `ImageLabelDataset` for one epoch on a background thread, with the
/// same ordering, prefetching, error and shutdown behaviour as `PairBatchLoader` (no augmentation).
package final class LabelBatchLoader: Sequence, IteratorProtocol {
    package let batchCount: Int
    package private(set) var error: Error?
    private let batcher: BackgroundBatcher<LabelBatch>

    package init(dataset: ImageLabelDataset, preprocessor: CLIPPreprocessor, batchSize: Int, seed: UInt64 = 0,
                epoch: Int = 0, shuffle: Bool = true, dropLast: Bool = false, prefetch: Int = 2) throws {
        guard batchSize > 0 else {
            throw DatasetError(.badValue, file: dataset.csvPath, "batch size must be positive, got \(batchSize)")
        }
        let batches = makeBatches(epochOrder(count: dataset.count, seed: seed, epoch: epoch, shuffle: shuffle),
                                  size: batchSize, dropLast: dropLast)
        batchCount = batches.count
        let items = dataset.items, csv = dataset.csvPath, size = preprocessor.size
        batcher = BackgroundBatcher(batches: batches, capacity: prefetch) { indices, cancelled in
            let plane = 3 * size * size
            let images = Tensor(zeros: [indices.count, 3, size, size])
            try parallelFor(indices.count) { k in
                if cancelled() { return }
                let item = items[indices[k]]
                let image = try decode(item.imagePath, csv: csv, row: item.row)
                preprocessor.preprocess(image, into: UnsafeMutableBufferPointer(start: images.data + k * plane, count: plane))
            }
            return LabelBatch(images: images, labels: indices.map { items[$0].label }, indices: indices)
        }
    }

    deinit { batcher.close() }

    /// The next batch, nil at the end of the epoch; throws the first loading error.
    package func nextBatch() throws -> LabelBatch? { try batcher.next() }

    package func next() -> LabelBatch? {
        do { return try nextBatch() } catch { self.error = error; return nil }
    }

    /// Stops loading and waits for the background thread.
    package func close() { batcher.close() }
}
