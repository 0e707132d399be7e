import CleanCLIP
import FuzzSupport

/// Training and evaluation CSV files (RFC 4180 as Python's csv module reads it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    for delimiter: Character in [",", "\t"] {
        guard let table = try? CSV.parse(input, path: "input.csv", delimiter: delimiter) else { Tally.count("refused"); continue }
        Tally.count("parsed")
        precondition(table.rows.count == table.lines.count)
        for row in table.rows { precondition(row.count == table.header.count) }
        _ = try? table.column("image")
    }
    return 0
}
