import CleanCLIP
import Foundation
import Testing

/// A tiny random ViT CLIP with the full vocabulary (the committed fixture models have 1000
/// tokens), written once per test process: finetuning and zero-shot runs tokenise real text.
let fullVocabularyModel: String = {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("cleanclip-cli-tiny-\(getpid()).safetensors").path
    let config = CLIPConfig(embedDim: 16, vision: .vit(patch: 8, width: 32, layers: 1, heads: 1, resolution: 32),
                            textWidth: 16, textHeads: 1, textLayers: 1)
    try? CLIPModel(randomWith: config, seed: 7).save(to: path)
    return path
}()

/// Runs the tool with standard output and error captured (through files, so that neither can
/// fill a pipe while the other is read).
func runCapturing(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = try #require(tool, "cleanclip-cli not found next to \(CommandLine.arguments[0])")
    p.arguments = arguments
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
    let out = base.appendingPathExtension("out"), err = base.appendingPathExtension("err")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    FileManager.default.createFile(atPath: err.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: err) }
    p.standardOutput = try FileHandle(forWritingTo: out)
    p.standardError = try FileHandle(forWritingTo: err)
    try p.run()
    p.waitUntilExit()
    let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
    return (status, try String(contentsOf: out, encoding: .utf8), try String(contentsOf: err, encoding: .utf8))
}

let fixtureImages = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/images")
let fixtureClasses = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/classes")

/// A scratch folder with four images in CleanCLIP's layout: `images/` (one in a subfolder),
/// `train.csv` and `train.tsv` (columns img, cap, label; captions with commas),
/// `eval/labels.csv` and `eval/classes.py` (the CIFAR-10 shape).
struct Scratch {
    let dir: String
    let images = ["images/b/astronaut.jpg", "images/a_brick.jpg", "images/camera.png", "images/C.JPG"]

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("cleanclip-user-\(UUID().uuidString)").path
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/images/b", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/images/.hidden", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/eval", withIntermediateDirectories: true)
        let sources = ["astronaut_q95.jpg", "brick_300x200_q50.jpg", "camera_grey_alpha.png", "astronaut_224x224_q90.jpg"]
        for (s, d) in zip(sources, images) {
            try fm.copyItem(atPath: fixtureImages.appendingPathComponent(s).path, toPath: dir + "/" + d)
        }
        try fm.copyItem(atPath: fixtureImages.appendingPathComponent(sources[0]).path, toPath: dir + "/images/.hidden/skip.jpg")
        try "not an image".write(toFile: dir + "/images/notes.txt", atomically: true, encoding: .utf8)
        let captions = ["a photo of a cat, indoors", "a brick wall", "a man with a camera, outside", "an astronaut"]
        var csv = "img,cap,label\n", tsv = "img\tcap\tlabel\n", labels = "image,label\n"
        for (i, (image, caption)) in zip(images, captions).enumerated() {
            csv += "\(image),\"\(caption)\",\(i % 3)\n"
            tsv += "\(image)\t\(caption)\t\(i % 3)\n"
            labels += "../\(image),\(i % 3)\n"
        }
        try csv.write(toFile: dir + "/train.csv", atomically: true, encoding: .utf8)
        try tsv.write(toFile: dir + "/train.tsv", atomically: true, encoding: .utf8)
        try labels.write(toFile: dir + "/eval/labels.csv", atomically: true, encoding: .utf8)
        try fm.copyItem(atPath: fixtureClasses.appendingPathComponent("cifar10_shape.py").path, toPath: dir + "/eval/classes.py")
    }

    func path(_ name: String) -> String { dir + "/" + name }
    func bytes(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path(name))) }
}

/// Issue 14, items 3 and 4: CleanCLIP's spellings, TSV, classes.py, and embedding at scale.
@Suite struct CleanCLIPUserTests {
    /// The finetune epoch lines up to the timings: "epoch 1/1  loss X  clip Y".
    func lossLines(_ stdout: String) -> [String] {
        stdout.split(separator: "\n").filter { $0.hasPrefix("epoch") }.map { line in
            String(line).components(separatedBy: "  ").prefix(3).joined(separator: "  ")
        }
    }

