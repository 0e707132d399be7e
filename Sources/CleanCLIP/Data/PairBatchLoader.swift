import Foundation

/// One training batch of image-caption pairs.
package struct PairBatch: Sendable {
    /// Original views: decoded, resized and centre-cropped, normalised: [B, 3, S, S].
    package let images: Tensor
    /// Tokenised captions, row-major [B, contextLength].
    package let tokens: [Int32]
    /// Augmented views (AutoAugment on the full-resolution image, or the precomputed augmented
    /// image), then the same preprocessing: [B, 3, S, S]; nil when augmentation is off.
    package let augmentedImages: Tensor?
    /// Tokenised augmented captions [B, contextLength]; nil when augmentation is off.
    package let augmentedTokens: [Int32]?
    /// Dataset indices of the rows, in batch order.
    package let indices: [Int]

    package init(images: Tensor, tokens: [Int32], augmentedImages: Tensor?, augmentedTokens: [Int32]?, indices: [Int]) {
        self.images = images
        self.tokens = tokens
        self.augmentedImages = augmentedImages
        self.augmentedTokens = augmentedTokens
        self.indices = indices
    }
}

/// Loads `PairBatch`es of an `ImageCaptionDataset` for one epoch, on a background thread that
/// runs up to `prefetch` batches ahead of the consumer (each batch's images are decoded,
/// augmented and preprocessed on all cores).
///
/// Order: the indices are shuffled with a generator seeded from (`seed`, `epoch`); the last
/// partial batch is dropped when `dropLast` (the reference's `drop_last=True`). Sample `i` of
/// epoch `e` is augmented with a generator seeded from (`seed`, `e`, `i`), so AutoAugment is
/// re-sampled every epoch and the batches are identical whatever the thread timing.
///
/// ```swift
/// let loader = try PairBatchLoader(dataset: data, preprocessor: CLIPPreprocessor(size: 224),
///                                  tokenizer: .standard, options: .init(batchSize: 64, seed: 1, epoch: e))
/// while let batch = try loader.nextBatch() {
///     trainer.step(images: batch.images, tokens: batch.tokens,
///                  augmentedImages: batch.augmentedImages, augmentedTokens: batch.augmentedTokens)
/// }
/// ```
/// `for batch in loader` also works; it stops at the first error, which is then in `error`.
/// Dropping the loader (or `close()`) stops the background work and waits for it.
package final class PairBatchLoader: Sequence, IteratorProtocol {
    package struct Options: Sendable {
        package var batchSize: Int
        package var seed: UInt64
        package var epoch: Int
        package var shuffle: Bool
        package var dropLast: Bool
        /// Produce augmented views and captions (CleanCLIP's in-modal term needs them).
        package var augment: Bool
        /// Finished batches kept ready ahead of the consumer.
        package var prefetch: Int
        package var contextLength: Int
        /// Data-parallel runs: the batches are formed over the whole data set as with one process
        /// (`batchSize` is the global batch) and this loader yields shard `shard.index` of
        /// `shard.count` equal consecutive slices of each, so every rank uses the same shuffle.
        package var shard: (index: Int, count: Int)

        package init(batchSize: Int = 64, seed: UInt64 = 0, epoch: Int = 0, shuffle: Bool = true, dropLast: Bool = true,
                    augment: Bool = true, prefetch: Int = 2, contextLength: Int = CLIPTokenizer.defaultContextLength,
                    shard: (index: Int, count: Int) = (0, 1)) {
            self.batchSize = batchSize; self.seed = seed; self.epoch = epoch; self.shuffle = shuffle
            self.dropLast = dropLast; self.augment = augment; self.prefetch = prefetch; self.contextLength = contextLength
            self.shard = shard
        }
    }

    package let options: Options
    /// Number of batches this epoch.
    package let batchCount: Int
    /// The error that ended `for`-loop iteration, if any.
    package private(set) var error: Error?
    private let batcher: BackgroundBatcher<PairBatch>

    package init(dataset: ImageCaptionDataset, preprocessor: CLIPPreprocessor, tokenizer: CLIPTokenizer,
                augmenter: AutoAugment = AutoAugment(), options: Options = Options()) throws {
        guard options.batchSize > 0 else {
            throw DatasetError(.badValue, file: dataset.csvPath, "batch size must be positive, got \(options.batchSize)")
        }
        if options.augment, let missing = dataset.items.first(where: { $0.augmentedCaption == nil }) {
            throw DatasetError(.noAugmentedCaptions, file: dataset.csvPath, row: missing.row,
                               "no augmented caption: add an augmented_caption column or call augmentingCaptions(with:seed:)")
        }
        let (shard, shards) = options.shard
        guard shards >= 1, (0..<shards).contains(shard), options.batchSize % shards == 0 else {
            throw DatasetError(.badValue, file: dataset.csvPath, "batch size \(options.batchSize) cannot be split into \(shards) equal shards")
        }
        self.options = options
        let order = epochOrder(count: dataset.count, seed: options.seed, epoch: options.epoch, shuffle: options.shuffle)
        let per = options.batchSize / shards
        let batches = makeBatches(order, size: options.batchSize, dropLast: options.dropLast).map { batch in
            shards == 1 ? batch : Array(batch[Swift.min(shard * per, batch.count)..<Swift.min((shard + 1) * per, batch.count)])
        }
        batchCount = batches.count
        let items = dataset.items, csv = dataset.csvPath, size = preprocessor.size
        let opts = options
        batcher = BackgroundBatcher(batches: batches, capacity: options.prefetch) { indices, cancelled in
            let b = indices.count, plane = 3 * size * size
            let images = Tensor(zeros: [b, 3, size, size])
            let augmented = opts.augment ? Tensor(zeros: [b, 3, size, size]) : nil
            try parallelFor(b) { k in
                if cancelled() { return }
                let index = indices[k], item = items[index]
                let image = try decode(item.imagePath, csv: csv, row: item.row)
                preprocessor.preprocess(image, into: UnsafeMutableBufferPointer(start: images.data + k * plane, count: plane))
                guard let augmented else { return }
                let view: RGBImage
                if let path = item.augmentedImagePath {
                    view = try decode(path, csv: csv, row: item.row)
                } else {
                    var rng = SeededRandom(seed: mixSeed(opts.seed, UInt64(opts.epoch), UInt64(index)))
                    view = augmenter.apply(image, using: &rng)
                }
                preprocessor.preprocess(view, into: UnsafeMutableBufferPointer(start: augmented.data + k * plane, count: plane))
            }
            let tokens = try tokenizer.tokenize(indices.map { items[$0].caption }, contextLength: opts.contextLength)
            let augmentedTokens = try opts.augment
                ? tokenizer.tokenize(indices.map { items[$0].augmentedCaption ?? "" }, contextLength: opts.contextLength) : nil
            return PairBatch(images: images, tokens: tokens, augmentedImages: augmented, augmentedTokens: augmentedTokens, indices: indices)
        }
    }

    deinit { batcher.close() }

    /// The next batch (waiting for the background thread if it is behind), nil at the end of
    /// the epoch; throws the first error met while loading (file and row named).
    package func nextBatch() throws -> PairBatch? { try batcher.next() }

    package func next() -> PairBatch? {
        do { return try nextBatch() } catch { self.error = error; return nil }
    }

    /// Stops loading and waits for the background thread; later calls return nil.
    package func close() { batcher.close() }
}

/// Dataset indices in epoch order: shuffled (Fisher-Yates) with a generator seeded from (seed, epoch).
func epochOrder(count: Int, seed: UInt64, epoch: Int, shuffle: Bool) -> [Int] {
    var order = Array(0..<count)
    if shuffle {
        var rng = SeededRandom(seed: mixSeed(seed, 0x5348_5546, UInt64(epoch)))  // "SHUF"
        EDA.shuffle(&order, &rng)
    }
    return order
}

func makeBatches(_ order: [Int], size: Int, dropLast: Bool) -> [[Int]] {
    stride(from: 0, to: order.count, by: size).compactMap { start in
        let end = min(start + size, order.count)
        if dropLast && end - start < size { return nil }
        return Array(order[start..<end])
    }
}

func decode(_ path: String, csv: String, row: Int) throws -> RGBImage {
    do { return try ImageDecoder.decode(path: path) } catch {
        throw DatasetError(.imageDecoding, file: csv, row: row, "cannot load image \(path): \(error)")
    }
}
