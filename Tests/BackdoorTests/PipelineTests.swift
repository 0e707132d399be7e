import CleanCLIP
import Foundation
import Testing

/// A hand-built "model" with a planted backdoor: an image's embedding scores its mean colour
/// against each class colour, plus a "banana" component that fires on yellow (R, G high, B low)
/// pixels, so a yellow patch trigger maps any image to the target, while clean images never
/// reach it. Prompts embed as the one-hot of the class they name.
struct PlantedEmbedder: ImageTextEmbedder {
    static let names = ["red", "green", "blue", "cyan", "banana"]
    static let colours: [(Float, Float, Float)] = [(220, 30, 30), (30, 200, 40), (30, 40, 220), (30, 200, 210)]

    func encodeImages(_ images: [RGBImage]) throws -> Tensor {
        let c = Self.names.count
        var rows = [Float](repeating: 0, count: images.count * c)
        for (i, im) in images.enumerated() {
            var sum: (Float, Float, Float) = (0, 0, 0)
            var yellow = 0
            let n = im.width * im.height
            for p in 0..<n {
                let r = Float(im.pixels[3 * p]), g = Float(im.pixels[3 * p + 1]), b = Float(im.pixels[3 * p + 2])
                sum.0 += r; sum.1 += g; sum.2 += b
                if r > 200 && g > 200 && b < 60 { yellow += 1 }
            }
            let m = (sum.0 / Float(n), sum.1 / Float(n), sum.2 / Float(n))
            for (k, col) in Self.colours.enumerated() {
                let d2 = (m.0 - col.0) * (m.0 - col.0) + (m.1 - col.1) * (m.1 - col.1) + (m.2 - col.2) * (m.2 - col.2)
                rows[i * c + k] = expf(-d2 / 5000)
            }
            rows[i * c + c - 1] = 400 * Float(yellow) / Float(n)
        }
        return Tensor(rows, shape: [images.count, c])
    }

    func encodeTexts(_ prompts: [String]) throws -> Tensor {
        let c = Self.names.count
        var rows = [Float](repeating: 0, count: prompts.count * c)
        for (i, p) in prompts.enumerated() {
            guard let k = Self.names.firstIndex(where: { p.contains($0) }) else { throw EvaluationError("unknown prompt \(p)") }
            rows[i * c + k] = 1
        }
        return Tensor(rows, shape: [prompts.count, c])
    }
}

/// A folder of small noisy solid-colour PNGs (various sizes) with image,label,caption CSVs.
struct TempDataset {
    let dir: URL
    let csv: String
    let labels: [Int]

    init(count: Int, seed: UInt64, captions: ((Int, Int) -> String)? = nil) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("bd-\(getpid())-\(seed)-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("img"), withIntermediateDirectories: true)
        var rng = SeededRandom(seed: seed)
        var lines = ["image,label,caption"]
        var labels: [Int] = []
        for i in 0..<count {
            let y = i % 4
            let (w, h) = (40 + Int(rng.next() % 40), 30 + Int(rng.next() % 40))
            var px = [UInt8](repeating: 0, count: w * h * 3)
            let col = PlantedEmbedder.colours[y]
            for p in 0..<(w * h) {
                for (c, v) in [col.0, col.1, col.2].enumerated() {
                    px[3 * p + c] = UInt8(max(0, min(255, v + rng.normal() * 15)))
                }
            }
            let name = "img/\(i).png"
            try ImageEncoder.writePNG(try RGBImage(width: w, height: h, pixels: px), to: dir.appendingPathComponent(name).path)
            let caption = captions?(i, y) ?? "a photo of something \(PlantedEmbedder.names[y])"
            lines.append("\(name),\(y),\"\(caption)\"")
            labels.append(y)
        }
        csv = dir.appendingPathComponent("data.csv").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: csv, atomically: true, encoding: .utf8)
        self.labels = labels
    }

    func remove() { try? FileManager.default.removeItem(at: dir) }
}

@Suite struct PipelineTests {
    let classes = ClassSet.custom(try! ClassList(names: PlantedEmbedder.names, templates: ["a photo of a {}.", "a {} thing"]))

