import ArgumentParser
import CleanCLIP
import Foundation

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenise captions (one per line) with CLIP's BPE into int32 (n, context) .npy.")

    @Option(name: .customLong("text-file"), help: "UTF-8 text file, one caption per line.")
    var textFile: String

    @Option(help: "Output .npy path.")
    var out: String

    @Option(name: .customLong("context-length"), help: "Tokens per caption.")
    var contextLength: Int = 77

    @Flag(name: .customLong("no-truncate"), help: "Fail on captions longer than the context (OpenAI's behaviour) instead of truncating.")
    var noTruncate = false

    func validate() throws {
        try Bounds.check(contextLength, "--context-length", 2...65_536)
    }

    func run() throws {
        let captions = try readLines(textFile)
        let ids = try CLIPTokenizer.standard.tokenize(captions, contextLength: contextLength, truncate: !noTruncate)
        try NumPy.write(ids, shape: [captions.count, contextLength], to: out)
        print("wrote \(out): \(captions.count) x \(contextLength)")
    }
}

/// The lines of a UTF-8 text file (a trailing newline does not make an extra empty line).
func readLines(_ path: String) throws -> [String] {
    let bytes: [UInt8]
    do { bytes = try RegularFile.read(path) } catch let e as FileError { throw ValidationError("cannot read \(e)") }
    guard let text = String(validating: bytes, as: UTF8.self) else { throw ValidationError("\(path) is not valid UTF-8") }
    var lines = text.components(separatedBy: "\n").map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
    if lines.last == "" { lines.removeLast() }
    return lines
}
