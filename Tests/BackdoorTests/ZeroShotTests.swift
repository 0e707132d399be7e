import CleanCLIP
import Foundation
import Testing

/// Zero-shot CA / top-5 / ASR / per-class ASR / similarity shift from given embeddings, against
/// CleanCLIP's get_zeroshot_metrics arithmetic (fixture script). Counts must match exactly.
@Suite struct ZeroShotTests {
    let fx: Fixture
    init() throws { fx = try Fixture("zeroshot.safetensors") }

    func classifier() throws -> ZeroShotClassifier {
        let templates = try fx.tensor("templates")         // [C*T, E]
        let c = 12, t = 5, e = templates.shape[1]
        let list = try ClassList(names: (0..<c).map { "class\($0)" }, templates: (0..<t).map { "photo \($0) of {}" })
        return try ZeroShotClassifier(classes: list) { prompts in
            // Prompts are "photo <t> of class<c>": look the row up.
            let cls = Int(prompts[0].split(separator: " ").last!.dropFirst(5))!
            return Tensor(Array(templates.array[(cls * t * e)..<((cls + 1) * t * e)]), shape: [t, e])
        }
    }

    @Test func classEmbeddingsAreNormalisedTemplateMeans() throws {
        let zs = try classifier()
        #expect(maxAbsDiff(zs.classEmbeddings.array, try fx.floats("class_embeddings")) < 1e-6)
    }

    @Test func reportMatchesPython() throws {
        let zs = try classifier()
        let labels = try fx.ints("labels"), target = try fx.ints("target")[0]
        let r = try Metrics.zeroShotReport(classifier: zs, clean: try fx.tensor("clean"), labels: labels,
                                           triggered: try fx.tensor("triggered"), target: target)
        let want = try fx.doubles("expected")  // top1, top5, asr, shift
        #expect(r.cleanAccuracy == want[0])
        #expect(r.top5Accuracy == want[1])
        #expect(r.asr == want[2])
        #expect(abs(r.meanSimilarityShift! - want[3]) < 1e-5)
        #expect(r.nImages == labels.count)
        #expect(r.nASRImages == labels.filter { $0 != target }.count)
        let hits = try fx.ints("per_class_hits"), n = try fx.ints("per_class_n")
        let per = r.perClassASR!
        #expect(per.map(\.label) == (0..<12).filter { n[$0] > 0 })
        for p in per {
            #expect(p.hits == hits[p.label] && p.count == n[p.label])
        }
        #expect(!per.contains { $0.label == target }, "target-class images do not count towards ASR")
    }

    @Test func jsonUsesTheDocumentedKeys() throws {
        var r = EvaluationReport(cleanAccuracy: 0.5, top5Accuracy: 0.75, nImages: 4)
        r.asr = 0.25
        r.perClassASR = [ClassASR(label: 1, className: "cat", count: 4, hits: 1)]
        let json = try r.jsonString()
        for key in ["\"clean_accuracy\"", "\"top5_accuracy\"", "\"n_images\"", "\"asr\"", "\"per_class_asr\"", "\"class\" : \"cat\""] {
            #expect(json.contains(key), "\(key) in \(json)")
        }
        let back = try JSONDecoder().decode(EvaluationReport.self, from: Data(json.utf8))
        #expect(back == r)
    }

    @Test func classSets() throws {
        #expect(ClassList.imagenet.names.count == 1000 && ClassList.imagenet.templates.count == 80)
        #expect(try ClassList.imagenet.index(of: "banana") == 954)
        #expect(ClassList.cifar10.names.count == 10 && ClassList.cifar100.names.count == 100)
        #expect(try ClassSet(name: "ImageNet1K") == .imagenet)
        #expect(try ClassSet(name: "cifar-100") == .cifar100)
        #expect(throws: EvaluationError.self) { try ClassSet(name: "mnist") }
        #expect(throws: EvaluationError.self) { try ClassList.cifar10.index(of: "banana") }
        #expect(throws: EvaluationError.self) { try ClassList(names: ["a"], templates: ["no placeholder"]) }
        #expect(throws: EvaluationError.self) { try ClassList(names: [], templates: ["{}"]) }
        #expect(ClassList.cifar10.prompts(forClass: 3)[0] == "a bad photo of a cat.")
    }

