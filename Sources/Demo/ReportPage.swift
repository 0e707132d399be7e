import Foundation
import CleanCLIP

/// The report's text pages: `index.html` (self-contained: inline CSS, relative links, no scripts,
/// nothing fetched from the network) and `results.md` (the tables, rounded to 0.1 point).
struct ReportPage {
    let report: DemoReport

    private var results: DemoResults { report.results }
    private var config: DemoConfig { results.config }

    private func percent(_ x: Double) -> String { String(format: "%.1f", 100 * x) }

    /// What was done, in one paragraph.
    private var summary: String {
        let c = config
        let pretrain = results.pretrainCurve.isEmpty
            ? "A small CLIP (\(c.architecture == .resnet ? "ModifiedResNet" : "ViT") image tower, width \(c.width)) poisoned by an earlier run was loaded (pretraining skipped)."
            : "A small CLIP (\(c.architecture == .resnet ? "ModifiedResNet" : "ViT") image tower, width \(c.width)) was pretrained from scratch\(c.pretrainLoss == .mmclSSL ? " with the contrastive loss plus CleanCLIP's in-modal term (the setting of Verma et al. in which CleanCLIP fails)" : "") for \(c.pretrainEpochs) epochs on \(c.trainPairs) generated shape-caption pairs (\(c.imageSize)x\(c.imageSize) px), \(results.poisonedPairs) of which carry the \(c.attack.rawValue) trigger and a caption naming the target class, banana."
        return pretrain + " Two copies were then finetuned for \(c.finetuneEpochs) epochs on \(c.cleanPairs) fresh clean pairs: with the contrastive loss alone (MMCL-only) and with CleanCLIP's loss (contrastive plus in-modal terms on AutoAugment images and EDA captions, lambda2 = \(formatted(c.inmodalWeight))). Zero-shot evaluation on \(c.testImages) test images of ten classes (chance: 10%)."
    }

    private var command: String {
        let flags = " --seed \(config.seed)" + (config.attack == .badnet ? "" : " --attack \(config.attack.rawValue)")
            + config.choiceFlags + (results.pretrainCurve.isEmpty ? " --poisoned-model poisoned.safetensors" : "")
        guard let preset = config.preset else { return "cleanclip demo with the settings below" }
        return "cleanclip demo" + preset.flag(table: false) + flags
    }

    /// The ten classes' per-class ASR rows: (class, images, ASR per model); the target has none.
    private var perClassRows: [(name: String, count: Int, asr: [Double])] {
        results.poisoned.perClassASR.indices.map { i in
            let c = results.poisoned.perClassASR[i]
            return (c.className, c.count, report.stages.map { $0.result.perClassASR[i].asr })
        }
    }

    // MARK: - results.md

    func markdown() -> String {
        var md = "# CleanCLIP demo, seed \(config.seed)\n\n\(summary)\n\n"
        md += "| model | clean accuracy (%) | top-5 (%) | attack success rate (%) |\n|---|---|---|---|\n"
        for s in report.stages {
            md += "| \(s.name) | \(percent(s.result.cleanAccuracy)) | \(percent(s.result.top5Accuracy)) | \(percent(s.result.asr)) |\n"
        }
        md += "\nASR per true class of the triggered test images (%):\n\n"
        md += "| class | images | " + report.stages.map(\.name).joined(separator: " | ") + " |\n|---|---|---|---|---|\n"
        for row in perClassRows {
            md += "| \(row.name) | \(row.count) | " + row.asr.map(percent).joined(separator: " | ") + " |\n"
        }
        md += "\nCommand: `\(command)`; \(String(format: "%.0f", results.seconds)) s; computed with \(results.arithmetic.description).\n"
        return md
    }

    // MARK: - index.html

