import ArgumentParser
import CleanCLIP
import Foundation

struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Decode images and preprocess them as open_clip does into float32 (n, 3, S, S) .npy.")

    @Option(help: "Output side in pixels.")
    var size: Int = 224

    @Option(help: "Output .npy path.")
    var out: String

    @Argument(help: "JPEG or PNG files.")
    var images: [String]

    func validate() throws {
        if size < 1 { throw ValidationError("--size must be positive") }
        if images.isEmpty { throw ValidationError("give at least one image") }
    }

    func run() throws {
        let p = CLIPPreprocessor(size: size)
        var values: [Float] = []
        values.reserveCapacity(images.count * 3 * size * size)
        for path in images { values += p(try ImageDecoder.decodeForPreprocessing(path: path)) }
        try NumPy.write(values, shape: [images.count, 3, size, size], to: out)
        print("wrote \(out): \(images.count) x 3 x \(size) x \(size)")
    }
}
