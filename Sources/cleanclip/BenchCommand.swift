import ArgumentParser
import CleanCLIP
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Print inference throughput with random weights (build with -c release).",
        discussion: "Compare with scripts/bench_torch.py, which prints PyTorch's figures for the same shapes.")

    @Option(help: "Comma-separated architectures: \(CLIPConfig.presets.keys.sorted().joined(separator: ", ")).")
    var models: String = "ViT-B/32,RN50"

    @Option(help: "Batch size.")
    var batch: Int = 16

    @Option(help: "Timed iterations per measurement (after one warm-up).")
    var iterations: Int = 3

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func run() throws {
        if let threads { Threads.count = threads }
        print("threads: \(Threads.count), batch: \(batch)")
        for name in models.split(separator: ",").map(String.init) {
            guard let config = CLIPConfig.presets[name] else { throw ValidationError("unknown architecture '\(name)'") }
            let model = CLIPModel(randomWith: config, seed: 0)
            let s = config.imageResolution
            var rng = SeededRandom(seed: 1)
            let pixels = Tensor.randomNormal([batch, 3, s, s], std: 1, using: &rng)
            let imageRate = try rate { _ = try model.encodeImage(pixels) }
            print(String(format: "%-9@ image            %7.2f img/s", name as NSString, imageRate))
            // Token lengths including SOT/EOT: "a photo of a dog." is 7; CC3M captions ~ 10-25; 77 is the maximum.
            for (label, lengths) in [("short caption", [7]), ("CC3M caption", [12, 15, 18, 21, 24]), ("77 tokens", [77])] {
                let ids = syntheticTokens(lengths: lengths, count: batch, context: config.contextLength, rng: &rng)
                let textRate = try rate { _ = try model.encodeText(tokens: ids, batch: batch) }
                print(String(format: "%-9@ text %-14@ %7.2f txt/s", name as NSString, label as NSString, textRate))
            }
        }
    }

    /// Items per second of `body` (one warm-up run, then `iterations` timed runs).
    private func rate(_ body: () throws -> Void) throws -> Double {
        try body()
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<iterations { try body() }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Double(batch * iterations) / seconds
    }

    /// Token rows [SOT, words..., EOT, 0...] with lengths cycling through `lengths`.
    private func syntheticTokens(lengths: [Int], count: Int, context: Int, rng: inout SeededRandom) -> [Int32] {
        var ids = [Int32](repeating: 0, count: count * context)
        for i in 0..<count {
            let n = min(lengths[i % lengths.count], context)
            ids[i * context] = 49406
            for j in 1..<(n - 1) { ids[i * context + j] = Int32(rng.next() % 49000) + 1 }
            ids[i * context + n - 1] = 49407
        }
        return ids
    }
}
