import Foundation

/// A small RFC 4180 CSV table for the backdoor tools (poisoning, evaluation and scoring CSVs):
/// a header row, quoted fields with "" escapes and embedded commas/newlines, LF or CRLF.
///
/// Internal on purpose: the data-loading code (Sources/CleanCLIP/Data) has its own reader for
/// training CSVs; this one only serves the files read and written here.
struct BackdoorCSV {
    var header: [String]
    var rows: [[String]]
    /// The file it was read from (for messages) and its directory (image paths are relative to it,
    /// as in CleanCLIP).
    var path: String

    init(header: [String], rows: [[String]], path: String) {
        self.header = header
        self.rows = rows
        self.path = path
    }

    var directory: String {
        let dir = (path as NSString).deletingLastPathComponent
        if dir.hasPrefix("/") { return dir }
        return (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(dir.isEmpty ? "." : dir)
    }

    static func read(path: String) throws -> BackdoorCSV {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BackdoorDataError("\(path): cannot read the CSV file")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw BackdoorDataError("\(path): the CSV file is not UTF-8") }
        var records = try parse(text, path: path)
        guard !records.isEmpty else { throw BackdoorDataError("\(path): the CSV file is empty (no header row)") }
        let header = records.removeFirst().map { $0.trimmingCharacters(in: .whitespaces) }
        for (i, r) in records.enumerated() where r.count != header.count {
            throw BackdoorDataError("\(path): row \(i + 1) has \(r.count) fields; the header has \(header.count)")
        }
        return BackdoorCSV(header: header, rows: records, path: path)
    }

    /// The index of a column, or an error naming the columns that exist.
    func column(_ name: String) throws -> Int {
        guard let i = header.firstIndex(of: name) else {
            throw BackdoorDataError("\(path): no column '\(name)'; columns are \(header.map { "'\($0)'" }.joined(separator: ", "))")
        }
        return i
    }

    /// The absolute path of an image named in row `row` of column `col`, checked to exist.
    func imagePath(row: Int, column col: Int) throws -> String {
        let name = rows[row][col]
        guard !name.isEmpty else { throw BackdoorDataError("\(path): row \(row + 1) has an empty image path") }
        let full = name.hasPrefix("/") ? name : (directory as NSString).appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: full) else {
            throw BackdoorDataError("\(path): row \(row + 1): image file '\(name)' not found (looked at \(full))")
        }
        return full
    }

    func write(to path: String) throws {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var out = header.map(field).joined(separator: ",") + "\n"
        for r in rows { out += r.map(field).joined(separator: ",") + "\n" }
        let tmp = path + ".tmp-\(getpid())"
        do {
            try out.write(toFile: tmp, atomically: false, encoding: .utf8)
            guard rename(tmp, path) == 0 else { throw BackdoorDataError("\(path): cannot move the CSV into place") }
        } catch let e as BackdoorDataError {
            unlink(tmp)
            throw e
        } catch {
            unlink(tmp)
            throw BackdoorDataError("\(path): cannot write the CSV: \(error.localizedDescription)")
        }
    }

    static func parse(_ text: String, path: String) throws -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var inQuotes = false, fieldStarted = false
        var it = Array(text.unicodeScalars)[...]
        if it.first == "\u{FEFF}" { it = it.dropFirst() }  // byte-order mark
        var i = it.startIndex
        func endRecord() {
            record.append(field)
            if !(record.count == 1 && record[0].isEmpty && !fieldStarted) { records.append(record) }
            record = []
            field = ""
            fieldStarted = false
        }
        while i < it.endIndex {
            let c = it[i]
            if inQuotes {
                if c == "\"" {
                    if it.index(after: i) < it.endIndex && it[it.index(after: i)] == "\"" {
                        field.unicodeScalars.append("\"")
                        i = it.index(after: i)
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.unicodeScalars.append(c)
                }
            } else {
                switch c {
                case "\"" where field.isEmpty: inQuotes = true; fieldStarted = true
                case ",": record.append(field); field = ""; fieldStarted = true
                case "\r": break
                case "\n": endRecord()
                default: field.unicodeScalars.append(c); fieldStarted = true
                }
            }
            i = it.index(after: i)
        }
        if inQuotes { throw BackdoorDataError("\(path): a quoted field is not closed before the end of the file") }
        if !field.isEmpty || !record.isEmpty || fieldStarted { endRecord() }
        return records
    }
}

/// A data-set file that cannot be used by poisoning, evaluation or scoring: unreadable CSV, a
/// missing column, a row with the wrong number of fields, a listed image that does not exist or
/// does not decode (the message names the file and the 1-based data row).
public struct BackdoorDataError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
