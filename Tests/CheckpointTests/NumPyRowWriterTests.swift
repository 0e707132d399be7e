import Checkpoint
import Foundation
import Testing

/// `NumPy.writeRows`: the .npy written batch by batch (embed --image-dir / --images-from).
@Suite struct NumPyRowWriterTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("npy-rows-\(getpid())").path

    init() throws { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }

    @Test func batchesMakeTheSameFileAsOneWrite() throws {
        let values: [Float] = (0..<15).map { Float($0) * 0.5 - 3 }
        let whole = dir + "/whole.npy", rows = dir + "/rows.npy"
        try NumPy.write(values, shape: [5, 3], to: whole)
        try NumPy.writeRows(to: rows, rows: 5, columns: 3) { append in
            try append(Array(values[0..<6]))
            try append(Array(values[6..<9]))
            try append([])
            try append(Array(values[9..<15]))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: rows)) == Data(contentsOf: URL(fileURLWithPath: whole)))
        #expect(try NumPy.floats(try NumPy.read(path: rows), path: rows) == values)
    }

    @Test func zeroRows() throws {
        let p = dir + "/empty.npy"
        try NumPy.writeRows(to: p, rows: 0, columns: 4) { _ in }
        #expect(try NumPy.read(path: p).shape == [0, 4])
    }

    /// Too many rows, too few, a partial row, or a failure midway: an error, and neither the
    /// destination nor a temporary file is left behind; an existing file is kept as it was.
    @Test(arguments: [0, 1, 2, 3])
    func wrongRowCountsAndFailuresLeaveNoFile(_ mode: Int) throws {
        struct Stop: Error {}
        let p = dir + "/bad-\(mode).npy"
        try? FileManager.default.removeItem(atPath: p)
        #expect(throws: (any Error).self) {
            try NumPy.writeRows(to: p, rows: 2, columns: 2) { append in
                switch mode {
                case 0: try append([1, 2, 3, 4, 5, 6])
                case 1: try append([1, 2])
                case 2: try append([1, 2, 3])
                default: try append([1, 2]); throw Stop()
                }
            }
        }
        #expect(!FileManager.default.fileExists(atPath: p))
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".bad-\(mode)") }
        #expect(left.isEmpty, "\(left)")

        try NumPy.write([Float](repeating: 7, count: 4), shape: [2, 2], to: p)
        #expect(throws: (any Error).self) { try NumPy.writeRows(to: p, rows: 2, columns: 2) { _ in throw Stop() } }
        #expect(try NumPy.floats(try NumPy.read(path: p), path: p) == [7, 7, 7, 7])
    }
}
