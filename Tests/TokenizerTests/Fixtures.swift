import Foundation

/// Test fixtures written by scripts/fixtures/make_tokenizer_fixtures.py.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizer")

    struct Case {
        let text: String
        let ids: [Int32]
    }

    /// Reads a JSON-lines file of `{"t": text, "ids": [...]}`.
    static func cases(_ name: String) throws -> [Case] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return try data.split(separator: UInt8(ascii: "\n")).map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
            return Case(text: object["t"] as! String, ids: (object["ids"] as! [NSNumber]).map(\.int32Value))
        }
    }
}
