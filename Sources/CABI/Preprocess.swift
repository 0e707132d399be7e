import CleanCLIP
import Foundation

@_cdecl("cleanclip_tokenize")
public func cleanclip_tokenize(_ texts: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int, _ contextLength: Int32,
                               _ truncate: Int32, _ tokens: UnsafeMutablePointer<Int32>?, _ capacity: Int,
                               _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        try positive(n, "the number of texts")
        guard contextLength >= 2, contextLength <= 1 << 16 else {
            throw BoundaryError(.invalidArgument, "context_length \(contextLength) must be between 2 and 65536 (CLIP uses 77)")
        }
        let ctx = Int(contextLength)
        try checkCapacity(try product([n, ctx], "the token buffer"), capacity, needed, "tokens of \(n) texts")
        let out = try nonNull(tokens, "tokens")
        let texts = try strings(texts, n, "texts")
        let ids = try Frontend.tokenize(texts, contextLength: ctx, truncate: truncate != 0)
        guard ids.count == n * ctx else { throw BoundaryError(.internal, "tokenizer returned \(ids.count) ids; expected \(n * ctx)") }
        ids.withUnsafeBufferPointer { if let p = $0.baseAddress { out.update(from: p, count: ids.count) } }
    }
}

/// Checks a preprocessing size and the output buffer; returns the buffer.
private func preprocessOutput(_ size: Int32, _ pixels: UnsafeMutablePointer<Float>?, _ capacity: Int,
                              _ needed: UnsafeMutablePointer<Int>?) throws -> UnsafeMutablePointer<Float> {
    guard size >= 1, size <= CLIPPreprocessor.maxSize else {
        throw BoundaryError(.invalidArgument, "size \(size) must be between 1 and \(CLIPPreprocessor.maxSize) pixels")
    }
    try checkCapacity(3 * Int(size) * Int(size), capacity, needed, "a 3 x \(size) x \(size) image")
    return try nonNull(pixels, "pixels")
}

@_cdecl("cleanclip_preprocess_file")
public func cleanclip_preprocess_file(_ path: UnsafePointer<CChar>?, _ size: Int32, _ pixels: UnsafeMutablePointer<Float>?,
                                      _ capacity: Int, _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let path = try string(path, "path")
        let out = try preprocessOutput(size, pixels, capacity, needed)
        try Frontend.preprocess(try Frontend.decode(path: path), size: Int(size), into: out)
    }
}

@_cdecl("cleanclip_preprocess_rgb8")
public func cleanclip_preprocess_rgb8(_ rgb: UnsafePointer<UInt8>?, _ width: Int, _ height: Int, _ size: Int32,
                                      _ pixels: UnsafeMutablePointer<Float>?, _ capacity: Int,
                                      _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let rgb = try nonNull(rgb, "rgb")
        _ = try rgbImageBytes(width: width, height: height)
        let out = try preprocessOutput(size, pixels, capacity, needed)
        try Frontend.preprocess(try Frontend.image(rgb, width: width, height: height), size: Int(size), into: out)
    }
}
