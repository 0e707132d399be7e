import Files
import Foundation

extension NumPy {
    /// The .npy 1.0 preamble for C-ordered `descr` data of `shape`: magic, version, header
    /// length, and the header dict padded with spaces to a multiple of 64 bytes.
    package static func header(descr: String, shape: [Int]) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(\(shape.map(String.init).joined(separator: ", ")))"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let n = header.utf8.count
        return [0x93] + Swift.Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Swift.Array(header.utf8)
    }

    /// Writes a float32 (`rows`, `columns`) .npy whose rows arrive batch by batch, without
    /// holding them all: the header (with the row count known up front) goes first, then
    /// `produce` hands batches of whole rows to `append`, which writes them at once. The file
    /// is written atomically (`AtomicFile`): until every row has arrived, readers see the old
    /// file or none; a `produce` that throws, or hands over more or fewer rows than announced,
    /// leaves no file behind.
    /// ```
    /// try NumPy.writeRows(to: "e.npy", rows: 3, columns: 2) { append in
    ///     try append([1, 2, 3, 4])   // rows 0 and 1
    ///     try append([5, 6])         // row 2
    /// }
    /// ```
    package static func writeRows(to path: String, rows: Int, columns: Int,
                                  _ produce: (_ append: ([Float]) throws -> Void) throws -> Void) throws {
        guard rows >= 0, columns >= 0 else {
            throw CheckpointError(path: path, "cannot write \(rows) x \(columns) rows", kind: .invalidArgument)
        }
        do {
            try AtomicFile.write(to: path) { sink in
                try header(descr: "<f4", shape: [rows, columns]).withUnsafeBytes { try sink.write($0) }
                var written = 0
                try produce { batch in
                    guard columns > 0 ? batch.count % columns == 0 : batch.isEmpty else {
                        throw CheckpointError(path: path, "a batch of \(batch.count) values is not whole rows of \(columns)",
                                              kind: .invalidArgument)
                    }
                    let n = columns > 0 ? batch.count / columns : 0
                    guard n <= rows - written else {
                        throw CheckpointError(path: path, "more than the announced \(rows) rows", kind: .invalidArgument)
                    }
                    try batch.withUnsafeBytes { try sink.write($0) }
                    written += n
                }
                guard written == rows || columns == 0 else {
                    throw CheckpointError(path: path, "\(written) rows written where \(rows) were announced", kind: .invalidArgument)
                }
            }
        } catch let e as FileError {
            throw CheckpointError(path: path, e)
        }
    }
}
