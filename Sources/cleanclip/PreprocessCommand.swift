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
        try Bounds.check(size, "--size", 1...CLIPPreprocessor.maxSize)
        if images.isEmpty { throw ValidationError("give at least one image") }
        let floats = images.count * 3 * size * size  // no overflow: size and the argument count are bounded
        if floats > Int(Int32.max) {
            throw ValidationError("\(images.count) images of 3 x \(size) x \(size) make \(floats) floats, more than one .npy "
                + "file written here may hold (\(Int32.max)); preprocess fewer images at a time")
        }
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
