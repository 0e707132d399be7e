import ArgumentParser
import CleanCLIP
import Foundation

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Compute image and/or text embeddings, reading and writing NumPy .npy files.",
        discussion: """
            Images come from exactly one of --images, --pixels, --image-dir and --images-from. --image-dir and \
            --images-from stream a folder or CSV of any size: images are decoded and encoded --batch-size at a time and \
            each batch's rows are appended to the .npy (header first, with the row count known up front) through a \
            temporary file renamed into place at the end, so memory does not grow with the number of images and an \
            interrupted run leaves no partial file.

            Row order: --images in the order given; --images-from in CSV row order (paths relative to the CSV's folder, \
            as CleanCLIP reads them); --image-dir takes every .jpg/.jpeg/.png (any case) under DIR recursively, skipping \
            hidden files and folders, sorted by path relative to DIR compared as UTF-8 bytes (so class subfolders stay \
            together). --out-paths writes the file of each row, one per line, in the same order.

            A progress bar with an ETA goes to standard error (redrawn on a terminal, a line every few seconds otherwise).

            Under mpirun or srun (N ranks) the batches are dealt to the ranks in turn and gathered in input order; \
            rank 0 writes the files, which are those one process writes.
            """)

    @OptionGroup var model: ModelOptions

    @Option(help: "int32/int64 token ids (n, context_length).")
    var tokens: String?

    @Option(name: .customLong("text-file"), help: "Captions, one per line (tokenised with CLIP's BPE).")
    var textFile: String?

    @Option(help: "float32 preprocessed pixels (n, 3, S, S).")
    var pixels: String?

    @Option(parsing: .upToNextOption, help: "JPEG/PNG image files (preprocessed as open_clip does).")
    var images: [String] = []

    @Option(name: .customLong("image-dir"), help: "A folder of JPEG/PNG files, recursively, in sorted order (see below); streamed.")
    var imageDir: String?

    @Option(name: .customLong("images-from"), help: "A CleanCLIP CSV whose --image-key column names the images (relative to the CSV); streamed in row order.")
    var imagesFrom: String?

    @Option(name: [.customLong("image-key"), .customLong("image_key")], help: "Image-path column of --images-from.")
    var imageKey = "image"

    @Option(help: "Field delimiter of --images-from: ',' (default), '\\\\t' or 'tab', ';', ...")
    var delimiter = ","

    @Option(name: .customLong("out-text"), help: "Where to write text embeddings (n, E) as float32 .npy.")
    var outText: String?

    @Option(name: .customLong("out-image"), help: "Where to write image embeddings (n, E) as float32 .npy.")
    var outImage: String?

    @Option(name: .customLong("out-paths"), help: "Where to write the image file of each row, one per line (written atomically).")
    var outPaths: String?

    @Option(name: [.customLong("batch-size"), .customLong("batch_size")], help: "Items per forward pass.")
    var batchSize: Int = 32

    @Flag(help: "L2-normalise the embeddings.")
    var normalize = false

    /// How many image sources were given.
    private var imageSources: Int {
        [pixels != nil, !images.isEmpty, imageDir != nil, imagesFrom != nil].filter { $0 }.count
    }

    func validate() throws {
        if tokens == nil && textFile == nil && imageSources == 0 {
            throw ValidationError("give --tokens or --text-file, and/or --pixels, --images, --image-dir or --images-from")
        }
        if tokens != nil && textFile != nil { throw ValidationError("give either --tokens or --text-file, not both") }
        if (tokens != nil || textFile != nil) && outText == nil { throw ValidationError("--tokens/--text-file needs --out-text") }
        if imageSources > 1 { throw ValidationError("give one of --pixels, --images, --image-dir and --images-from") }
        if imageSources == 1 && outImage == nil { throw ValidationError("--pixels/--images/--image-dir/--images-from needs --out-image") }
        if outPaths != nil && (images.isEmpty && imageDir == nil && imagesFrom == nil) {
            throw ValidationError("--out-paths needs --images, --image-dir or --images-from")
        }
        try Bounds.check(batchSize, "--batch-size", Bounds.batch)
        _ = try CleanCLIPFlags.delimiter(delimiter)
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
            try stream(n, label: "embed texts", to: outText, width: m.config.embedDim) { range in
                try m.encodeText(tokens: Array(ids[(range.lowerBound * ctx)..<(range.upperBound * ctx)]), batch: range.count)
            }
        }
        guard let outImage, imageSources > 0 else { return }
        if let pixels {
            let a = try NumPy.read(path: pixels)
            let s = m.config.imageResolution
            guard a.shape.count == 4, a.shape[1] == 3, a.shape[2] == s, a.shape[3] == s else {
                throw ValidationError("\(pixels): shape \(a.shape), expected (n, 3, \(s), \(s))")
            }
            let values = try NumPy.floats(a, path: pixels)
            let per = 3 * s * s
            try stream(a.shape[0], label: "embed images", to: outImage, width: m.config.embedDim) { range in
                try m.encodeImage(Tensor(Array(values[(range.lowerBound * per)..<(range.upperBound * per)]),
                                         shape: [range.count, 3, s, s]))
            }
            return
        }
        let paths: [String]
        if let imageDir {
            paths = try ImageFiles.directory(imageDir)
            if paths.isEmpty { throw ValidationError("\(imageDir): no .jpg, .jpeg or .png files") }
        } else if let imagesFrom {
            paths = try ImageFiles.csv(imagesFrom, imageKey: imageKey, delimiter: try CleanCLIPFlags.delimiter(delimiter))
            if paths.isEmpty { throw ValidationError("\(imagesFrom): no data rows") }
        } else {
            paths = images
        }
        if outPaths != nil {
            if let bad = paths.first(where: { $0.contains("\n") || $0.contains("\r") }) {
                throw ValidationError("--out-paths writes one path per line; \(bad.debugDescription) contains a line break")
            }
        }
        try stream(paths.count, label: "embed images", to: outImage, width: m.config.embedDim) { range in
            try m.encodeImages(paths: Array(paths[range]))
        }
        if let outPaths, try Communicators.world().isRoot { try AtomicFile.write(paths.joined(separator: "\n") + "\n", to: outPaths) }
    }

    /// Runs `encode` over chunks of `batchSize` items and streams the (optionally normalised)
    /// rows into a (n, width) float32 .npy, with a progress bar.
    ///
    /// Under mpirun/srun the chunks are dealt to the ranks in turn (chunk c to rank c mod N): each
    /// round every rank encodes its chunk, the rows are all-gathered in rank order, which is
    /// chunk order, and rank 0 appends them. Rows come out in input order, and each rank holds at
    /// most one round's rows (N x batch-size x width floats).
    private func stream(_ n: Int, label: String, to path: String, width: Int, _ encode: (Range<Int>) throws -> Tensor) throws {
        let world = try Communicators.world()
        let chunks = stride(from: 0, to: n, by: batchSize).map { $0..<min(n, $0 + batchSize) }
        let bar = world.isRoot ? ProgressBar(label, total: n) : nil
        let start = Date()
        func rounds(_ append: ([Float]) throws -> Void) throws {
            for first in stride(from: 0, to: chunks.count, by: world.size) {
                var rows: [Float] = []
                if first + world.rank < chunks.count {
                    let range = chunks[first + world.rank]
                    let e = try encode(range)
                    guard e.shape == [range.count, width] else {
                        throw ValidationError("the model returned embeddings of shape \(e.shape) for \(range.count) items")
                    }
                    rows = (normalize ? e.l2Normalized() : e).array
                }
                try append(world.size > 1 ? try world.allGather(rows) : rows)
                let done = chunks[min(first + world.size, chunks.count) - 1].upperBound
                bar?.update(done, detail: String(format: "%.1f/s", Double(done) / max(Date().timeIntervalSince(start), 1e-9)))
            }
        }
        guard world.isRoot else { return try rounds { _ in } }
        try NumPy.writeRows(to: path, rows: n, columns: width) { append in try rounds(append) }
        print("wrote \(path): \(n) x \(width)" + (world.size > 1 ? " (\(world.size) ranks)" : ""))
    }
}
