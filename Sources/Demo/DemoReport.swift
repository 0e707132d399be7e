import Files
import Foundation
import CleanCLIP

/// Writes the demo's report folder:
/// - `index.html`, the page to open or share (`ReportPage`): the CA/ASR table, the plots, ASR per
///   class and the trigger examples, with relative links only and inline CSS;
/// - `results.md` (the same tables, rounded), `results.json` (everything, snake_case keys) and
///   `results.csv` (one row per model);
/// - `pretrain_loss.svg`, `pretrain_accuracy.svg` (absent when pretraining was skipped),
///   `finetune_loss.svg`, `finetune_accuracy.svg`;
/// - `examples/clean_<i>.png` and `examples/triggered_<i>.png`: poisoned training pairs before and
///   after poisoning, upscaled `exampleScale` times.
struct DemoReport {
    /// A poisoned training pair, before and after the trigger and the caption change.
    struct TriggerExample {
        var clean: [UInt8]
        var cleanCaption: String
        var triggered: [UInt8]
        var poisonedCaption: String
    }

    static let exampleCount = 6
    static let exampleScale = 4

    let results: DemoResults
    let examples: [TriggerExample]

    /// The models in table order, with their names in the report and in results.csv.
    var stages: [(name: String, key: String, result: StageResult)] {
        [("poisoned", "poisoned", results.poisoned), ("MMCL-only", "mmcl", results.mmcl), ("CleanCLIP", "cleanclip", results.cleanclip)]
    }

    func write(to directory: String) throws {
        let dir = URL(fileURLWithPath: directory)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("examples"), withIntermediateDirectories: true)
        func write(_ text: String, _ name: String) throws { try AtomicFile.write(text, to: dir.appendingPathComponent(name).path) }

        try writeJSON(results, to: dir.appendingPathComponent("results.json").path)
        var csv = "stage,clean_accuracy,top5_accuracy,asr\n"
        for s in stages { csv += "\(s.key),\(s.result.cleanAccuracy),\(s.result.top5Accuracy),\(s.result.asr)\n" }
        try write(csv, "results.csv")
        for (name, chart) in charts { try write(chart.render(), name) }
        for (i, e) in examples.enumerated() {
            try writePNG(e.clean, to: dir.appendingPathComponent("examples/clean_\(i).png").path)
            try writePNG(e.triggered, to: dir.appendingPathComponent("examples/triggered_\(i).png").path)
        }
        let page = ReportPage(report: self)
        try write(page.markdown(), "results.md")
        try write(page.html(), "index.html")
    }

    /// The plots by file name, pretraining and finetuning apart (their losses differ in scale).
    var charts: [(name: String, chart: SVGLineChart)] {
        func points(_ curve: [EpochRecord], _ value: (EpochRecord) -> Double) -> [(x: Double, y: Double)] {
            curve.map { (Double($0.epoch), value($0)) }
        }
        let r = results
        var out: [(String, SVGLineChart)] = []
        if !r.pretrainCurve.isEmpty {
            out.append(("pretrain_loss.svg", SVGLineChart(
                title: "Pretraining on the poisoned set: loss", xLabel: "pretraining epoch", yLabel: "mean contrastive loss",
                series: [.init(name: "pretraining", points: points(r.pretrainCurve, \.loss))])))
            out.append(("pretrain_accuracy.svg", SVGLineChart(
                title: "Pretraining: clean accuracy and attack success", xLabel: "pretraining epoch", yLabel: "% of test images",
                series: [.init(name: "CA", points: points(r.pretrainCurve) { 100 * $0.cleanAccuracy }),
                         .init(name: "ASR", points: points(r.pretrainCurve) { 100 * $0.asr })],
                yRange: 0...100)))
        }
        out.append(("finetune_loss.svg", SVGLineChart(
            title: "Cleanup finetuning: loss", xLabel: "finetuning epoch", yLabel: "mean training loss",
            series: [.init(name: "MMCL-only", points: points(r.mmclCurve, \.loss)),
                     .init(name: "CleanCLIP", points: points(r.cleanclipCurve, \.loss))])))
        // Epoch 0 is the poisoned model both finetunes start from.
        let start = r.poisoned
        out.append(("finetune_accuracy.svg", SVGLineChart(
            title: "Cleanup finetuning: clean accuracy and attack success", xLabel: "finetuning epoch", yLabel: "% of test images",
            series: [.init(name: "MMCL-only CA", points: [(0, 100 * start.cleanAccuracy)] + points(r.mmclCurve) { 100 * $0.cleanAccuracy }),
                     .init(name: "MMCL-only ASR", points: [(0, 100 * start.asr)] + points(r.mmclCurve) { 100 * $0.asr }),
                     .init(name: "CleanCLIP CA", points: [(0, 100 * start.cleanAccuracy)] + points(r.cleanclipCurve) { 100 * $0.cleanAccuracy }),
                     .init(name: "CleanCLIP ASR", points: [(0, 100 * start.asr)] + points(r.cleanclipCurve) { 100 * $0.asr })],
            yRange: 0...100)))
        return out
    }

    /// One square RGB image, upscaled by `exampleScale` (nearest neighbour, so pixels stay sharp).
    private func writePNG(_ pixels: [UInt8], to path: String) throws {
        let side = results.config.imageSize, z = Self.exampleScale, out = side * z
        var canvas = [UInt8](repeating: 0, count: out * out * 3)
        for y in 0..<out {
            for x in 0..<out {
                for c in 0..<3 { canvas[(y * out + x) * 3 + c] = pixels[((y / z) * side + x / z) * 3 + c] }
            }
        }
        try ImageEncoder.writePNG(try RGBImage(width: out, height: out, pixels: canvas), to: path)
    }
}

/// Writes `value` as pretty-printed JSON with sorted keys (the demo's report files), atomically.
func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try AtomicFile.write(String(decoding: try encoder.encode(value), as: UTF8.self) + "\n", to: path)
}
