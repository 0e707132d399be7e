import Foundation
import ImageIO
import TensorCore

/// What evaluation and scoring need from a model: image and text embeddings.
///
/// `CLIPModel` conforms with its two front ends (`encodeImages(_:)`: CLIP preprocessing + image
/// tower; `encodeTexts(_:)`: the standard BPE tokenizer + text tower). Tests and experiments can
/// plug in anything else with the same shape contract.
public protocol ImageTextEmbedder {
    /// Embeddings [N, E] (unnormalised) of decoded images of any size.
    func encodeImages(_ images: [RGBImage]) throws -> Tensor
    /// Embeddings [N, E] (unnormalised) of raw texts.
    func encodeTexts(_ texts: [String]) throws -> Tensor
}

extension CLIPModel: ImageTextEmbedder {}

/// Rows of a CSV of images, decoded batch by batch (relative paths are relative to the CSV's
/// folder, as in CleanCLIP). Every listed file is checked to exist before any work starts, so a
/// missing file fails fast with its row.
struct ImageRows {
    let csv: BackdoorCSV
    let paths: [String]

    init(csvPath: String, imageColumn: String, delimiter: Character = ",") throws {
        let table = try BackdoorCSV.read(path: csvPath, delimiter: delimiter)
        let col = try table.column(imageColumn)
        paths = try (0..<table.rows.count).map { try table.imagePath(row: $0, column: col) }
        csv = table
    }

    /// Decodes rows `range` in parallel; errors name the file and row.
    func decode(_ range: Range<Int>) throws -> [RGBImage] {
        var out = [Result<RGBImage, Error>](repeating: .failure(DatasetError(.imageDecoding, file: csv.path, "not decoded")), count: range.count)
        out.withUnsafeMutableBufferPointer { buf in
            let base = buf.baseAddress!
            DispatchQueue.concurrentPerform(iterations: range.count) { i in
                let row = range.lowerBound + i
                do {
                    base[i] = .success(try ImageDecoder.decode(path: paths[row]))
                } catch {
                    base[i] = .failure(DatasetError(.imageDecoding, file: csv.path, row: row + 1, "cannot decode '\(paths[row])': \(error)"))
                }
            }
        }
        return try out.map { try $0.get() }
    }

    /// Embeds all rows (optionally through `transform`, e.g. a trigger) in batches of `batchSize`.
    /// With N ranks (`communicator`), rank r embeds its own contiguous share of the rows and the
    /// shares are all-gathered in row order: every rank returns the whole [rows, E] matrix.
    func embed(with model: ImageTextEmbedder, batchSize: Int, progress: EvaluationProgress?, phase: String,
               transform: ((RGBImage, Int) throws -> RGBImage)? = nil, communicator: Communicator = SingleProcess()) throws -> Tensor {
        var rows: [Float] = []
        var width = 0
        let (n, ranks, rank) = (paths.count, communicator.size, communicator.rank)
        let share = (n * rank / ranks)..<(n * (rank + 1) / ranks)
        var start = share.lowerBound
        while start < share.upperBound {
            let range = start..<(start + min(max(1, batchSize), share.upperBound - start))  // no overflow for any batchSize
            var images = try decode(range)
            if let transform {
                images = try zip(images, range).map { try transform($0, $1) }
            }
            let e = try model.encodeImages(images)
            guard e.rank == 2, e.shape[0] == range.count else {
                throw EvaluationError("the model returned embeddings of shape \(e.shape) for \(range.count) images")
            }
            guard width == 0 || e.shape[1] == width else {
                throw EvaluationError("the model returned embeddings of width \(e.shape[1]) after \(width)")
            }
            width = e.shape[1]
            rows += e.array
            start = range.upperBound
            if let progress, !progress(phase, start - share.lowerBound, share.count) { throw EvaluationError("cancelled") }
        }
        guard ranks > 1 else { return Tensor(rows, shape: [paths.count, width]) }
        width = Int(try communicator.allGather([Float(width)]).max() ?? 0)  // a rank with no rows knows no width
        return Tensor(try communicator.allGather(rows), shape: [paths.count, width])
    }
}

/// Progress callback: (phase, done, total); return false to cancel.
public typealias EvaluationProgress = @Sendable (String, Int, Int) -> Bool
