import Foundation
import ImageIO
import TensorCore

/// Settings for `poison`.
public struct PoisonOptions: Sendable {
    public var imageColumn = "image"
    public var captionColumn = "caption"
    /// The input CSV's field delimiter ("\t" for TSV); the output CSV is comma-separated.
    package var delimiter: Character = ","
    /// Label-consistent attack: poison only rows whose caption contains the target word
    /// (case-insensitive substring; the reference's `label in caption` is case-sensitive) and
    /// keep their captions.
    public var labelConsistent = false
    /// Templates for dirty-label captions ("{}" = target). Default: OpenAI's 80 ImageNet templates.
    public var templates = ClassList.openAITemplates
    /// Keep at most this many rows in the output (poisoned included), like the reference's
    /// `--size_train_data`; nil keeps all.
    public var sizeTrainData: Int?
    /// Output folder for the poisoned images and CSV; default: the input CSV's folder.
    public var outputDirectory: String?
    /// Output CSV file name; default `backdoor_<target>_<trigger>_<location>_<size>_<rows>_<count>[_label_consistent].csv`.
    public var outputName: String?
    public init() {}
}

/// What `poison` wrote.
public struct PoisonResult: Sendable {
    /// The new CSV: columns image, caption, is_backdoor (1 for poisoned rows, 0 otherwise);
    /// poisoned rows first, then the clean rows in their original order.
    public let csvPath: String
    /// The folder holding the poisoned PNG images (its name contains "backdoor", so CleanCLIP's
    /// path-based detection also works).
    public let imageDirectory: String
    /// 0-based data rows of the input CSV that were poisoned, in output order.
    public let poisonedRows: [Int]
}

/// Planting backdoors in a data set: `Backdoor.poison(csv:trigger:target:count:seed:)`.
public enum Backdoor {}