    @Test func customClassFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cls-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let classes = dir.appendingPathComponent("classes.txt"), templates = dir.appendingPathComponent("templates.txt")
        try "dog\n\ncat\nbanana\n".write(to: classes, atomically: true, encoding: .utf8)
        try "a photo of a {}.\nart of the {}\n".write(to: templates, atomically: true, encoding: .utf8)
        let l = try ClassList.load(classesFile: classes.path, templatesFile: templates.path)
        #expect(l.names == ["dog", "cat", "banana"] && l.templates.count == 2)
        #expect(try ClassList.load(classesFile: classes.path).templates.count == 80)
        #expect(throws: EvaluationError.self) { try ClassList.load(classesFile: dir.appendingPathComponent("nope").path) }
    }

    @Test func badEmbeddingInputs() throws {
        let zs = try classifier()
        let clean = try fx.tensor("clean")
        #expect(throws: EvaluationError.self) { try Metrics.zeroShotReport(classifier: zs, clean: clean, labels: []) }
        #expect(throws: EvaluationError.self) {
            try Metrics.zeroShotReport(classifier: zs, clean: clean, labels: Array(repeating: 99, count: clean.shape[0]))
        }
        #expect(throws: EvaluationError.self) {
            try Metrics.zeroShotReport(classifier: zs, clean: clean, labels: Array(repeating: 0, count: clean.shape[0]),
                                       triggered: clean, target: 40)
        }
    }

    @Test func linearProbeLearnsSeparableFeatures() throws {
        // Four Gaussian blobs; the probe should classify held-out points almost perfectly, and a
        // "trigger" that moves features onto class 2's blob gives ASR ~ 1 over non-target images.
        var rng = SeededRandom(seed: 11)
        let centres = (0..<4).map { _ in (0..<8).map { _ in rng.normal() * 3 } }
        func sample(_ n: Int) -> (Tensor, [Int]) {
            var rows: [Float] = [], labels: [Int] = []
            for i in 0..<n {
                let y = i % 4
                rows += centres[y].map { $0 + rng.normal() * 0.5 }
                labels.append(y)
            }
            return (Tensor(rows, shape: [n, 8]), labels)
        }
        let (train, ytrain) = sample(400), (test, ytest) = sample(200)
        var o = LinearProbe.Options(); o.epochs = 20; o.batchSize = 32; o.learningRate = 0.05
        let probe = try LinearProbe.train(features: train, labels: ytrain, classCount: 4, options: o)
        let triggered = Tensor((0..<200).flatMap { _ in centres[2] }, shape: [200, 8])
        let r = try probe.report(clean: test, labels: ytest, classNames: ["a", "b", "c", "d"], triggered: triggered, target: 2)
        #expect(r.cleanAccuracy > 0.97)
        #expect(r.asr! > 0.99 && r.nASRImages == 150)
        #expect(throws: EvaluationError.self) { try LinearProbe.train(features: train, labels: [1], classCount: 4) }
    }
}

/// Issue 12, item 14: with logit_scale of 100 or more, exp(logit_scale) overflowed Float, every
/// image went to class 0 and the probabilities were NaN. Issue 13, item 2: the library's
/// classifier gives the probabilities (the C ABI and the Swift example use it).
@Suite struct ZeroShotProbabilityTests {
    /// A classifier whose class c is the unit vector e_c, so that an image embedding s (of norm
    /// 1) has cosine similarities s.
    func axes(_ c: Int) throws -> ZeroShotClassifier {
        var eye = [Float](repeating: 0, count: c * c)
        for i in 0..<c { eye[i * c + i] = 1 }
        return try ZeroShotClassifier(classEmbeddings: Tensor(eye, shape: [c, c]), classNames: (0..<c).map { "c\($0)" })
    }

    func probabilities(_ s: [Float], logitScale: Float) throws -> [Float] {
        try axes(s.count).probabilities(Tensor(s, shape: [1, s.count]), logitScale: logitScale).array
    }

    /// softmax(exp(logit_scale) * similarities), in Double as a reference.
    func softmax(_ s: [Float], logitScale: Float) -> [Float] {
        let t = exp(Double(logitScale)), top = Double(s.max()!)
        let e = s.map { exp(t * (Double($0) - top)) }
        return e.map { Float($0 / e.reduce(0, +)) }
    }

