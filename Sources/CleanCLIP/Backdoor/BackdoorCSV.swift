import Foundation

/// The CSVs the backdoor tools read and write (poisoning, evaluation and scoring), on top of the
/// data layer's RFC 4180 reader (`CSV.read`): image paths resolved against the CSV's folder as in
/// CleanCLIP and checked to exist, and a writer for the files produced here. Errors are
/// `DatasetError`s naming the file and the 1-based data row.
struct BackdoorCSV {
    var header: [String]
    var rows: [[String]]
    /// The file it was read from or is written to (for messages).
    var path: String
    /// The delimiter it was read with (for the tab-separated hint in a missing-column error).
    var delimiter: Character = ","

    init(header: [String], rows: [[String]], path: String) {
        self.header = header
        self.rows = rows
        self.path = path
    }

    static func read(path: String, delimiter: Character = ",") throws -> BackdoorCSV {
        let table = try CSV.read(path: path, delimiter: delimiter)
        var csv = BackdoorCSV(header: table.header, rows: table.rows, path: path)
        csv.delimiter = delimiter
        return csv
    }

    /// The folder image paths are relative to, made absolute.
    var directory: String {
        let dir = (path as NSString).deletingLastPathComponent
        if dir.hasPrefix("/") { return dir }
        return (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(dir.isEmpty ? "." : dir)
    }

    /// The index of a column, or an error naming the columns that exist.
    func column(_ name: String) throws -> Int {
        guard let i = header.firstIndex(of: name) else {
            throw CSVDelimiter.missingColumn(name, header: header, path: path, delimiter: delimiter)
        }
        return i
    }

    /// The absolute path of the image named in data row `row` (0-based) of column `col`, checked to exist.
    func imagePath(row: Int, column col: Int) throws -> String {
        let name = rows[row][col]
        guard !name.isEmpty else { throw DatasetError(.badValue, file: path, row: row + 1, "empty image path") }
        let full = name.hasPrefix("/") ? name : (directory as NSString).appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: full) else {
            throw DatasetError(.missingImage, file: path, row: row + 1, "image file '\(name)' not found (\(full))")
        }
        return full
    }

    /// Writes the table (quoting fields with commas, quotes or newlines), atomically.
    func write(to path: String) throws {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var out = header.map(field).joined(separator: ",") + "\n"
        for r in rows { out += r.map(field).joined(separator: ",") + "\n" }
        do {
            try AtomicFile.write(out, to: path)
        } catch {
            throw DatasetError(.unreadable, file: path, "cannot write the CSV: \(error)")
        }
    }
}