extension Backdoor {
    /// Poisons `count` rows of an image-caption CSV in CleanCLIP's layout
    /// (`backdoor/create_backdoor_data.py`): each chosen row's image is triggered (squash to 224,
    /// trigger, PNG) and, unless label-consistent, its caption replaced by a random template filled
    /// with `target` ("a photo of a banana."). Rows are chosen by a seeded shuffle; template choices
    /// and trigger draws come from `seed` too, so a run is reproducible.
    ///
    /// Throws when a column is missing, a chosen image file is missing or unreadable (naming the
    /// row), or there are fewer eligible rows than `count`.
    /// ```
    /// let r = try Backdoor.poison(csv: "cc3m/train.csv", trigger: TriggerSpec(kind: .badnet),
    ///                    target: "banana", count: 1500, seed: 0)
    /// ```
    public static func poison(csv: String, trigger spec: TriggerSpec, target: String, count: Int, seed: UInt64,
                       warpGrid: WarpGrid? = nil, options: PoisonOptions = PoisonOptions()) throws -> PoisonResult {
        let table = try BackdoorCSV.read(path: csv, delimiter: options.delimiter)
        let imageCol = try table.column(options.imageColumn), captionCol = try table.column(options.captionColumn)
        guard count >= 1 else { throw DatasetError(.badValue, file: csv, "count must be at least 1; got \(count)") }
        guard !target.trimmingCharacters(in: .whitespaces).isEmpty else { throw DatasetError(.badValue, file: csv, "the target is empty") }
        let templates = try ClassList(names: [target], templates: options.templates).prompts(forClass: 0)
        let trigger = try Trigger(spec, seed: seed, warpGrid: warpGrid)
        var rng = SeededRandom(seed: seed)

        var candidates = Array(0..<table.rows.count)
        if options.labelConsistent {
            let word = target.lowercased()
            candidates = candidates.filter { table.rows[$0][captionCol].lowercased().contains(word) }
        }
        guard candidates.count >= count else {
            throw DatasetError(.badValue, file: csv, options.labelConsistent
                ? "only \(candidates.count) captions contain '\(target)'; cannot poison \(count) label-consistently"
                : "only \(candidates.count) rows; cannot poison \(count)")
        }
        candidates.shuffle(using: &rng)
        let chosen = Array(candidates.prefix(count))
        let captions: [String] = chosen.map { row in
            let t = Int(rng.next() % UInt64(templates.count))
            return options.labelConsistent ? table.rows[row][captionCol] : templates[t]
        }

        let outDir = options.outputDirectory ?? table.directory
        let total = min(table.rows.count, options.sizeTrainData ?? table.rows.count)
        let tag = "\(target)_\(spec.kind.referenceName)_\(locationName(spec))_\(spec.patchSize)_\(total)_\(count)"
            + (options.labelConsistent ? "_label_consistent" : "")
        let folderName = "backdoor_images_" + tag
        let folder = (outDir as NSString).appendingPathComponent(folderName)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch { throw DatasetError(.unreadable, file: folder, "cannot create the image folder: \(error.localizedDescription)") }

        // Check every chosen file exists before writing anything.
        let sources = try chosen.map { try table.imagePath(row: $0, column: imageCol) }
        var names = [String](repeating: "", count: chosen.count)
        for (i, row) in chosen.enumerated() {
            let stem = ((table.rows[row][imageCol] as NSString).lastPathComponent as NSString).deletingPathExtension
            names[i] = "\(folderName)/\(row)_\(stem).png"  // row number keeps names unique
        }
        var failures = [DatasetError?](repeating: nil, count: chosen.count)
        failures.withUnsafeMutableBufferPointer { buf in
            let out = buf.baseAddress!
            DispatchQueue.concurrentPerform(iterations: chosen.count) { i in
                let image: RGBImage
                do { image = try ImageDecoder.decode(path: sources[i]) } catch {
                    out[i] = DatasetError(.imageDecoding, file: csv, row: chosen[i] + 1, "cannot decode '\(sources[i])': \(error)")
                    return
                }
                do {
                    let poisoned = try trigger.apply(to: image, index: chosen[i])
                    try ImageEncoder.writePNG(poisoned, to: (outDir as NSString).appendingPathComponent(names[i]))
                } catch {
                    out[i] = DatasetError(.unreadable, file: csv, row: chosen[i] + 1, "cannot write the poisoned image '\(names[i])': \(error)")
                }
            }
        }
        if let first = failures.compactMap({ $0 }).first { throw first }

        // Output rows: poisoned first, then clean rows in order, up to sizeTrainData in all.
        let poisonedSet = Set(chosen)
        let relativeSource: (Int) -> String = { row in
            // Clean images keep their path, made relative to the output folder when it moved.
            let name = table.rows[row][imageCol]
            if outDir == table.directory || name.hasPrefix("/") { return name }
            return (table.directory as NSString).appendingPathComponent(name)
        }
        var rows: [[String]] = zip(names, captions).map { [$0, $1, "1"] }
        for row in 0..<table.rows.count where !poisonedSet.contains(row) && rows.count < max(total, count) {
            rows.append([relativeSource(row), table.rows[row][captionCol], "0"])
        }
        let csvName = options.outputName ?? "backdoor_\(tag).csv"
        let outPath = (outDir as NSString).appendingPathComponent(csvName)
        try BackdoorCSV(header: ["image", "caption", "is_backdoor"], rows: rows, path: outPath).write(to: outPath)
        return PoisonResult(csvPath: outPath, imageDirectory: folder, poisonedRows: chosen)
    }
}

private func locationName(_ spec: TriggerSpec) -> String {
    switch spec.kind {
    case .blended, .sig, .blendImage: return "blended"
    case .wanet: return "warped"
    default: break
    }
    switch spec.location {
    case .random: return "random"
    case .fourCorners: return "four_corners"
    case .corner(let c): return c.rawValue
    case .fixed(let r, let c): return "at_\(r)_\(c)"
    }
}
