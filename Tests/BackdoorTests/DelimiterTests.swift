import CleanCLIP
import Foundation
import Testing

/// Issue 14, item 3: tab-separated files (CleanCLIP's `--delimiter`) failed with no hint.
@Suite struct DelimiterTests {
    @Test(arguments: [("\\t", "\t"), ("tab", "\t"), ("\t", "\t"), (",", ","), (";", ";"), ("|", "|"), ("comma", ",")])
    func namesOfDelimiters(_ text: String, _ expected: String) throws {
        #expect(try CSVDelimiter.parse(text) == Character(expected))
    }

    @Test(arguments: ["", "ab", "\"", "\n", "é", "\0"])
    func badDelimitersAreErrors(_ text: String) {
        #expect(throws: DatasetError.self) { try CSVDelimiter.parse(text) }
    }

    @Test func tabSeparatedFilesReadWithTheirDelimiter() throws {
        let tsv = "image\tcaption\na.jpg\tone, two\nb.jpg\tthree\n"
        let t = try CSV.parse(tsv, path: "d.tsv", delimiter: "\t")
        #expect(t.header == ["image", "caption"])
        #expect(t.rows == [["a.jpg", "one, two"], ["b.jpg", "three"]])
    }

    @Test func aTabSeparatedFileReadWithCommasHintsAtTheDelimiter() throws {
        // A caption with a comma: a record-length error; without one, a missing column. Both hint.
        let e1 = try #require(throws: DatasetError.self) {
            try CSV.parse("image\tcaption\na.jpg\tone, two\n", path: "d.tsv")
        }
        #expect(e1.description.contains("--delimiter '\\t'"), "\(e1)")
        let t = try CSV.parse("image\tcaption\na.jpg\tone\n", path: "d.tsv")
        let e2 = try #require(throws: DatasetError.self) { try t.column("image") }
        #expect(e2.description.contains("no column 'image'") && e2.description.contains("--delimiter '\\t'"), "\(e2)")
        // A comma-separated file with a missing column gets no such hint.
        let c = try CSV.parse("img,caption\na.jpg,one\n", path: "d.csv")
        let e3 = try #require(throws: DatasetError.self) { try c.column("image") }
        #expect(!e3.description.contains("delimiter"), "\(e3)")
    }

    @Test func evaluationDataTakesTheDelimiter() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tsv-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let csv = dir + "/train.tsv"
        try "image\tcaption\n\(dir)/x.jpg\ta, b\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let d = try ImageCaptionDataset(csvPath: csv, delimiter: "\t", checkFiles: false)
        #expect(d.items.map(\.caption) == ["a, b"])
        #expect(throws: DatasetError.self) { try ImageCaptionDataset(csvPath: csv, checkFiles: false) }
    }
}
