import CleanCLIP
import Foundation

/// The tokenizer and image front ends as the C functions use them. Kept in one file so the
/// boundary's use of those modules is easy to audit.
enum Frontend {
    /// Row-major texts.count x contextLength token ids (CLIP's BPE, open_clip padding).
    static func tokenize(_ texts: [String], contextLength: Int, truncate: Bool) throws -> [Int32] {
        try CLIPTokenizer.loadStandard().tokenize(texts, contextLength: contextLength, truncate: truncate)
    }

    /// The file in the mode Pillow opens it in, so preprocessing matches open_clip exactly.
    static func decode(path: String) throws -> DecodedImage {
        try ImageDecoder.decodeForPreprocessing(path: path)
    }

    /// An image over a copy of `width * height * 3` caller bytes (dimensions already checked).
    static func image(_ rgb: UnsafePointer<UInt8>, width: Int, height: Int) throws -> RGBImage {
        try RGBImage(width: width, height: height, pixels: Array(UnsafeBufferPointer(start: rgb, count: width * height * 3)))
    }

    /// CLIP preprocessing into 3 * size * size floats at `out` (size already checked > 0).
    static func preprocess(_ image: RGBImage, size: Int, into out: UnsafeMutablePointer<Float>) throws {
        try preprocess(DecodedImage(image), size: size, into: out)
    }

    static func preprocess(_ image: DecodedImage, size: Int, into out: UnsafeMutablePointer<Float>) throws {
        let chw = CLIPPreprocessor(size: size)(image)
        guard chw.count == 3 * size * size else {
            throw BoundaryError(.internal, "preprocessing returned \(chw.count) values; expected 3 x \(size) x \(size)")
        }
        chw.withUnsafeBufferPointer { if let p = $0.baseAddress { out.update(from: p, count: chw.count) } }
    }
}