    /// A checkpoint's tensors by name, as floats.
    func weights(_ path: String) throws -> [String: [Float]] {
        try SafetensorsReader.read(path: path).tensors.mapValues { try $0.toFloats() }
    }

    @Test func finetuneAliasesAndTSVGiveTheSameRun() throws {
        let s = try Scratch()
        let common = ["--model", fullVocabularyModel, "--lr", "1e-4", "--epochs", "1", "--seed", "3", "--threads", "1", "--beta1", "0.8"]
        let ours = try runCapturing(["finetune"] + common + [
            "--train-data", s.path("train.csv"), "--image-key", "img", "--caption-key", "cap", "--batch-size", "2",
            "--warmup-steps", "1", "--weight-decay", "0.05", "--clip-weight", "0.5", "--out", s.path("ours.safetensors")])
        let theirs = try runCapturing(["finetune"] + common + [
            "--train_data", s.path("train.tsv"), "--delimiter", "\\t", "--image_key", "img", "--caption_key", "cap",
            "--batch_size", "2", "--num_warmup_steps", "1", "--weight_decay", "0.05", "--clip_weight", "0.5",
            "--complete_finetune", "--out", s.path("theirs.safetensors")])
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(theirs.status == 0, "\(theirs.stderr)")
        #expect(!lossLines(ours.stdout).isEmpty)
        #expect(lossLines(ours.stdout) == lossLines(theirs.stdout), "\(ours.stdout)\n\(theirs.stdout)")
        // CleanCLIP's loss is the default (as in the C and Python APIs); --no-inmodal is MMCL-only.
        #expect(ours.stdout.contains("CleanCLIP (L_CLIP + L_SS)") && theirs.stdout.contains("CleanCLIP (L_CLIP + L_SS)"), "\(ours.stdout)")
        // The weights are identical (the files differ only in their random checkpoint_id).
        #expect(try weights(s.path("ours.safetensors")) == weights(s.path("theirs.safetensors")))
        // A different setting changes the run: the comparison above is not vacuous.
        let other = try runCapturing(["finetune"] + common + [
            "--train-data", s.path("train.csv"), "--image-key", "img", "--caption-key", "cap", "--batch-size", "2",
            "--warmup-steps", "1", "--weight-decay", "0.05", "--clip-weight", "0.25", "--no-inmodal", "--out", s.path("other.safetensors")])
        #expect(other.status == 0, "\(other.stderr)")
        #expect(other.stdout.contains("MMCL-only (L_CLIP)"), "\(other.stdout)")

        // `convert` to CleanCLIP's .pt carries the run's AdamW state and finished epochs.
        let pt = try runCapturing(["convert", s.path("ours.safetensors"), s.path("ours.pt")])
        #expect(pt.status == 0 && pt.stdout.contains("cleanclip-pt") && pt.stdout.contains("with the AdamW state"), "\(pt.stdout)\(pt.stderr)")
        let root = try CheckpointReader.readTorchPickle(path: s.path("ours.pt"))
        #expect(root["epoch"]?.intValue == 1)
        #expect(root["optimizer"]?["state"]?.dictPairs?.isEmpty == false)
        #expect(try weights(s.path("other.safetensors")) != weights(s.path("ours.safetensors")))
    }

    @Test func evaluateAliasesGiveTheSameReport() throws {
        let s = try Scratch()
        let ours = try runCapturing(["evaluate", "--model", fullVocabularyModel, "--eval-data", s.path("eval/labels.csv"),
                                     "--classes", s.path("eval/classes.py"), "--trigger", "yellow", "--target", "cat",
                                     "--patch-size", "8", "--patch-location", "top_left", "--batch-size", "3",
                                     "--json", s.path("ours.json")])
        let theirs = try runCapturing(["evaluate", "--model", fullVocabularyModel, "--eval_test_data_dir", s.path("eval"),
                                       "--eval_data_type", "CIFAR10", "--add_backdoor", "--patch_type", "yellow", "--label", "cat",
                                       "--patch_size", "8", "--patch_location", "top_left", "--batch_size", "3",
                                       "--json", s.path("theirs.json")])
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(theirs.status == 0, "\(theirs.stderr)")
        #expect(ours.stdout.contains("images           4") && ours.stdout.contains("attack success"), "\(ours.stdout)")
        #expect(ours.stdout == theirs.stdout)
        #expect(try s.bytes("ours.json") == s.bytes("theirs.json"))
        // The classes came from classes.py (10 CIFAR names), not from its lines.
        let report = try String(contentsOfFile: s.path("ours.json"), encoding: .utf8)
        #expect(report.contains("\"cat\""), "\(report)")
    }

