import CleanCLIP
import Foundation

/// Items per forward pass: bounds the memory one call needs, whatever n the caller passes.
enum Batch {
    static let images = 16
    static let texts = 64
}

/// Runs `encode` over chunks of `0..<n` and writes the (optionally normalised) rows to `out`.
func encodeChunked(_ n: Int, chunk: Int, embedDim: Int, normalize: Bool, into out: UnsafeMutablePointer<Float>,
                   _ encode: (Range<Int>) throws -> Tensor) throws {
    for start in stride(from: 0, to: n, by: chunk) {
        let range = start..<min(n, start + chunk)
        var e = try encode(range)
        guard e.shape == [range.count, embedDim] else {
            throw BoundaryError(.internal, "encoder returned shape \(e.shape) for \(range.count) inputs; expected [\(range.count), \(embedDim)]")
        }
        if normalize { e = e.l2Normalized() }
        (out + start * embedDim).update(from: e.data, count: e.count)
    }
}

/// The common prologue of the encode functions: model, non-zero count, output capacity.
private func prepare(_ model: OpaquePointer?, _ n: Int, _ what: String, _ out: UnsafeMutablePointer<Float>?,
                     _ capacity: Int, _ needed: UnsafeMutablePointer<Int>?) throws -> (CLIPModel, UnsafeMutablePointer<Float>) {
    let m = try ModelHandle.from(model).model
    try positive(n, "the number of \(what)")
    try checkCapacity(try product([n, m.config.embedDim], "the output"), capacity, needed, "embeddings of \(n) \(what)")
    return (m, try nonNull(out, "embeddings"))
}

@_cdecl("cleanclip_encode_tokens")
public func cleanclip_encode_tokens(_ model: OpaquePointer?, _ tokens: UnsafePointer<Int32>?, _ n: Int, _ normalize: Int32,
                                    _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                                    _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let tokens = try nonNull(tokens, "tokens")
        let (m, out) = try prepare(model, n, "texts", out, capacity, needed)
        let ctx = m.config.contextLength
        _ = try product([n, ctx], "the token count")
        let all = UnsafeBufferPointer(start: tokens, count: n * ctx)
        if let bad = all.firstIndex(where: { $0 < 0 || Int($0) >= m.config.vocabSize }) {
            throw BoundaryError(.shapeMismatch,
                                "token id \(all[bad]) of text \(bad / ctx), position \(bad % ctx) is outside the vocabulary 0..<\(m.config.vocabSize)")
        }
        try encodeChunked(n, chunk: Batch.texts, embedDim: m.config.embedDim, normalize: normalize != 0, into: out) { r in
            try m.encodeText(tokens: Array(all[(r.lowerBound * ctx)..<(r.upperBound * ctx)]), batch: r.count)
        }
    }
}

@_cdecl("cleanclip_encode_texts")
public func cleanclip_encode_texts(_ model: OpaquePointer?, _ texts: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int,
                                   _ normalize: Int32, _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                                   _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let (m, out) = try prepare(model, n, "texts", out, capacity, needed)
        let texts = try strings(texts, n, "texts")
        try encodeTexts(m, texts, normalize: normalize != 0, into: out)
    }
}

/// Tokenizes and encodes captions.
func encodeTexts(_ m: CLIPModel, _ texts: [String], normalize: Bool, into out: UnsafeMutablePointer<Float>) throws {
    let ctx = m.config.contextLength
    try encodeChunked(texts.count, chunk: Batch.texts, embedDim: m.config.embedDim, normalize: normalize, into: out) { r in
        let ids = try Frontend.tokenize(Array(texts[r]), contextLength: ctx, truncate: true)
        if let big = ids.first(where: { Int($0) >= m.config.vocabSize }) {
            throw BoundaryError(.shapeMismatch,
                                "the model's vocabulary has \(m.config.vocabSize) tokens, but CLIP's tokenizer produced id \(big): this checkpoint cannot encode text with CLIP's BPE vocabulary")
        }
        return try m.encodeText(tokens: ids, batch: r.count)
    }
}

@_cdecl("cleanclip_encode_pixels")
public func cleanclip_encode_pixels(_ model: OpaquePointer?, _ pixels: UnsafePointer<Float>?, _ n: Int, _ normalize: Int32,
                                    _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                                    _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let pixels = try nonNull(pixels, "pixels")
        let (m, out) = try prepare(model, n, "images", out, capacity, needed)
        let s = m.config.imageResolution
        let per = 3 * s * s
        _ = try product([n, per], "the pixel count")
        try encodeChunked(n, chunk: Batch.images, embedDim: m.config.embedDim, normalize: normalize != 0, into: out) { r in
            let t = Tensor(zeros: [r.count, 3, s, s])
            t.data.update(from: pixels + r.lowerBound * per, count: r.count * per)
            return try m.encodeImage(t)
        }
    }
}

@_cdecl("cleanclip_encode_image_files")
public func cleanclip_encode_image_files(_ model: OpaquePointer?, _ paths: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int,
                                         _ normalize: Int32, _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                                         _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let (m, out) = try prepare(model, n, "images", out, capacity, needed)
        let paths = try strings(paths, n, "paths")
        try encodeImages(m, count: n, normalize: normalize != 0, into: out) { i, dst in
            try Frontend.preprocess(try Frontend.decode(path: paths[i]), size: m.config.imageResolution, into: dst)
        }
    }
}

@_cdecl("cleanclip_encode_rgb8")
public func cleanclip_encode_rgb8(_ model: OpaquePointer?, _ rgb: UnsafePointer<UInt8>?, _ n: Int, _ width: Int, _ height: Int,
                                  _ normalize: Int32, _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                                  _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let rgb = try nonNull(rgb, "rgb")
        let (m, out) = try prepare(model, n, "images", out, capacity, needed)
        let per = try rgbImageBytes(width: width, height: height)
        _ = try product([n, per], "the RGB buffer")
        try encodeImages(m, count: n, normalize: normalize != 0, into: out) { i, dst in
            try Frontend.preprocess(try Frontend.image(rgb + i * per, width: width, height: height),
                                    size: m.config.imageResolution, into: dst)
        }
    }
}

/// Bytes of one RGB8 image, after checking the dimensions.
func rgbImageBytes(width: Int, height: Int) throws -> Int {
    guard width >= 0, height >= 0, width <= 1 << 20, height <= 1 << 20, width * height <= 1 << 30 else {
        throw BoundaryError(.invalidArgument, "image size \(UInt(bitPattern: width)) x \(UInt(bitPattern: height)) is too large")
    }
    guard width > 0, height > 0 else {
        throw BoundaryError(.invalidArgument, "image size \(width) x \(height): width and height must be positive")
    }
    return width * height * 3
}

/// Preprocesses images one by one (`load(i, destination)`) into batches and encodes them.
func encodeImages(_ m: CLIPModel, count n: Int, normalize: Bool, into out: UnsafeMutablePointer<Float>,
                  _ load: (Int, UnsafeMutablePointer<Float>) throws -> Void) throws {
    let s = m.config.imageResolution
    let per = 3 * s * s
    try encodeChunked(n, chunk: Batch.images, embedDim: m.config.embedDim, normalize: normalize, into: out) { r in
        let t = Tensor(zeros: [r.count, 3, s, s])
        for (k, i) in r.enumerated() { try load(i, t.data + k * per) }
        return try m.encodeImage(t)
    }
}
