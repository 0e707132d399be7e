import Files
import Foundation
import CleanCLIP

/// Writes the demo's report folder: results.json, results.csv, loss.svg, finetune.svg and
/// triggers.png (poisoned training images beside clean test images).
struct DemoReport {
    let results: DemoResults

    func write(to directory: String, examples: [([UInt8], Int)], cleanExamples: [[UInt8]]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dir = URL(fileURLWithPath: directory)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try write(String(data: try encoder.encode(results), encoding: .utf8)! + "\n", dir.appendingPathComponent("results.json"))
        var csv = "stage,clean_accuracy,top5_accuracy,asr\n"
        for (name, r) in [("poisoned", results.poisoned), ("mmcl", results.mmcl), ("cleanclip", results.cleanclip)] {
            csv += "\(name),\(r.cleanAccuracy),\(r.top5Accuracy),\(r.asr)\n"
        }
        try write(csv, dir.appendingPathComponent("results.csv"))
        func points(_ curve: [EpochRecord], _ value: (EpochRecord) -> Double) -> [(x: Double, y: Double)] {
            curve.map { (Double($0.epoch), value($0)) }
        }
        let loss = SVGLineChart(title: "Training loss", xLabel: "epoch", yLabel: "mean loss", series: [
            .init(name: "pretrain (poisoned)", points: points(results.pretrainCurve, \.loss)),
            .init(name: "MMCL-only", points: points(results.mmclCurve, \.loss)),
            .init(name: "CleanCLIP", points: points(results.cleanclipCurve, \.loss)),
        ])
        try write(loss.render(), dir.appendingPathComponent("loss.svg"))
        let finetune = SVGLineChart(title: "Cleanup finetuning: clean accuracy and attack success", xLabel: "finetune epoch",
                                    yLabel: "fraction", series: [
            .init(name: "MMCL CA", points: [(0, results.poisoned.cleanAccuracy)] + points(results.mmclCurve, \.cleanAccuracy)),
            .init(name: "MMCL ASR", points: [(0, results.poisoned.asr)] + points(results.mmclCurve, \.asr)),
            .init(name: "CleanCLIP CA", points: [(0, results.poisoned.cleanAccuracy)] + points(results.cleanclipCurve, \.cleanAccuracy)),
            .init(name: "CleanCLIP ASR", points: [(0, results.poisoned.asr)] + points(results.cleanclipCurve, \.asr)),
        ], yRange: 0...1)
        try write(finetune.render(), dir.appendingPathComponent("finetune.svg"))
        try writeExamples(examples, cleanExamples, to: dir.appendingPathComponent("triggers.png").path)
    }

    private func write(_ text: String, _ url: URL) throws {
        try AtomicFile.write(text, to: url.path)
    }

    /// Two rows, upscaled 4x: poisoned training images on top, clean test images below.
    private func writeExamples(_ poisoned: [([UInt8], Int)], _ clean: [[UInt8]], to path: String) throws {
        guard let side = poisoned.first?.1 ?? clean.first.map({ Int((Double($0.count / 3)).squareRoot()) }) else { return }
        let z = 4, cols = max(poisoned.count, clean.count), cell = side * z + 4
        let w = cols * cell, h = 2 * cell
        var canvas = [UInt8](repeating: 255, count: w * h * 3)
        for (row, images) in [poisoned.map(\.0), clean].enumerated() {
            for (col, px) in images.enumerated() {
                for y in 0..<(side * z) {
                    for x in 0..<(side * z) {
                        for c in 0..<3 {
                            canvas[((row * cell + 2 + y) * w + col * cell + 2 + x) * 3 + c] = px[((y / z) * side + x / z) * 3 + c]
                        }
                    }
                }
            }
        }
        try ImageEncoder.writePNG(try RGBImage(width: w, height: h, pixels: canvas), to: path)
    }
}
