import CleanCLIP
import Foundation
import Testing

/// Writes `count` small PNGs of different sizes and a CSV; returns the CSV path.
func writeDataset(in dir: URL, count: Int, extraHeader: String = "", extra: (Int) -> String = { _ in "" }) throws -> String {
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("images"), withIntermediateDirectories: true)
    var csv = "image,caption" + extraHeader + "\n"
    for i in 0..<count {
        let w = 40 + 3 * i, h = 30 + 2 * (i % 4)
        let pixels = (0..<(w * h * 3)).map { UInt8(truncatingIfNeeded: $0 &* (7 + i) &+ i * 31) }
        try ImageEncoder.writePNG(try RGBImage(width: w, height: h, pixels: pixels),
                                  to: dir.appendingPathComponent("images/img\(i).png").path)
        csv += "images/img\(i).png,\"A photo of dog number \(i), running on the beach\"" + extra(i) + "\n"
    }
    let path = dir.appendingPathComponent("train.csv").path
    try csv.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Test func captionDatasetResolvesPathsAndAugmentedColumns() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try writeDataset(in: dir, count: 3, extraHeader: ",augmented_caption,augmented_image") {
        ",aug caption \($0),images/img\(($0 + 1) % 3).png"
    }
    let data = try ImageCaptionDataset(csvPath: path)
    #expect(data.count == 3)
    #expect(data.items[0].imagePath == dir.path + "/images/img0.png")
    #expect(data.items[1].augmentedCaption == "aug caption 1")
    #expect(data.items[2].augmentedImagePath == dir.path + "/images/img0.png")
    #expect(data.items[2].row == 3)
}

@Test func captionDatasetReportsMissingImageWithRow() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try writeDataset(in: dir, count: 3)
    try FileManager.default.removeItem(at: dir.appendingPathComponent("images/img1.png"))
    do {
        _ = try ImageCaptionDataset(csvPath: path)
        Issue.record("expected an error")
    } catch let e as DatasetError {
        #expect(e.kind == .missingImage && e.row == 2)
        #expect(e.description.contains("train.csv") && e.description.contains("img1.png"))
    }
    do {
        _ = try ImageCaptionDataset(csvPath: path, captionKey: "text")
        Issue.record("expected an error")
    } catch let e as DatasetError {
        #expect(e.kind == .missingColumn && e.description.contains("'text'"))
    }
}

@Test func labelDatasetParsesLabels() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    _ = try writeDataset(in: dir, count: 2)
    let csv = dir.appendingPathComponent("labels.csv").path
    try "image,label\nimages/img0.png,3\nimages/img1.png, 7\n".write(toFile: csv, atomically: true, encoding: .utf8)
    let data = try ImageLabelDataset(csvPath: csv)
    #expect(data.items.map(\.label) == [3, 7])
    #expect(data.classCount == 8)
    try "image,label\nimages/img0.png,cat\n".write(toFile: csv, atomically: true, encoding: .utf8)
    #expect(throws: DatasetError.self) { try ImageLabelDataset(csvPath: csv) }
}

@Test func labelLoaderYieldsAllImages() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    _ = try writeDataset(in: dir, count: 5)
    let csv = dir.appendingPathComponent("labels.csv").path
    try ("image,label\n" + (0..<5).map { "images/img\($0).png,\($0 % 2)" }.joined(separator: "\n"))
        .write(toFile: csv, atomically: true, encoding: .utf8)
    let loader = try LabelBatchLoader(dataset: try ImageLabelDataset(csvPath: csv), preprocessor: CLIPPreprocessor(size: 32),
                                      batchSize: 2, seed: 3)
    let batches = Array(loader)
    #expect(loader.error == nil)
    #expect(batches.map(\.images.shape) == [[2, 3, 32, 32], [2, 3, 32, 32], [1, 3, 32, 32]])
    #expect(batches.flatMap(\.indices).sorted() == [0, 1, 2, 3, 4])
    #expect(batches.flatMap(\.labels) == batches.flatMap(\.indices).map { $0 % 2 })
}