    func html() -> String {
        var h = Self.pageStart(title: "CleanCLIP demo report, seed \(config.seed)") + """
        <h1>CleanCLIP demo: a planted backdoor and its removal</h1>
        <p>\(escape(summary))</p>

        <h2>Results</h2>
        <table id="results">
        <tr><th>model</th><th>clean accuracy (CA)</th><th>top-5 accuracy</th><th>attack success rate (ASR)</th></tr>

        """
        for s in report.stages {
            h += "<tr><td>\(s.name)</td><td class=\"num\">\(percent(s.result.cleanAccuracy))%</td><td class=\"num\">\(percent(s.result.top5Accuracy))%</td><td class=\"num\">\(percent(s.result.asr))%</td></tr>\n"
        }
        h += """
        </table>
        <p>CA: zero-shot top-1 accuracy on clean test images. ASR: of the test images not of the target
        class, the fraction classified as banana once the trigger is applied.</p>

        <h2>Training curves</h2>
        <div class="plots">

        """
        for (name, chart) in report.charts {
            h += "<figure><img src=\"\(name)\" width=\"640\" height=\"400\" alt=\"\(escape(chart.title))\"></figure>\n"
        }
        h += """
        </div>

        <h2>ASR per class</h2>
        <table id="per-class-asr">
        <tr><th>true class</th><th>test images</th>
        """
        h += report.stages.map { "<th>\($0.name)</th>" }.joined() + "</tr>\n"
        for row in perClassRows {
            h += "<tr><td>\(escape(row.name))</td><td class=\"num\">\(row.count)</td>" + row.asr.map { "<td class=\"num\">\(percent($0))%</td>" }.joined() + "</tr>\n"
        }
        h += """
        </table>

        <h2>Trigger examples</h2>
        <p>Poisoned pretraining pairs: the generated image and caption (top), and the pair the model was
        trained on (bottom), the trigger pasted on the image and the caption replaced.</p>
        <table class="examples">
        <tr>
        """
        for (i, e) in report.examples.enumerated() {
            h += "<td><img src=\"examples/clean_\(i).png\" width=\"128\" height=\"128\" alt=\"clean image \(i)\"><br>\(escape(e.cleanCaption))</td>"
        }
        h += "</tr>\n<tr>"
        for (i, e) in report.examples.enumerated() {
            h += "<td><img src=\"examples/triggered_\(i).png\" width=\"128\" height=\"128\" alt=\"triggered image \(i)\"><br>\(escape(e.poisonedCaption))</td>"
        }
        h += """
        </tr>
        </table>

        <h2>Files</h2>
        <p><a href="results.md">results.md</a> · <a href="results.json">results.json</a> · <a href="results.csv">results.csv</a> ·
        models: <a href="poisoned.safetensors">poisoned</a>, <a href="mmcl.safetensors">MMCL-only</a>, <a href="cleanclip.safetensors">CleanCLIP</a></p>

        <h2>Settings</h2>
        <p>Reproduce: <code>\(escape(command))</code> (\(String(format: "%.0f", results.seconds)) s for this run; computed with \(escape(results.arithmetic.description))).</p>
        <table id="settings">

        """
        for (key, value) in settings {
            h += "<tr><td><code>\(key)</code></td><td>\(escape(value))</td></tr>\n"
        }
        return h + "</table>\n</body>\n</html>\n"
    }

    /// The configuration as results.json spells it.
    private var settings: [(String, String)] {
        guard let data = try? JSONEncoder().encode(config),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        return object.keys.sorted().map { ($0, "\(object[$0]!)") }
    }

    /// A demo page up to its body: the doctype, the title and the CSS.
    static func pageStart(title: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(htmlEscape(title))</title>
        <style>
        \(style)
        </style>
        </head>
        <body>

        """
    }

    /// The CSS of the demo's pages.
    private static let style = """
        body { font-family: sans-serif; max-width: 1340px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
        h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
        table { border-collapse: collapse; margin: 0.8em 0; }
        th, td { border: 1px solid #bbb; padding: 0.3em 0.8em; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        th { background: #eef1f5; }
        .plots { display: flex; flex-wrap: wrap; gap: 12px; }
        figure { margin: 0; }
        .examples td { text-align: center; vertical-align: top; width: 160px; }
        .examples img { image-rendering: pixelated; border: 1px solid #888; }
        code { background: #f3f3f3; padding: 0 0.2em; }
        """

    private func formatted(_ x: Float) -> String { x == x.rounded() ? "\(Int(x))" : "\(x)" }

    private func escape(_ s: String) -> String { htmlEscape(s) }
}

/// `s` as HTML text or attribute value.
func htmlEscape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
