import ArgumentParser
import CleanCLIP
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Print inference throughput with random weights (build with -c release).",
        discussion: "Compare with scripts/bench_torch.py (and scripts/bench_torch_train.py for --training), which print PyTorch's figures for the same shapes.")

    @Option(help: "Comma-separated architectures: \(CLIPConfig.presets.keys.sorted().joined(separator: ", ")).")
    var models: String = "ViT-B/32,RN50"

    @Option(help: "Batch size.")
    var batch: Int = 16

    @Option(help: "Timed iterations per measurement (after one warm-up).")
    var iterations: Int = 3

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("buffer-cache-mb"), help: "Cap on idle tensor memory kept for reuse (default: none; idle memory never lifts live + idle more than 1/16 above the peak of live memory). Lower trades speed for memory.")
    var bufferCacheMB: Int?

    @Flag(help: "Also time a CleanCLIP training step (batch + batch augmented views, forward, backward, AdamW).")
    var training = false

    func validate() throws {
        try Bounds.check(batch, "--batch", 1...4096)
        try Bounds.check(iterations, "--iterations", 1...1_000_000)
        try Bounds.checkThreads(threads)
        try Bounds.check(bufferCacheMB, "--buffer-cache-mb", 0...(Int.max >> 20))
    }

    func run() throws {
        if let threads { Threads.count = threads }
        if let bufferCacheMB { BufferPool.shared.limitBytes = bufferCacheMB << 20 }
        print("threads: \(Threads.count), batch: \(batch)")
        for name in models.split(separator: ",").map(String.init) {
            guard let config = CLIPConfig.presets[name] else { throw ValidationError("unknown architecture '\(name)'") }
            try inference(name: name, config: config)
            if training {
                // The inference model is gone by now, so the peak below is the training step's own.
                let r = try TrainingBenchmark.run(config: config, batch: batch, iterations: iterations)
                let peak = r.peakResidentBytes.map { String(format: ", peak RSS %.2f GB", Double($0) / 1e9) } ?? ""
                print(String(format: "%-9@ CleanCLIP step    %7.2f pairs/s (%.2f s/step%@)", name as NSString,
                             r.pairsPerSecond, r.secondsPerStep, peak as NSString))
            }
        }
    }

    /// Image and text encoding throughput.
    private func inference(name: String, config: CLIPConfig) throws {
        let model = CLIPModel(randomWith: config, seed: 0)
        let s = config.imageResolution
        var rng = SeededRandom(seed: 1)
        let pixels = Tensor.randomNormal([batch, 3, s, s], std: 1, using: &rng)
        let imageRate = try rate { _ = try model.encodeImage(pixels) }
        print(String(format: "%-9@ image            %7.2f img/s", name as NSString, imageRate))
        for (label, captions) in Self.captionSets {
            let texts = (0..<batch).map { captions[$0 % captions.count] }
            let ids = try CLIPTokenizer.standard.tokenize(texts, contextLength: config.contextLength)
            let textRate = try rate { _ = try model.encodeText(tokens: ids, batch: batch) }
            print(String(format: "%-9@ text %-14@ %7.2f txt/s", name as NSString, label as NSString, textRate))
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

    /// Typical captions: zero-shot prompts, CC3M-style sentences, and text that fills all 77 tokens.
    static let captionSets: [(String, [String])] = [
        ("prompt", ["a photo of a dog.", "a photo of a banana.", "a photo of a tabby cat."]),
        ("CC3M caption", [
            "actor attends the premiere of the film at the festival in the city",
            "a young woman walks along the beach at sunset with her dog",
            "aerial view of the historic old town and the river in autumn",
            "close up of a red apple on a wooden table in the kitchen",
            "the team celebrates after scoring a goal during the second half of the match",
        ]),
        ("77 tokens", [Array(repeating: "the quick brown fox jumps over the lazy dog", count: 10).joined(separator: " ")]),
    ]
}
