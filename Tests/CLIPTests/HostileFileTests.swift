import CleanCLIP
import Foundation
import Testing

/// Hostile files and values around a loaded model (issue 12, items 9, 10 and 15).
@Suite struct HostileFileTests {
    let fixture = fixtures.appendingPathComponent("models/vit_quickgelu.safetensors").path
    let resnetFixture = fixtures.appendingPathComponent("models/resnet.safetensors").path

    func temporaryFolder(_ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clip-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func pixels(_ model: CLIPModel, count: Int, value: (Int) -> Float = { Float($0 % 7) / 7 }) -> Tensor {
        let s = model.config.imageResolution
        return Tensor((0..<(count * 3 * s * s)).map(value), shape: [count, 3, s, s])
    }

    /// Item 10: a named pipe given as a model, an image, a CSV, a class list, a .npy file or an
    /// image in a CSV row blocked the reader forever. Each is now refused at once. (If one
    /// regresses, its read is unblocked after a few seconds and the test fails.)
    @Test func namedPipesAreRefusedByEveryReader() throws {
        let dir = try temporaryFolder("fifo")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/pipe"
        #expect(mkfifo(fifo, 0o600) == 0)
        func expectRefused(_ what: String, _ body: () throws -> Void) {
            DispatchQueue.global().asyncAfter(deadline: .now() + 5) {
                let fd = open(fifo, O_WRONLY | O_NONBLOCK)
                if fd >= 0 { close(fd) }
            }
            let start = Date()
            do {
                try body()
                Issue.record("\(what): a named pipe was accepted")
            } catch {
                #expect("\(error)".contains("not a regular file (a named pipe)"), "\(what): \(error)")
            }
            #expect(Date().timeIntervalSince(start) < 4, "\(what): blocked until the pipe was opened for writing")
        }
        expectRefused("model") { _ = try CLIPModel.load(path: fifo) }
        expectRefused("image") { _ = try ImageDecoder.decode(path: fifo) }
        expectRefused("CSV") { _ = try CSV.read(path: fifo) }
        expectRefused("class list") { _ = try ClassList.load(classesFile: fifo) }
        expectRefused(".npy") { _ = try NumPy.read(path: fifo) }

        let csv = dir + "/eval.csv"
        try "image,label\npipe,0\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let model = CLIPModel(randomWith: CLIPConfig(embedDim: 8, vision: .vit(patch: 16, width: 16, layers: 1, heads: 1, resolution: 32),
                                                     textWidth: 16, textHeads: 1, textLayers: 1), seed: 1)
        let classes = ClassSet.custom(try ClassList(names: ["cat", "dog"], templates: ["{}"]))
        expectRefused("CSV row") { _ = try Evaluation.evaluate(model: model, evalCSV: csv, classes: classes, trigger: nil, target: nil) }
    }

    /// Item 9: the checkpoint was memory-mapped, so truncating or rewriting the file while a
    /// model used it killed the process with SIGBUS. It is read into memory now: the model does
    /// not notice.
    @Test func aCheckpointTruncatedOrRewrittenAfterLoadingChangesNothing() throws {
        let dir = try temporaryFolder("truncate")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/model.safetensors"
        try FileManager.default.copyItem(atPath: fixture, toPath: path)
        let model = try CLIPModel.load(path: path)
        let input = pixels(model, count: 2)
        let before = try model.encodeImage(input).array
        #expect(truncate(path, 0) == 0)
        #expect(try model.encodeImage(input).array == before)
        try Data(repeating: 0xFF, count: 4096).write(to: URL(fileURLWithPath: path))
        #expect(try model.encodeImage(input).array == before)
    }

    /// Item 15, loading: a non-finite weight made every embedding NaN without a word. It is
    /// refused, naming the weight.
    @Test func nonFiniteWeightsAreRefusedAtLoad() throws {
        let dir = try temporaryFolder("nan-weights")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var tensors = try loadTensors(fixture)
        for (name, value) in [("visual.proj", Float.nan), ("ln_final.weight", Float.infinity)] {
            let original = tensors[name]!
            let bad = original.copy()
            bad.data[3] = value
            tensors[name] = bad
            let path = dir + "/bad.safetensors"
            try SafetensorsWriter.write(tensors.map { (name: $0.key, tensor: RawTensor(floats: $0.value.array, shape: $0.value.shape)) },
                                        to: path)
            tensors[name] = original
            do {
                _ = try CLIPModel.load(path: path)
                Issue.record("a checkpoint with \(value) in \(name) loaded")
            } catch let e as WeightError {
                #expect(e.description.contains("weight '\(name)'") && e.description.contains("at index 3"), "\(e)")
                #expect(e.errorKind == .nonFiniteWeight)
            }
        }
        do {
            _ = try CLIPModel.load(path: dir + "/missing.safetensors")
            Issue.record("a missing checkpoint loaded")
        } catch let e as WeightError {
            #expect(e.errorKind == .notFound, "\(e)")
        }
    }

    /// Found by fuzz-model: a training-mode forward pass on huge activations overflowed a
    /// BatchNorm running variance to inf; the model then saved a file that it refused to load.
    /// Saving refuses non-finite weights, naming the weight, as loading does.
    @Test func nonFiniteWeightsAreRefusedAtSave() throws {
        let dir = try temporaryFolder("nan-save")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try CLIPModel.load(path: resnetFixture)
        let runningVar = model.weights.first { $0.name.hasSuffix("bn2.running_var") }!
        runningVar.tensor.data[0] = .infinity
        do {
            try model.save(to: dir + "/saved.safetensors")
            Issue.record("a model holding inf in \(runningVar.name) saved")
        } catch let e as WeightError {
            #expect(e.description.contains("'\(runningVar.name)'") && e.description.contains("inf at index 0"), "\(e)")
            #expect(e.errorKind == .nonFiniteWeight)
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/saved.safetensors"))
    }

    /// Item 15, encoding: NaN pixels, and inputs or weights that overflow float32, gave NaN
    /// embeddings without a word. Each is an error naming the input.
    @Test func nonFiniteInputsAndResultsAreErrorsNamingTheInput() throws {
        let model = try CLIPModel.load(path: fixture)
        let input = pixels(model, count: 3)
        input.data[3 * 32 * 32 + 5] = .nan  // image 1
        #expect(throws: NonFiniteError("image 1 has a non-finite pixel value (nan)")) { try model.encodeImage(input) }

        var tensors = try loadTensors(fixture)
        for name in ["visual.proj", "text_projection"] {
            let huge = tensors[name]!.copy()
            huge.data.update(repeating: 3e38, count: huge.count)
            tensors[name] = huge
        }
        let overflowing = try CLIPModel(config: model.config, weights: StateDict(tensors))
        do {
            _ = try overflowing.encodeImage(pixels(model, count: 2))
            Issue.record("an overflowing image embedding was returned")
        } catch let e as NonFiniteError {
            #expect(e.description.hasPrefix("the embedding of image 0 is not finite"), "\(e)")
        }
        do {
            _ = try overflowing.encodeText(tokens: [Int32](repeating: 1, count: 77), batch: 1)
            Issue.record("an overflowing text embedding was returned")
        } catch let e as NonFiniteError {
            #expect(e.description.hasPrefix("the embedding of text 0 is not finite"), "\(e)")
        }
    }
}
