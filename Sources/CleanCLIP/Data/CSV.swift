import ErrorKinds
import Files
import Foundation

/// Errors from reading datasets; every message names the file, and the row where there is one.
public struct DatasetError: KindedError, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        case unreadable, malformedCSV, missingColumn, missingImage, badValue, noAugmentedCaptions, imageDecoding
    }
    public let kind: Kind
    /// The CSV file (or image) concerned.
    public let file: String
    /// 1-based data row (the header is row 0), when the problem is in a row.
    public let row: Int?
    public let detail: String
    /// The general kind: a file that cannot be read or written is `.io` (or the kind of the
    /// `FileError` behind it), a missing image `.notFound`, anything else `.malformedFile`.
    public let errorKind: ErrorKind

    public init(_ kind: Kind, file: String, row: Int? = nil, _ detail: String) {
        self.init(kind, file: file, row: row, detail, errorKind: nil)
    }

    /// A file error met while reading `file`.
    init(_ kind: Kind, file: String, _ error: FileError) {
        self.init(kind, file: file, row: nil, error.reason, errorKind: error.errorKind)
    }

    private init(_ kind: Kind, file: String, row: Int?, _ detail: String, errorKind: ErrorKind?) {
        self.kind = kind; self.file = file; self.row = row; self.detail = detail
        switch kind {
        case .unreadable: self.errorKind = errorKind ?? .io
        case .missingImage: self.errorKind = .notFound
        case .malformedCSV, .missingColumn, .badValue, .noAugmentedCaptions, .imageDecoding: self.errorKind = .malformedFile
        }
    }

    /// Equal when kind, file, row and detail are: the general kind follows from them.
    public static func == (a: DatasetError, b: DatasetError) -> Bool {
        a.kind == b.kind && a.file == b.file && a.row == b.row && a.detail == b.detail
    }

    public var description: String {
        if let row { return "\(file), row \(row): \(detail)" }
        return "\(file): \(detail)"
    }
}

/// A parsed CSV file: a header row and data rows, all as strings.
public struct CSVTable: Sendable {
    public let header: [String]
    public let rows: [[String]]
    /// The 1-based line of the file where each data row starts (rows can span lines).
    public let lines: [Int]
    public let path: String
    /// The delimiter the file was read with (for the hint when a tab-separated file was read with commas).
    public var delimiter: Character = ","

    /// The index of column `name`, or an error naming the file and the columns it has.
    public func column(_ name: String) throws -> Int {
        guard let i = header.firstIndex(of: name) else {
            throw CSVDelimiter.missingColumn(name, header: header, path: path, delimiter: delimiter)
        }
        return i
    }
}

/// RFC 4180 CSV, as Python's `csv` module and pandas read it: fields separated by `delimiter`;
/// a field starting with `"` is quoted and may contain delimiters, newlines and doubled quotes
/// (`""` for `"`); records end with LF or CRLF; a UTF-8 byte-order mark is skipped; blank lines
/// are skipped. Every record must have as many fields as the header.
public enum CSV {
    public static func read(path: String, delimiter: Character = ",") throws -> CSVTable {
        let bytes: [UInt8]
        do { bytes = try RegularFile.read(path) } catch let e as FileError {
            throw DatasetError(.unreadable, file: path, e)
        }
        return try parse(bytes, path: path, delimiter: delimiter)
    }

    public static func parse(_ text: String, path: String = "<string>", delimiter: Character = ",") throws -> CSVTable {
        try parse(Array(text.utf8), path: path, delimiter: delimiter)
    }

    public static func parse(_ bytes: [UInt8], path: String, delimiter: Character = ",") throws -> CSVTable {
        guard let sep = delimiter.asciiValue, sep != UInt8(ascii: "\""), sep != 0x0A, sep != 0x0D else {
            throw DatasetError(.malformedCSV, file: path, "unsupported delimiter \(delimiter.debugDescription)")
        }
        var records: [[String]] = [], starts: [Int] = []
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        let n = bytes.count
        while i < n {
            // Skip blank lines.
            if bytes[i] == 0x0A { i += 1; line += 1; continue }
            if bytes[i] == 0x0D && i + 1 < n && bytes[i + 1] == 0x0A { i += 2; line += 1; continue }
            let startLine = line
            var fields: [String] = []
            var field: [UInt8] = []
            var endOfRecord = false
            while !endOfRecord {
                field.removeAll(keepingCapacity: true)
                if i < n && bytes[i] == UInt8(ascii: "\"") {
                    // Quoted field.
                    i += 1
                    var closed = false
                    while i < n {
                        let b = bytes[i]
                        if b == UInt8(ascii: "\"") {
                            if i + 1 < n && bytes[i + 1] == UInt8(ascii: "\"") { field.append(b); i += 2; continue }
                            i += 1; closed = true; break
                        }
                        if b == 0x0A { line += 1 }
                        field.append(b); i += 1
                    }
                    if !closed {
                        throw DatasetError(.malformedCSV, file: path, row: records.count,
                                           "unterminated quoted field starting on line \(startLine)")
                    }
                    // Characters after the closing quote up to the delimiter are kept (Python's csv does).
                    while i < n && bytes[i] != sep && bytes[i] != 0x0A && bytes[i] != 0x0D { field.append(bytes[i]); i += 1 }
                } else {
                    while i < n && bytes[i] != sep && bytes[i] != 0x0A && bytes[i] != 0x0D { field.append(bytes[i]); i += 1 }
                }
                fields.append(String(decoding: field, as: UTF8.self))
                if i >= n {
                    endOfRecord = true
                } else if bytes[i] == sep {
                    i += 1
                } else {
                    // LF, CRLF or a lone CR ends the record.
                    if bytes[i] == 0x0D { i += 1 }
                    if i < n && bytes[i] == 0x0A { i += 1 }
                    line += 1
                    endOfRecord = true
                }
            }
            records.append(fields); starts.append(startLine)
        }
        guard let header = records.first else {
            throw DatasetError(.malformedCSV, file: path, "empty file (no header row)")
        }
        for (r, record) in records.enumerated().dropFirst() where record.count != header.count {
            throw DatasetError(.malformedCSV, file: path, row: r,
                               "\(record.count) fields where the header has \(header.count) (line \(starts[r]))"
                                + CSVDelimiter.hint(header: header, delimiter: delimiter))
        }
        return CSVTable(header: header, rows: Array(records.dropFirst()), lines: Array(starts.dropFirst()), path: path,
                        delimiter: delimiter)
    }
}