    @Test func poisonAliasesGiveTheSameFiles() throws {
        let s = try Scratch()
        let ours = try runCapturing(["poison", "--data", s.path("train.csv"), "--image-key", "img", "--caption-key", "cap",
                                     "--trigger", "yellow", "--target", "banana", "--count", "2", "--templates",
                                     fixtureClasses.appendingPathComponent("cifar10_shape.py").path, "--size-train-data", "3",
                                     "--seed", "5", "--out", s.path("p1")])
        let theirs = try runCapturing(["poison", "--train_data", s.path("train.tsv"), "--delimiter", "tab", "--image_key", "img",
                                       "--caption_key", "cap", "--patch_type", "yellow", "--label", "banana", "--num_backdoor", "2",
                                       "--templates", fixtureClasses.appendingPathComponent("cifar10_shape.py").path,
                                       "--size_train_data", "3", "--seed", "5", "--out", s.path("p2")])
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(theirs.status == 0, "\(theirs.stderr)")
        let a = try FileManager.default.contentsOfDirectory(atPath: s.path("p1")).sorted()
        let b = try FileManager.default.contentsOfDirectory(atPath: s.path("p2")).sorted()
        #expect(a == b && !a.isEmpty)
        for name in a where name.hasSuffix(".csv") {
            let csv = try String(contentsOfFile: s.path("p1/" + name), encoding: .utf8)
            #expect(csv == (try String(contentsOfFile: s.path("p2/" + name), encoding: .utf8)))
            // Captions from the classes.py templates, filled with the target.
            #expect(csv.contains("banana."), "\(csv)")
        }
    }

    @Test func scoreSamplesReadsATSV() throws {
        let s = try Scratch()
        let csv = try runCapturing(["score-samples", "--model", fixtureModel, "--data", s.path("train.csv"), "--image-key", "img",
                                    "--k", "1", "--out", s.path("csv-scores.csv")])
        let tsv = try runCapturing(["score-samples", "--model", fixtureModel, "--data", s.path("train.tsv"), "--delimiter", "\\t",
                                    "--image_key", "img", "--k", "1", "--out", s.path("tsv-scores.csv")])
        #expect(csv.status == 0, "\(csv.stderr)")
        #expect(tsv.status == 0, "\(tsv.stderr)")
        #expect(try s.bytes("csv-scores.csv") == s.bytes("tsv-scores.csv"))
    }

    @Test(arguments: [
        (["finetune", "--model", "m", "--train_data", "t.csv", "--out", "o", "--wandb"], "--wandb"),
        (["finetune", "--model", "m", "--train_data", "t.csv", "--out", "o", "--name", "exp"], "--name"),
        (["finetune", "--model", "m", "--train_data", "t.csv", "--out", "o", "--distributed"], "--distributed"),
        (["finetune", "--model", "m", "--train_data", "t.csv", "--out", "o", "--model_name", "RN50"], "--model_name"),
        (["finetune", "--model", "m", "--train_data", "t.csv", "--out", "o", "--eval_data_type", "ImageNet1K"], "--eval_data_type"),
        (["finetune", "--model", "m", "--train_data", "t.csv", "--out", "o", "--patch_type", "blended"], "--patch_type"),
        (["evaluate", "--model", "m", "--eval-data", "e.csv", "--device", "gpu"], "--device"),
        (["evaluate", "--model", "m", "--eval-data", "e.csv", "--epochs", "3"], "--epochs"),
        (["poison", "--train_data", "t.csv", "--out", "o", "--progressive"], "--progressive"),
        (["embed", "--model", "m", "--image-dir", "d", "--out-image", "o.npy", "--num_workers", "8"], "--num_workers"),
    ])
    func cleanCLIPOptionsWithoutEquivalentAreExplained(_ arguments: [String], _ flag: String) throws {
        let (status, stderr) = try run(arguments)
        #expect(status == 64, "exit status \(status): \(stderr)")
        #expect(stderr.contains("CleanCLIP's \(flag) has no equivalent in `cleanclip \(arguments[0])`: "), "\(stderr)")
    }

