import CleanCLIP
import Foundation
import Testing

private func dataset(_ dir: URL, count: Int = 7) throws -> ImageCaptionDataset {
    // Precomputed augmented captions keep this test independent of WordNet.
    let path = try writeDataset(in: dir, count: count, extraHeader: ",augmented_caption") { ",augmented \($0)" }
    return try ImageCaptionDataset(csvPath: path)
}

@Test func loaderBatchesMatchDirectComputation() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try dataset(dir)
    let pre = CLIPPreprocessor(size: 32)
    let tok = try CLIPTokenizer.loadStandard()
    let opts = PairBatchLoader.Options(batchSize: 3, seed: 5, epoch: 2)
    let loader = try PairBatchLoader(dataset: data, preprocessor: pre, tokenizer: tok, options: opts)
    #expect(loader.batchCount == 2)  // 7 rows, drop_last
    var seen: [Int] = []
    while let batch = try loader.nextBatch() {
        #expect(batch.images.shape == [3, 3, 32, 32])
        #expect(batch.augmentedImages?.shape == [3, 3, 32, 32])
        #expect(batch.tokens.count == 3 * 77 && batch.augmentedTokens?.count == 3 * 77)
        #expect(batch.tokens == (try tok.tokenize(batch.indices.map { data.items[$0].caption })))
        #expect(batch.augmentedTokens == (try tok.tokenize(batch.indices.map { "augmented \($0)" })))
        for (k, index) in batch.indices.enumerated() {
            let image = try ImageDecoder.decode(path: data.items[index].imagePath)
            let plane = 3 * 32 * 32
            #expect(Array(batch.images.array[k * plane..<(k + 1) * plane]) == pre(image))
            var rng = SeededRandom(seed: mixSeed(5, 2, UInt64(index)))
            let augmented = AutoAugment().apply(image, using: &rng)
            #expect(Array(batch.augmentedImages!.array[k * plane..<(k + 1) * plane]) == pre(augmented))
        }
        seen += batch.indices
    }
    #expect(Set(seen).count == 6)
}

@Test func loaderIsDeterministicPerSeedAndEpoch() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try dataset(dir)
    let pre = CLIPPreprocessor(size: 24)
    let tok = try CLIPTokenizer.loadStandard()
    func run(_ seed: UInt64, _ epoch: Int) throws -> ([Int], [Float]) {
        let loader = try PairBatchLoader(dataset: data, preprocessor: pre, tokenizer: tok,
                                         options: .init(batchSize: 2, seed: seed, epoch: epoch, prefetch: 1))
        var indices: [Int] = [], aug: [Float] = []
        for b in loader { indices += b.indices; aug += b.augmentedImages!.array }
        #expect(loader.error == nil)
        return (indices, aug)
    }
    let a = try run(1, 0), b = try run(1, 0), c = try run(1, 1)
    #expect(a.0 == b.0 && a.1 == b.1)
    #expect(a.0 != c.0)
}

@Test func loaderWithoutAugmentationAndErrors() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try writeDataset(in: dir, count: 4)
    let plain = try ImageCaptionDataset(csvPath: path)
    let pre = CLIPPreprocessor(size: 16)
    let tok = try CLIPTokenizer.loadStandard()
    // Augmentation needs augmented captions.
    #expect(throws: DatasetError.self) { try PairBatchLoader(dataset: plain, preprocessor: pre, tokenizer: tok) }
    let loader = try PairBatchLoader(dataset: plain, preprocessor: pre, tokenizer: tok,
                                     options: .init(batchSize: 4, shuffle: false, augment: false))
    let batch = try #require(try loader.nextBatch())
    #expect(batch.indices == [0, 1, 2, 3] && batch.augmentedImages == nil && batch.augmentedTokens == nil)
    #expect(try loader.nextBatch() == nil)

    // A corrupt image reaches the consumer as an error naming the CSV row.
    try Data("not a png".utf8).write(to: dir.appendingPathComponent("images/img2.png"))
    let broken = try PairBatchLoader(dataset: plain, preprocessor: pre, tokenizer: tok,
                                     options: .init(batchSize: 2, shuffle: false, augment: false))
    #expect(try broken.nextBatch() != nil)
    do {
        _ = try broken.nextBatch()
        Issue.record("expected an error")
    } catch let e as DatasetError {
        #expect(e.kind == .imageDecoding && e.row == 3 && e.description.contains("img2.png"))
    }
    #expect(try broken.nextBatch() == nil)
}

@Test func loaderShutsDownEarly() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try dataset(dir, count: 12)
    let tok = try CLIPTokenizer.loadStandard()
    for _ in 0..<5 {
        let loader = try PairBatchLoader(dataset: data, preprocessor: CLIPPreprocessor(size: 16), tokenizer: tok,
                                         options: .init(batchSize: 2, prefetch: 2))
        _ = try loader.nextBatch()
        loader.close()
        #expect(try loader.nextBatch() == nil)
    }
    // Dropping an unread loader must not hang or leak its thread's work.
    for _ in 0..<5 {
        _ = try PairBatchLoader(dataset: data, preprocessor: CLIPPreprocessor(size: 16), tokenizer: tok,
                                options: .init(batchSize: 3))
    }
}
