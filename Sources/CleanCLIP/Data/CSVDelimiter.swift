import Foundation

/// The field delimiter of a CSV file, as a user names it (CleanCLIP's `--delimiter`): one ASCII
/// character, with `\t`, `tab` and a literal tab meaning tab. Quotes, newlines and NUL are refused.
/// ```
/// try CSVDelimiter.parse("\\t")   // "\t"
/// try CSVDelimiter.parse(";")     // ";"
/// ```
package enum CSVDelimiter {
    package static func parse(_ text: String) throws -> Character {
        switch text {
        case "\\t", "tab", "TAB", "\t": return "\t"
        case "comma": return ","
        default: break
        }
        guard text.count == 1, let c = text.first, let a = c.asciiValue, a != 0, c != "\"", c != "\n", c != "\r" else {
            throw DatasetError(.badValue, file: "<delimiter>",
                               "delimiter \(text.debugDescription) is not one ASCII character (use ',', '\\t' or 'tab', ';', '|')")
        }
        return c
    }

    /// A hint for a file read with a comma whose header has tabs but no comma: it is most likely
    /// tab-separated (CleanCLIP's CC3M files often are). Empty when there is nothing to suggest.
    static func hint(header: [String], delimiter: Character) -> String {
        guard delimiter == ",", header.count == 1, header[0].contains("\t") else { return "" }
        return "; the header has tabs but no commas: is this a tab-separated file? Read it with delimiter '\\t' "
            + "(command line: --delimiter '\\t')"
    }

    /// The error for a missing column, naming the columns that exist (and the delimiter hint).
    static func missingColumn(_ name: String, header: [String], path: String, delimiter: Character) -> DatasetError {
        DatasetError(.missingColumn, file: path,
                     "no column '\(name)' (columns: \(header.map { "'\($0)'" }.joined(separator: ", ")))"
                        + hint(header: header, delimiter: delimiter))
    }
}
