import Foundation
import Testing

/// The command-line tool built next to this test bundle (`swift build --build-tests` builds it).
let tool: URL? = {
    let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    return [here, here.deletingLastPathComponent()].map { $0.appendingPathComponent("cleanclip-cli") }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }
}()

/// Runs the tool; returns its exit status (128 + n for a signal) and its standard error.
func run(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
    let p = Process()
    p.executableURL = try #require(tool, "cleanclip-cli not found next to \(CommandLine.arguments[0])")
    p.arguments = arguments
    let err = Pipe()
    p.standardError = err
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    return (p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus, text)
}

let fixtureModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/models/vit_quickgelu.safetensors").path

/// Issue 12, item 5: numeric flags without bounds trapped (arithmetic overflow, a failed
/// allocation, an Int32 conversion). Every one is now a usage error naming the flag, raised
/// before any file is read.
@Suite struct FlagBoundsTests {
    @Test(arguments: [
        (["preprocess", "--size", "100000", "--out", "/tmp/x.npy", "a.png"], "--size"),
        (["preprocess", "--size", "2147483648", "--out", "/tmp/x.npy", "a.png"], "--size"),
        (["info", "--model", fixtureModel, "--threads", "3000000000"], "--threads"),
        (["embed", "--model", fixtureModel, "--text-file", "t.txt", "--out-text", "o.npy", "--batch-size", "0"], "--batch-size"),
        (["tokenize", "--text-file", "t.txt", "--out", "o.npy", "--context-length", "99999999999"], "--context-length"),
        (["finetune", "--model", "m", "--train-data", "t.csv", "--out", "o", "--epochs", "9223372036854775807"], "--epochs"),
        (["finetune", "--model", "m", "--train-data", "t.csv", "--out", "o", "--warmup-steps=-5"], "--warmup-steps"),
        (["finetune", "--model", "m", "--train-data", "t.csv", "--out", "o", "--lr", "inf"], "--lr"),
        (["finetune", "--model", "m", "--train-data", "t.csv", "--out", "o", "--weight-decay", "nan"], "--weight-decay"),
        (["finetune", "--model", "m", "--train-data", "t.csv", "--out", "o", "--max-grad-norm", "0"], "--max-grad-norm"),
        (["finetune", "--model", "m", "--train-data", "t.csv", "--out", "o", "--clip-weight=-1"], "--clip-weight"),
        (["finetune", "--model", "m", "--train-data", "t.csv", "--out", "o", "--supervised", "--batch-size", "0"], "--batch-size"),
        (["finetune", "--model", "m", "--train-data", "t.csv", "--out", "o", "--supervised", "--classes", "4294967296"], "--classes"),
        (["evaluate", "--model", "m", "--eval-data", "e.csv", "--batch-size", "9223372036854775807"], "--batch-size"),
        (["evaluate", "--model", "m", "--eval-data", "e.csv", "--patch-size=-1"], "--patch-size"),
        (["score-samples", "--model", "m", "--data", "d.csv", "--out", "o.csv", "--k", "9223372036854775807"], "--k"),
        (["poison", "--data", "d.csv", "--out", "o", "--count=-3"], "--count"),
        (["bench", "--batch", "100000000"], "--batch"),
        (["demo", "--threads", "0"], "--threads"),
    ])
    func outOfRangeFlagIsAUsageError(_ arguments: [String], _ flag: String) throws {
        let (status, stderr) = try run(arguments)
        #expect(status == 64, "exit status \(status): \(stderr)")
        #expect(stderr.contains("\(flag) must be"), "\(stderr)")
    }

    @Test func demoTakesOnePreset() throws {
        for presets in [["--quick", "--long"], ["--short", "--long"], ["--quick", "--short"]] {
            let (status, stderr) = try run(["demo"] + presets)
            #expect(status == 64 && stderr.contains("--quick, --short and --long are presets; give one"), "exit status \(status): \(stderr)")
        }
    }

    /// The demo's sizes are checked by `DemoConfig.validate()` before anything is generated.
    @Test(arguments: [["--width", "100000000"], ["--poison-fraction", "nan"], ["--train-pairs", "9223372036854775807"],
                      ["--patch-size", "0"], ["--finetune-lr=-1"], ["--warp-strength", "nan"]])
    func outOfRangeDemoSettingIsAnError(_ arguments: [String]) throws {
        let (status, stderr) = try run(["demo", "--quick"] + arguments)
        #expect(status == 1, "exit status \(status): \(stderr)")
        #expect(stderr.contains("demo: ") && stderr.contains("must be"), "\(stderr)")
    }
}
