import ArgumentParser
import CleanCLIP
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Print inference (and training) throughput with random weights, with GFLOP/s against the measured sgemm and the cores' arithmetic limit.",
        discussion: """
            `make bench` (scripts/bench.py) runs this beside PyTorch (open_clip) and onnxruntime on the same \
            machine, interleaved, and prints one table of same-run ratios.
            """)

    @Option(help: "Comma-separated architectures: \(CLIPConfig.presets.keys.sorted().joined(separator: ", ")).")
    var models: String = "ViT-B/32,RN50"

    @Option(help: "Batch size.")
    var batch: Int = 16

    @Option(help: "Timed iterations per measurement (after one warm-up).")
    var iterations: Int = 3

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("buffer-cache-mb"), help: "Cap on idle tensor memory kept for reuse (default: none; idle memory never lifts live + idle more than 1/32 (at least 128 MiB) above the peak of live memory). Lower trades speed for memory.")
    var bufferCacheMB: Int?

    @Flag(help: "Also time a CleanCLIP training step (batch + batch augmented views, forward, backward, AdamW).")
    var training = false

    @Flag(help: "Skip inference (with --training: time only the training step).")
    var noInference = false

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        try Bounds.check(batch, "--batch", 1...4096)
        try Bounds.check(iterations, "--iterations", 1...1_000_000)
        try Bounds.checkThreads(threads)
        try Bounds.check(bufferCacheMB, "--buffer-cache-mb", 0...(Int.max >> 20))
        for name in modelNames where CLIPConfig.presets[name] == nil {
            throw ValidationError("unknown architecture '\(name)' (\(CLIPConfig.presets.keys.sorted().joined(separator: ", ")))")
        }
    }

    var modelNames: [String] { models.split(separator: ",").map(String.init) }

    func run() throws {
        if let threads { Threads.count = threads }
        if let bufferCacheMB { BufferPool.shared.limitBytes = max(0, bufferCacheMB) << 20 }
        let limit = BLASBackend.measurePeak(seconds: 1)
        let peak = Peaks(sgemm: BLASBackend.measureSGEMM(seconds: 1), cores: limit.gflops)
        var report: [String: Any] = [
            "blas": BLASBackend.status.description, "kernel": BLASBackend.status.kernel,
            "cpu": BLASBackend.cpuFeatures.summary, "threads": Threads.count, "batch": batch, "sgemm_gflops": peak.sgemm,
            "peak_gflops": limit.gflops, "peak_instructions": limit.instructions,
        ]
        if !json {
            print("blas:    \(BLASBackend.status)")
            print("cpu:     \(BLASBackend.cpuFeatures.summary)")
            print(String(format: "sgemm:   %.1f GFLOP/s (800x3072x768), threads: %d, batch: %d", peak.sgemm, Threads.count, batch))
            print(String(format: "limit:   %.1f GFLOP/s (%@ in registers: no kernel runs faster on these cores)",
                         limit.gflops, limit.instructions as NSString))
        }
        var results: [String: Any] = [:]
        for name in modelNames {
            let config = CLIPConfig.presets[name]!
            var figures: [String: Any] = [:]
            if !noInference { figures.merge(try inference(name: name, config: config, peak: peak)) { $1 } }
            if training {
                // The inference model is gone by now, so the peak below is the training step's own.
                let r = try TrainingBenchmark.run(config: config, batch: batch, iterations: iterations)
                let gflops = r.flopsPerStep / r.secondsPerStep / 1e9
                figures["training"] = ["pairs_per_second": r.pairsPerSecond, "seconds_per_step": r.secondsPerStep,
                                       "peak_rss_bytes": r.peakResidentBytes ?? 0, "gflops": gflops]
                if !json {
                    let rss = r.peakResidentBytes.map { String(format: ", peak RSS %.2f GB", Double($0) / 1e9) } ?? ""
                    let tag = name + String(repeating: " ", count: max(0, 9 - name.count)) + " CleanCLIP step"
                    print(tag + String(repeating: " ", count: max(0, 28 - tag.count))
                          + String(format: "%7.2f pairs/s  %6.1f GFLOP/s (%@; %.2f s/step%@)", r.pairsPerSecond,
                                   gflops, peak.shares(gflops) as NSString, r.secondsPerStep, rss as NSString))
                }
            }
            results[name] = figures
        }
        report["models"] = results
        if json {
            let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    /// Image and text encoding throughput, with effective GFLOP/s (the model's nominal FLOPs
    /// per second) for the image tower and full-context text.
    private func inference(name: String, config: CLIPConfig, peak: Peaks) throws -> [String: Any] {
        let model = CLIPModel(randomWith: config, seed: 0)
        let s = config.imageResolution
        var rng = SeededRandom(seed: 1)
        let pixels = Tensor.randomNormal([batch, 3, s, s], std: 1, using: &rng)
        let imageRate = try rate { _ = try model.encodeImage(pixels) }
        let imageGFLOPs = imageRate * config.imageFLOPs / 1e9
        var figures: [String: Any] = ["image": ["per_second": imageRate, "gflops": imageGFLOPs]]
        if !json {
            let tag = name + String(repeating: " ", count: max(0, 9 - name.count)) + " image"
            print(tag + String(repeating: " ", count: max(0, 28 - tag.count))
                  + String(format: "%7.2f img/s  %6.1f GFLOP/s (%@)", imageRate, imageGFLOPs, peak.shares(imageGFLOPs) as NSString))
        }
        var text: [String: Any] = [:]
        for (label, captions) in Self.captionSets {
            let texts = (0..<batch).map { captions[$0 % captions.count] }
            let ids = try CLIPTokenizer.standard.tokenize(texts, contextLength: config.contextLength)
            let textRate = try rate { _ = try model.encodeText(tokens: ids, batch: batch) }
            var entry: [String: Any] = ["per_second": textRate]
            let tag = (name + String(repeating: " ", count: max(0, 9 - name.count))) + " text " + label
            var line = tag + String(repeating: " ", count: max(0, 28 - tag.count)) + String(format: "%7.2f txt/s", textRate)
            if label == "77 tokens" {
                let g = textRate * config.textFLOPs(tokens: config.contextLength) / 1e9
                entry["gflops"] = g
                line += String(format: "  %6.1f GFLOP/s (%@)", g, peak.shares(g) as NSString)
            }
            text[label] = entry
            if !json { print(line) }
        }
        figures["text"] = text
        return figures
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

/// The two yardsticks of the bench's GFLOP/s: the measured sgemm, and the cores' arithmetic limit.
private struct Peaks {
    let sgemm: Double, cores: Double

    /// "97% of sgemm, 88% of the limit"
    func shares(_ gflops: Double) -> String {
        String(format: "%.0f%% of sgemm, %.0f%% of the limit", 100 * gflops / sgemm, 100 * gflops / cores)
    }
}