    @Test func probabilitiesAreTheSoftmaxOfTheLogits() throws {
        let zs = try ZeroShotTests().classifier()
        let images = try Fixture("zeroshot.safetensors").tensor("clean")
        for logitScale: Float in [0, 2.6592, 4.6052] {
            let (best, p) = try zs.classify(images, logitScale: logitScale)
            let s = try zs.similarities(images)
            let c = s.shape[1]
            let predicted = try zs.predict(images)
            #expect(p.shape == s.shape && best == predicted)
            for i in 0..<s.shape[0] {
                let want = softmax(Array(s.array[(i * c)..<((i + 1) * c)]), logitScale: logitScale)
                let got = Array(p.array[(i * c)..<((i + 1) * c)])
                #expect(maxAbsDiff(got, want) < 1e-6, "image \(i), logit scale \(logitScale)")
                #expect(abs(got.reduce(0, +) - 1) < 1e-5)
            }
        }
    }

    @Test func ordinaryTemperatureIsTheSoftmax() throws {
        let s: [Float] = [0.21, 0.35, -0.1, 0.3]
        let norm = s.map { $0 * $0 }.reduce(0, +).squareRoot()
        let unit = s.map { $0 / norm }
        #expect(maxAbsDiff(try probabilities(unit, logitScale: 4.6052), softmax(unit, logitScale: 4.6052)) < 1e-6)
    }

    @Test(arguments: [Float(100), 1000, 1e30])
    func hugeTemperatureIsOneHotAtTheBestClass(_ logitScale: Float) throws {
        #expect(try probabilities([0.2, 0.5, 0.49, -1], logitScale: logitScale) == [0, 1, 0, 0])
        #expect(try probabilities([0.5, 0.1, 0.5], logitScale: logitScale) == [0.5, 0, 0.5])  // a tie shares
    }

    /// Large finite embeddings are classified by their direction (their Float sum of squares
    /// overflows); non-finite ones are errors naming the image.
    @Test func largeAndNonFiniteEmbeddings() throws {
        let zs = try axes(3)
        let (best, p) = try zs.classify(Tensor([1e30, 3e30, -2e30, 1, 0, 0], shape: [2, 3]), logitScale: 100)
        #expect(best == [1, 0] && p.array == [0, 1, 0, 1, 0, 0])
        #expect(maxAbsDiff(try zs.similarities(Tensor([1e30, 0, 0], shape: [1, 3])).array, [1, 0, 0]) < 1e-6)
        #expect(throws: NonFiniteError("image embedding 1 is not finite (inf at 2)")) {
            try zs.classify(Tensor([1, 0, 0, 0, 0, .infinity], shape: [2, 3]), logitScale: 1)
        }
    }

    /// The previous C ABI classifier (src: CABI/ZeroShot.swift before issue 13), restated: class
    /// embedding = mean of unit template embeddings, scaled by 1 / norm; similarities and norms in
    /// Double. The library's classifier gives the same best classes, and probabilities within
    /// 1e-5 absolute: its Float cosines differ from those in the last bits (~1e-8), which the
    /// temperature (here 100) multiplies.
    @Test func matchesThePreviousCABIClassifier() throws {
        let fx = try Fixture("zeroshot.safetensors")
        let zs = try ZeroShotTests().classifier()
        let templates = try fx.tensor("templates").l2Normalized(), images = try fx.tensor("clean")
        let c = 12, t = 5, e = templates.shape[1], n = images.shape[0]
        var classes = [Float](repeating: 0, count: c * e)
        for k in 0..<c {
            var norm: Float = 0
            for j in 0..<e {
                var sum: Float = 0
                for i in 0..<t { sum += templates.data[(k * t + i) * e + j] }
                classes[k * e + j] = sum / Float(t)
                norm += classes[k * e + j] * classes[k * e + j]
            }
            let scale = 1 / max(norm.squareRoot(), 1e-12)
            for j in 0..<e { classes[k * e + j] *= scale }
        }
        #expect(maxAbsDiff(zs.classEmbeddings.array, classes) < 1e-6)
        let logitScale: Float = 4.6052
        let (best, p) = try zs.classify(images, logitScale: logitScale)
        for i in 0..<n {
            var norm: Double = 0
            for j in 0..<e { norm += Double(images.data[i * e + j]) * Double(images.data[i * e + j]) }
            let inv = 1 / max(norm.squareRoot(), 1e-12)
            var s = [Float](repeating: 0, count: c), old = 0
            for k in 0..<c {
                var dot: Double = 0
                for j in 0..<e { dot += Double(images.data[i * e + j]) * Double(classes[k * e + j]) }
                s[k] = Float(dot * inv)
                if s[k] > s[old] { old = k }
            }
            #expect(best[i] == old, "image \(i)")
            #expect(maxAbsDiff(Array(p.array[(i * c)..<((i + 1) * c)]), softmax(s, logitScale: logitScale)) < 1e-5, "image \(i)")
        }
    }
}
