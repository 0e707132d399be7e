// Embeddings and zero-shot classification with the CleanCLIP Swift module directly.
//
//   scripts/test_bindings.sh builds this file with swiftc against the package's release build:
//   swiftc -O examples/swift/main.swift -I $BUILD/release/Modules ... -lcleanclip
//   ./clip_example MODEL IMAGE... [--dump DIR]
//
// With --dump, writes the embeddings of the shared cross-language inputs (see
// bindings/python/tests/test_cross_language.py) as raw float32 files.
import CleanCLIP
import Foundation

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}

var args = Array(CommandLine.arguments.dropFirst())
var dumpDir: String?
if let i = args.firstIndex(of: "--dump"), i + 1 < args.count {
    dumpDir = args[i + 1]
    args.removeSubrange(i...(i + 1))
}
guard args.count >= 2 else { fail("usage: clip_example MODEL IMAGE... [--dump DIR]") }

do {
    let model = try CLIPModel.load(path: args[0])
    let c = model.config
    print("model: \(c.architecture), embed dim \(c.embedDim), image size \(c.imageResolution)")
    print("blas: \(BLASBackend.status)")

    // Images: decode, preprocess as CLIP does, batch, encode, normalise.
    let preprocess = CLIPPreprocessor(size: c.imageResolution)
    let paths = Array(args.dropFirst())
    var pixels: [Float] = []
    for path in paths { pixels += preprocess(try ImageDecoder.decode(path: path)) }
    let images = try model.encodeImage(Tensor(pixels, shape: [paths.count, 3, c.imageResolution, c.imageResolution]))
        .l2Normalized()

    // Captions: tokenize with CLIP's BPE, encode, normalise.
    let captions = ["a photo of a cat", "a diagram of a transformer", "Ünïcödé text 東京"]
    let tokens = try CLIPTokenizer.standard.tokenize(captions, contextLength: c.contextLength)
    let texts = try model.encodeText(tokens: tokens, batch: captions.count).l2Normalized()

    // Zero-shot with the library's classifier: class embedding = normalised mean of the
    // normalised template embeddings; probabilities = softmax(exp(logit_scale) * cosine).
    let classes = try ClassList(names: ["cat", "dog", "red square"], templates: ["a photo of a {}.", "{}"])
    let classifier = try ZeroShotClassifier(classes: classes) { prompts in try model.encodeTexts(prompts) }
    let (best, probabilities) = try classifier.classify(images, logitScale: model.logitScaleValue)
    let p = probabilities.array
    for (i, path) in paths.enumerated() {
        let p = p[i * classes.names.count + best[i]]
        print("\(path) -> \(classes.names[best[i]]) (p = \(String(format: "%.3f", p)))")
    }

    if let dumpDir {
        func dump(_ t: Tensor, _ name: String) throws {
            try t.withUnsafeBufferPointer { Data(buffer: $0) }
                .write(to: URL(fileURLWithPath: dumpDir).appendingPathComponent(name))
        }
        try dump(images, "swift_files.bin")
        try dump(texts, "swift_texts.bin")
    }
} catch {
    fail("error: \(error)")
}