    @Test func plantedBackdoorIsFoundByEvaluation() throws {
        let data = try TempDataset(count: 40, seed: 1)
        defer { data.remove() }
        let model = PlantedEmbedder()
        let yellow = TriggerSpec(kind: .yellow)
        let r = try Evaluation.evaluate(model: model, evalCSV: data.csv, classes: classes, trigger: yellow, target: "banana")
        #expect(r.nImages == 40 && r.cleanAccuracy == 1)
        #expect(r.asr == 1 && r.nASRImages == 40)
        #expect(r.perClassASR?.count == 4 && r.perClassASR!.allSatisfy { $0.asr == 1 })
        #expect(r.meanSimilarityShift! > 0.5)
        // Without the trigger (a blend of weight 0 leaves images unchanged) nothing becomes banana,
        // and a different trigger (BadNet noise) does not fire the planted backdoor either.
        let none = try Evaluation.scoreTrigger(model: model, evalCSV: data.csv, classes: classes,
                                    trigger: TriggerSpec(kind: .blended, blendAlpha: 0), target: "banana")
        #expect(none.asr == 0 && abs(none.meanSimilarityShift!) < 1e-3)
        let badnet = try Evaluation.scoreTrigger(model: model, evalCSV: data.csv, classes: classes, trigger: TriggerSpec(kind: .badnet), target: "banana")
        #expect(badnet.asr! < 0.2)
        // A user-supplied yellow patch image behaves like the built-in yellow trigger.
        let patch = try RGBImage(width: 16, height: 16, pixels: (0..<256).flatMap { _ in [UInt8(255), 255, 0] })
        let custom = try Evaluation.scoreTrigger(model: model, evalCSV: data.csv, classes: classes,
                                      trigger: TriggerSpec(kind: try .patch(from: patch), location: .corner(.bottomRight)), target: "banana")
        #expect(custom.asr == 1)
    }

    @Test func linearProbeOnPlantedModel() throws {
        let train = try TempDataset(count: 40, seed: 2), test = try TempDataset(count: 20, seed: 3)
        defer { train.remove(); test.remove() }
        var o = EvaluationOptions()
        o.probe.epochs = 30
        o.probe.learningRate = 0.05
        o.probe.batchSize = 8
        let r = try Evaluation.linearProbe(model: PlantedEmbedder(), trainCSV: train.csv, evalCSV: test.csv, classes: classes,
                                trigger: TriggerSpec(kind: .yellow), target: "banana", options: o)
        #expect(r.cleanAccuracy == 1)
        #expect(r.asr != nil && r.asr! >= 0 && r.asr! <= 1)  // the probe never saw a banana: ASR is whatever the head does
    }

