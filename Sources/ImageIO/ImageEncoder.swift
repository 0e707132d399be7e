import CImageCodecs

/// Encodes `RGBImage`s as PNG (lossless) or JPEG, in memory or to a file.
/// Files are written atomically: to a temporary file in the same directory,
/// then renamed over the destination, so a reader never sees half a file.
///
/// ```swift
/// try ImageEncoder.writePNG(image, to: "triggered.png")
/// try ImageEncoder.writeJPEG(image, to: "triggered.jpg", quality: 95)
/// ```
public enum ImageEncoder {
    /// PNG bytes: 8-bit RGB, not interlaced.
    public static func encodePNG(_ image: RGBImage) throws -> [UInt8] {
        try encode(image, name: "PNG encoding") { pixels, data, size, message in
            cic_encode_png(pixels, Int32(image.width), Int32(image.height), data, size, message)
        }
    }

    /// Baseline JPEG bytes with 4:2:0 chroma subsampling (libjpeg's and
    /// Pillow's default) at `quality` 1...100 (Pillow's default is 75).
    public static func encodeJPEG(_ image: RGBImage, quality: Int = 75) throws -> [UInt8] {
        guard (1...100).contains(quality) else {
            throw ImageError(.invalidArgument, source: "JPEG encoding", detail: "quality \(quality) is outside 1...100")
        }
        return try encode(image, name: "JPEG encoding") { pixels, data, size, message in
            cic_encode_jpeg(pixels, Int32(image.width), Int32(image.height), Int32(quality), data, size, message)
        }
    }

    /// Writes `image` as PNG to `path`, atomically.
    public static func writePNG(_ image: RGBImage, to path: String) throws {
        try write(encodePNG(image), to: path)
    }

    /// Writes `image` as JPEG to `path`, atomically.
    public static func writeJPEG(_ image: RGBImage, to path: String, quality: Int = 75) throws {
        try write(encodeJPEG(image, quality: quality), to: path)
    }

    private static func write(_ bytes: [UInt8], to path: String) throws {
        try FileBytes.writeAtomically(bytes, to: path)
    }

    private static func encode(
        _ image: RGBImage, name: String,
        _ body: (UnsafePointer<UInt8>, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>,
                 UnsafeMutablePointer<Int>, UnsafeMutablePointer<CChar>) -> Int32
    ) throws -> [UInt8] {
        guard image.width <= Int(Int32.max), image.height <= Int(Int32.max) else {
            throw ImageError(.invalidArgument, source: name, detail: "image \(image.width)x\(image.height) is too large to encode")
        }
        var data: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var message = [CChar](repeating: 0, count: Int(CIC_MESSAGE_CAPACITY))
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            message.withUnsafeMutableBufferPointer { text in
                body(pixels.baseAddress!, &data, &size, text.baseAddress!)
            }
        }
        defer { cic_free(data) }
        guard status == Int32(CIC_OK), let data else {
            let detail = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw ImageError(ImageDecoder.kind(ofStatus: status), source: name, detail: detail)
        }
        return [UInt8](UnsafeBufferPointer(start: data, count: size))
    }
}