    @Test func aTSVReadWithCommasHintsAtTheDelimiter() throws {
        let s = try Scratch()
        let r = try runCapturing(["embed", "--model", fixtureModel, "--images-from", s.path("train.tsv"), "--image-key", "img",
                                  "--out-image", s.path("e.npy")])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("--delimiter '\\t'"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: s.path("e.npy")))
        let bad = try run(["embed", "--model", fixtureModel, "--images-from", s.path("train.tsv"), "--delimiter", "::",
                           "--out-image", s.path("e.npy")])
        #expect(bad.status == 64 && bad.stderr.contains("--delimiter"), "\(bad.stderr)")
    }

    @Test func aHostileClassesPyIsAnErrorNamingTheLine() throws {
        let s = try Scratch()
        let r = try runCapturing(["evaluate", "--model", fullVocabularyModel, "--eval-data", s.path("eval/labels.csv"),
                                  "--classes", fixtureClasses.appendingPathComponent("hostile_eval.py").path])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("hostile_eval.py, line 2:") && r.stderr.contains("never run"), "\(r.stderr)")
    }

    /// --image-dir and --images-from give the rows --images gives for the same files, in the
    /// documented order (folder: relative paths sorted as bytes, recursive, hidden skipped;
    /// CSV: row order), with a progress bar on standard error and the index in --out-paths.
    @Test func embedStreamsFoldersAndCSVsInTheDocumentedOrder() throws {
        let s = try Scratch()
        let sorted = ["images/C.JPG", "images/a_brick.jpg", "images/b/astronaut.jpg", "images/camera.png"]
        let listed = try runCapturing(["embed", "--model", fixtureModel, "--batch-size", "3", "--normalize",
                                       "--out-image", s.path("listed.npy"), "--images"] + sorted.map(s.path))
        let folder = try runCapturing(["embed", "--model", fixtureModel, "--batch-size", "3", "--normalize",
                                       "--image-dir", s.path("images"), "--out-image", s.path("folder.npy"),
                                       "--out-paths", s.path("folder.txt")])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(folder.status == 0, "\(folder.stderr)")
        #expect(try s.bytes("folder.npy") == s.bytes("listed.npy"))
        #expect(try String(contentsOfFile: s.path("folder.txt"), encoding: .utf8) == sorted.map { s.path($0) + "\n" }.joined())
        #expect(folder.stderr.contains("embed images [") && folder.stderr.contains("4/4") && folder.stderr.contains("eta"),
                "\(folder.stderr)")

        let inRows = try runCapturing(["embed", "--model", fixtureModel, "--batch-size", "3", "--normalize",
                                       "--out-image", s.path("rows-listed.npy"), "--images"] + s.images.map(s.path))
        let csv = try runCapturing(["embed", "--model", fixtureModel, "--batch_size", "3", "--normalize",
                                    "--images-from", s.path("train.tsv"), "--delimiter", "\\t", "--image_key", "img",
                                    "--out-image", s.path("csv.npy")])
        #expect(inRows.status == 0 && csv.status == 0, "\(csv.stderr)")
        #expect(try s.bytes("csv.npy") == s.bytes("rows-listed.npy"))
        #expect(try s.bytes("csv.npy") != s.bytes("folder.npy"))  // the orders differ, and so do the rows
    }

    @Test func embedWithAMissingImageLeavesNoFile() throws {
        let s = try Scratch()
        try "img\nimages/camera.png\nimages/missing.png\n".write(toFile: s.path("m.csv"), atomically: true, encoding: .utf8)
        let r = try runCapturing(["embed", "--model", fixtureModel, "--images-from", s.path("m.csv"), "--image-key", "img",
                                  "--out-image", s.path("m.npy")])
        #expect(r.status == 1 && r.stderr.contains("row 2") && r.stderr.contains("missing.png"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: s.path("m.npy")))
        let empty = try runCapturing(["embed", "--model", fixtureModel, "--image-dir", s.path("eval"), "--out-image", s.path("n.npy")])
        #expect(empty.status != 0 && empty.stderr.contains("no .jpg, .jpeg or .png files"), "\(empty.stderr)")
    }
}
