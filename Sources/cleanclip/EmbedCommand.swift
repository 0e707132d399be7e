import ArgumentParser
import CleanCLIP
import Foundation

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Compute image and/or text embeddings, reading and writing NumPy .npy files.")

    @OptionGroup var model: ModelOptions

    @Option(help: "int32/int64 token ids (n, context_length).")
    var tokens: String?

    @Option(name: .customLong("text-file"), help: "Captions, one per line (tokenised with CLIP's BPE).")
    var textFile: String?

    @Option(help: "float32 preprocessed pixels (n, 3, S, S).")
    var pixels: String?

    @Option(parsing: .upToNextOption, help: "JPEG/PNG image files (preprocessed as open_clip does).")
    var images: [String] = []

    @Option(name: .customLong("out-text"), help: "Where to write text embeddings (n, E) as float32 .npy.")
    var outText: String?

    @Option(name: .customLong("out-image"), help: "Where to write image embeddings (n, E) as float32 .npy.")
    var outImage: String?

    @Option(help: "Items per forward pass.")
    var batchSize: Int = 32

    @Flag(help: "L2-normalise the embeddings.")
    var normalize = false

    func validate() throws {
        if tokens == nil && textFile == nil && pixels == nil && images.isEmpty {
            throw ValidationError("give --tokens or --text-file, and/or --pixels or --images")
        }
        if tokens != nil && textFile != nil { throw ValidationError("give either --tokens or --text-file, not both") }
        if (tokens != nil || textFile != nil) && outText == nil { throw ValidationError("--tokens/--text-file needs --out-text") }
        if pixels != nil && !images.isEmpty { throw ValidationError("give either --pixels or --images, not both") }
        if (pixels != nil || !images.isEmpty) && outImage == nil { throw ValidationError("--pixels/--images needs --out-image") }
        try Bounds.check(batchSize, "--batch-size", Bounds.batch)
    }

    func run() throws {
        let m = try model.load()
        let ctx = m.config.contextLength
        var ids: [Int32]?
        if let tokens {
            let a = try NumPy.read(path: tokens)
            guard a.shape.count == 2, a.shape[1] == ctx else {
                throw ValidationError("\(tokens): shape \(a.shape), expected (n, \(ctx))")
            }
            ids = try NumPy.int32s(a, path: tokens)
        } else if let textFile {
            ids = try CLIPTokenizer.standard.tokenize(try readLines(textFile), contextLength: ctx)
        }
        if let ids, let outText {
            let n = ids.count / ctx
            let out = try batched(n) { range in
                try m.encodeText(tokens: Array(ids[(range.lowerBound * ctx)..<(range.upperBound * ctx)]), batch: range.count)
            }
            try NumPy.write(out, shape: [n, m.config.embedDim], to: outText)
        }
        if let pixels, let outImage {
            let a = try NumPy.read(path: pixels)
            let s = m.config.imageResolution
            guard a.shape.count == 4, a.shape[1] == 3, a.shape[2] == s, a.shape[3] == s else {
                throw ValidationError("\(pixels): shape \(a.shape), expected (n, 3, \(s), \(s))")
            }
            let values = try NumPy.floats(a, path: pixels)
            let per = 3 * s * s
            let out = try batched(a.shape[0]) { range in
                try m.encodeImage(Tensor(Array(values[(range.lowerBound * per)..<(range.upperBound * per)]),
                                         shape: [range.count, 3, s, s]))
            }
            try NumPy.write(out, shape: [a.shape[0], m.config.embedDim], to: outImage)
        } else if !images.isEmpty, let outImage {
            let out = try batched(images.count) { range in try m.encodeImages(paths: Array(images[range])) }
            try NumPy.write(out, shape: [images.count, m.config.embedDim], to: outImage)
        }
    }

    /// Runs `encode` over chunks of `batchSize` items and concatenates the (optionally normalised) rows.
    private func batched(_ n: Int, _ encode: (Range<Int>) throws -> Tensor) throws -> [Float] {
        var out: [Float] = []
        for start in stride(from: 0, to: n, by: batchSize) {
            let e = try encode(start..<min(n, start + batchSize))
            out += (normalize ? e.l2Normalized() : e).array
        }
        return out
    }
}
