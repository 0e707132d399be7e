import CLIP
import Foundation
import TensorCore

/// Throughput of CleanCLIP finetuning steps on random weights and data, for `cleanclip bench`.
///
/// Each step encodes B original + B augmented images and B + B captions in one pass, computes
/// the CleanCLIP loss, back-propagates and applies AdamW, exactly as `Trainer.step`. Captions
/// are random token ids of 8 to 20 tokens (CC3M-like lengths); the text tower runs only up to
/// the longest caption's end-of-text token (PyTorch's open_clip always runs all 77 positions).
package enum TrainingBenchmark {
    package struct Result: Sendable, CustomStringConvertible {
        package let architecture: String
        package let batch: Int
        package let iterations: Int
        /// Original image-caption pairs per second (each pair also brings its augmented views).
        package let pairsPerSecond: Double
        package let secondsPerStep: Double
        /// Nominal FLOPs of one step: three times the forward pass (forward, then backward's two
        /// products per forward product) of the 2B images and of each of the 2B captions at its
        /// own length.
        package let flopsPerStep: Double
        /// Peak resident memory of the process so far (VmHWM), in bytes; nil where unavailable.
        package let peakResidentBytes: Int?

        package var description: String {
            let mem = peakResidentBytes.map { String(format: "%.0f MiB", Double($0) / 1_048_576) } ?? "n/a"
            return String(format: "%@ CleanCLIP step, batch %d + %d augmented: %.3f pairs/s (%.2f s/step), peak RSS %@",
                          architecture, batch, batch, pairsPerSecond, secondsPerStep, mem)
        }
    }

    /// Runs one warm-up step and then `iterations` timed steps.
    package static func run(config: CLIPConfig, batch: Int = 16, iterations: Int = 3, seed: UInt64 = 0) throws -> Result {
        let model = CLIPModel(randomWith: config, seed: seed)
        let trainer = Trainer(model: model, loss: .cleanCLIP, optimizer: AdamWConfig(),
                              schedule: .warmupCosine(baseLR: 1e-5, warmupSteps: 50, totalSteps: 10_000))
        var rng = SeededRandom(seed: seed &+ 1)
        let s = config.imageResolution
        let images = Tensor.randomNormal([batch, 3, s, s], std: 1, using: &rng)
        let augmented = Tensor.randomNormal([batch, 3, s, s], std: 1, using: &rng)
        var captionFLOPs = 0.0
        func captions() -> [Int32] {
            var ids: [Int32] = []
            let eot = Int32(config.vocabSize - 1), sot = Int32(config.vocabSize - 2)
            for _ in 0..<batch {
                let n = 8 + Int(rng.next() % 13)
                var row = [Int32](repeating: 0, count: config.contextLength)
                row[0] = sot
                for j in 1...min(n, config.contextLength - 2) { row[j] = Int32(1 + rng.next() % UInt64(config.vocabSize - 3)) }
                row[min(n + 1, config.contextLength - 1)] = eot
                captionFLOPs += config.textFLOPs(tokens: min(n + 2, config.contextLength))
                ids += row
            }
            return ids
        }
        let texts = captions(), augTexts = captions()
        _ = try trainer.step(images: images, tokens: texts, augmentedImages: augmented, augmentedTokens: augTexts)
        let start = Date()
        for _ in 0..<iterations {
            _ = try trainer.step(images: images, tokens: texts, augmentedImages: augmented, augmentedTokens: augTexts)
        }
        let elapsed = Date().timeIntervalSince(start)
        return Result(architecture: config.architecture, batch: batch, iterations: iterations,
                      pairsPerSecond: Double(batch * iterations) / elapsed, secondsPerStep: elapsed / Double(iterations),
                      flopsPerStep: 3 * (Double(2 * batch) * config.imageFLOPs + captionFLOPs),
                      peakResidentBytes: peakResidentBytes())
    }

    /// VmHWM from /proc/self/status (Linux), in bytes.
    package static func peakResidentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
        }
        return nil
    }
}
