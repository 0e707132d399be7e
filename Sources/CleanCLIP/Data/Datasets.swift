import Foundation

/// Image-caption pairs from a CleanCLIP CSV file.
///
/// The CSV has a header row; the image column (default "image") holds paths relative to the
/// CSV's folder (absolute paths are kept), the caption column (default "caption") the text.
/// Optional columns `augmented_<image key>` and `augmented_<caption key>` (written by the
/// reference's preprocessing tools) hold a precomputed augmented image path / caption; where
/// present they are used instead of on-the-fly AutoAugment / EDA.
///
/// ```swift
/// let data = try ImageCaptionDataset(csvPath: "train/train.csv")
///     .augmentingCaptions(with: EDA(wordNet: try WordNet.shared()), seed: 1)
/// ```
public struct ImageCaptionDataset: Sendable {
    public struct Item: Sendable, Equatable {
        /// The image file, resolved against the CSV's folder.
        public let imagePath: String
        public let caption: String
        /// Precomputed augmented image (from `augmented_<image key>`), resolved like `imagePath`.
        public let augmentedImagePath: String?
        /// The augmented caption: from `augmented_<caption key>`, or computed by `augmentingCaptions`.
        public var augmentedCaption: String?
        /// The 1-based CSV data row this item came from (for error messages).
        public let row: Int
    }

    public let csvPath: String
    public private(set) var items: [Item]
    public var count: Int { items.count }

    /// Reads the CSV. With `checkFiles`, every image (and augmented image) must exist; the first
    /// missing one is reported with its row.
    public init(csvPath: String, imageKey: String = "image", captionKey: String = "caption",
                delimiter: Character = ",", checkFiles: Bool = true) throws {
        let table = try CSV.read(path: csvPath, delimiter: delimiter)
        let root = URL(fileURLWithPath: csvPath).deletingLastPathComponent().path
        let imageColumn = try table.column(imageKey), captionColumn = try table.column(captionKey)
        let augmentedImageColumn = table.header.firstIndex(of: "augmented_\(imageKey)")
        let augmentedCaptionColumn = table.header.firstIndex(of: "augmented_\(captionKey)")
        var items: [Item] = []
        items.reserveCapacity(table.rows.count)
        for (r, fields) in table.rows.enumerated() {
            let row = r + 1
            let image = try Self.resolve(fields[imageColumn], root: root, csv: csvPath, row: row, check: checkFiles)
            let augmentedImage = try augmentedImageColumn.map {
                try Self.resolve(fields[$0], root: root, csv: csvPath, row: row, check: checkFiles)
            }
            items.append(Item(imagePath: image, caption: fields[captionColumn], augmentedImagePath: augmentedImage,
                              augmentedCaption: augmentedCaptionColumn.map { fields[$0] }, row: row))
        }
        self.csvPath = csvPath
        self.items = items
    }

    /// The captions CleanCLIP's objective needs (the policy every front end shares): with the
    /// in-modal loss, every pair needs an augmented caption, so rows without a precomputed
    /// `augmented_<caption key>` get EDA's, seeded by `seed`, with WordNet from
    /// `wordNetDirectory` (default: the system's). Without it, the data set is used as it is.
    public func preparedForTraining(inmodal: Bool, seed: UInt64, wordNetDirectory: String? = nil) throws -> ImageCaptionDataset {
        guard inmodal, items.contains(where: { $0.augmentedCaption == nil }) else { return self }
        let wordNet = try wordNetDirectory.map { try WordNet(directory: $0) } ?? WordNet.shared()
        return try augmentingCaptions(with: EDA(wordNet: wordNet), seed: seed)
    }

    /// A copy where every item without a precomputed augmented caption gets one from `eda`, as
    /// the reference does once when the dataset is built. Item `i` uses its own generator seeded
    /// from (`seed`, `i`), so the result does not depend on evaluation order.
    public func augmentingCaptions(with eda: EDA, seed: UInt64) throws -> ImageCaptionDataset {
        var copy = self
        for i in copy.items.indices where copy.items[i].augmentedCaption == nil {
            var rng = SeededRandom(seed: mixSeed(seed, 0x4544_4120, UInt64(i)))  // "EDA "
            copy.items[i].augmentedCaption = try eda.augment(copy.items[i].caption, using: &rng)
        }
        return copy
    }

    static func resolve(_ field: String, root: String, csv: String, row: Int, check: Bool) throws -> String {
        guard !field.isEmpty else {
            throw DatasetError(.badValue, file: csv, row: row, "empty image path")
        }
        let path = field.hasPrefix("/") ? field : root + "/" + field
        if check && !FileManager.default.fileExists(atPath: path) {
            throw DatasetError(.missingImage, file: csv, row: row, "image file '\(field)' not found (\(path))")
        }
        return path
    }
}

/// Labelled images for the supervised variant: a CSV with an image column (default "image",
/// paths relative to the CSV's folder) and an integer label column (default "label"), like the
/// reference's `labels.csv`.
public struct ImageLabelDataset: Sendable {
    public struct Item: Sendable, Equatable {
        public let imagePath: String
        public let label: Int
        public let row: Int
    }

    public let csvPath: String
    public let items: [Item]
    public var count: Int { items.count }
    /// Number of classes: the largest label + 1.
    public var classCount: Int { (items.map(\.label).max() ?? -1) + 1 }

    public init(csvPath: String, imageKey: String = "image", labelKey: String = "label",
                delimiter: Character = ",", checkFiles: Bool = true) throws {
        let table = try CSV.read(path: csvPath, delimiter: delimiter)
        let root = URL(fileURLWithPath: csvPath).deletingLastPathComponent().path
        let imageColumn = try table.column(imageKey), labelColumn = try table.column(labelKey)
        self.items = try table.rows.enumerated().map { r, fields in
            let row = r + 1
            let text = fields[labelColumn].trimmingCharacters(in: .whitespaces)
            // Bounded so that the class count (largest label + 1) cannot overflow.
            guard let label = Int(text), label >= 0, label < Int(Int32.max) else {
                throw DatasetError(.badValue, file: csvPath, row: row,
                                   "label '\(fields[labelColumn])' is not a class index (an integer from 0 to \(Int32.max - 1))")
            }
            let path = try ImageCaptionDataset.resolve(fields[imageColumn], root: root, csv: csvPath, row: row, check: checkFiles)
            return Item(imagePath: path, label: label, row: row)
        }
        self.csvPath = csvPath
    }
}

/// Combines a seed with further values (SplitMix64 finaliser per step) into a new seed, so that
/// per-epoch and per-sample generators are independent of each other and of evaluation order.
package func mixSeed(_ seed: UInt64, _ values: UInt64...) -> UInt64 {
    var h = seed
    for v in values {
        h ^= v &+ 0x9E37_79B9_7F4A_7C15 &+ (h << 6) &+ (h >> 2)
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 31
    }
    return h
}