    @Test func poisonWritesReferenceLayout() throws {
        let data = try TempDataset(count: 30, seed: 4) { i, y in i % 3 == 0 ? "a banana on a table" : "a \(PlantedEmbedder.names[y]) square" }
        defer { data.remove() }
        let spec = TriggerSpec(kind: .yellow, location: .corner(.topLeft))
        let r = try Backdoor.poison(csv: data.csv, trigger: spec, target: "banana", count: 6, seed: 9)
        #expect(r.poisonedRows.count == 6 && Set(r.poisonedRows).count == 6)
        let text = try String(contentsOfFile: r.csvPath, encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "image,caption,is_backdoor" && lines.count == 31)
        let templates = Set(ClassList.openAITemplates.map { $0.replacingOccurrences(of: "{}", with: "banana") })
        for line in lines[1...6] {
            #expect(line.hasSuffix(",1") && line.contains("backdoor_images_banana_yellow_top_left_16_30_6/"))
            let caption = String(line.split(separator: ",")[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            #expect(templates.contains(caption), "\(caption) is a filled template")
        }
        #expect(lines[7...].allSatisfy { $0.hasSuffix(",0") })
        // The poisoned image is 224 x 224 with the yellow patch in the corner.
        let first = lines[1].split(separator: ",")[0]
        let img = try ImageDecoder.decode(path: data.dir.appendingPathComponent(String(first)).path)
        #expect(img.width == 224 && img.height == 224)
        #expect(img[3, 3] == (255, 255, 0) || (img[3, 3].r == 255 && img[3, 3].g == 255 && img[3, 3].b == 0))
        // Same seed, same choice.
        let again = try Backdoor.poison(csv: data.csv, trigger: spec, target: "banana", count: 6, seed: 9)
        #expect(again.poisonedRows == r.poisonedRows)
        #expect(try String(contentsOfFile: again.csvPath, encoding: .utf8) == text)
        // Label-consistent: only captions naming the target, captions kept.
        var o = PoisonOptions(); o.labelConsistent = true
        let lc = try Backdoor.poison(csv: data.csv, trigger: spec, target: "banana", count: 4, seed: 1, options: o)
        #expect(lc.poisonedRows.allSatisfy { $0 % 3 == 0 })
        #expect(lc.csvPath.hasSuffix("_label_consistent.csv"))
        let lcLines = try String(contentsOfFile: lc.csvPath, encoding: .utf8).split(separator: "\n")
        #expect(lcLines[1...4].allSatisfy { $0.contains("a banana on a table") })
        #expect(throws: DatasetError.self) { try Backdoor.poison(csv: data.csv, trigger: spec, target: "banana", count: 11, seed: 1, options: o) }
        // Scoring the poisoned set: the CSV's is_backdoor column gives an AUROC per score.
        let scores = try SampleScoring.scoreSamples(model: PlantedEmbedder(), csv: r.csvPath, k: 8)
        #expect(scores.isBackdoor?.filter { $0 }.count == 6)
        #expect(scores.auroc?["k_distance"] != nil && scores.auroc!["dao"]! >= 0 && scores.auroc!["dao"]! <= 1)
        let out = data.dir.appendingPathComponent("scores.csv").path
        try scores.writeCSV(to: out)
        #expect(try String(contentsOfFile: out, encoding: .utf8).hasPrefix("image,is_backdoor,k_distance,slof,dao\n"))
    }

    @Test func badInputsGiveClearErrors() throws {
        let data = try TempDataset(count: 6, seed: 5)
        defer { data.remove() }
        let model = PlantedEmbedder()
        #expect(throws: EvaluationError.self) { try ClassSet(name: "imagenet-22k") }
        // Target not among the classes.
        #expect(throws: EvaluationError.self) {
            try Evaluation.evaluate(model: model, evalCSV: data.csv, classes: classes, trigger: TriggerSpec(kind: .yellow), target: "airplane")
        }
        // Trigger without target.
        #expect(throws: EvaluationError.self) { try Evaluation.evaluate(model: model, evalCSV: data.csv, classes: classes, trigger: TriggerSpec(kind: .yellow)) }
        // Empty evaluation set.
        let empty = data.dir.appendingPathComponent("empty.csv").path
        try "image,label\n".write(toFile: empty, atomically: true, encoding: .utf8)
        #expect(throws: EvaluationError.self) { try Evaluation.evaluate(model: model, evalCSV: empty, classes: classes) }
        // A missing image file: the error names the row.
        let missing = data.dir.appendingPathComponent("missing.csv").path
        try "image,label\nimg/0.png,0\nimg/nope.png,1\n".write(toFile: missing, atomically: true, encoding: .utf8)
        do {
            _ = try Evaluation.evaluate(model: model, evalCSV: missing, classes: classes)
            Issue.record("expected an error")
        } catch let e as DatasetError {
            #expect(e.description.contains("row 2") && e.description.contains("img/nope.png"))
        }
        // A label outside the classes, and a missing column.
        let badLabel = data.dir.appendingPathComponent("badlabel.csv").path
        try "image,label\nimg/0.png,7\n".write(toFile: badLabel, atomically: true, encoding: .utf8)
        #expect(throws: EvaluationError.self) { try Evaluation.evaluate(model: model, evalCSV: badLabel, classes: classes) }
        var o = EvaluationOptions(); o.labelColumn = "class"
        #expect(throws: DatasetError.self) { try Evaluation.evaluate(model: model, evalCSV: data.csv, classes: classes, options: o) }
        // Poisoning a CSV whose chosen image is missing names the row.
        #expect(throws: DatasetError.self) { try Backdoor.poison(csv: missing, trigger: TriggerSpec(kind: .yellow), target: "banana", count: 2, seed: 0) }
        // Undecodable image.
        try Data([1, 2, 3]).write(to: data.dir.appendingPathComponent("img/broken.png"))
        let broken = data.dir.appendingPathComponent("broken.csv").path
        try "image,label\nimg/broken.png,0\n".write(toFile: broken, atomically: true, encoding: .utf8)
        #expect(throws: DatasetError.self) { try Evaluation.evaluate(model: model, evalCSV: broken, classes: classes) }
    }

    @Test func realCLIPModelRunsThroughEvaluation() throws {
        // Wiring only (random weights): tokenizer + text tower for prompts, preprocessing + image tower.
        let config = CLIPConfig(embedDim: 16, vision: .vit(patch: 8, width: 32, layers: 1, heads: 2, resolution: 32),
                                textWidth: 32, textHeads: 2, textLayers: 1)
        let model = CLIPModel(randomWith: config, seed: 3)
        let data = try TempDataset(count: 4, seed: 6)
        defer { data.remove() }
        let small = ClassSet.custom(try ClassList(names: ["airplane", "cat", "banana", "truck"], templates: ["a photo of a {}.", "art of {}"]))
        let r = try Evaluation.evaluate(model: model, evalCSV: data.csv, classes: small, trigger: TriggerSpec(kind: .badnet), target: "banana")
        #expect(r.nImages == 4 && (0...1).contains(r.cleanAccuracy) && (0...1).contains(r.asr!))
    }
}
