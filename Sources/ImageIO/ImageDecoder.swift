import CImageCodecs

/// Decodes JPEG and PNG files to `RGBImage`, giving the same bytes as
/// Pillow's `Image.open(path).convert("RGB")` (`decode`), or to a
/// `DecodedImage` in the mode Pillow opens the file in
/// (`decodeForPreprocessing`, for open_clip-exact preprocessing):
///
/// - JPEG: libjpeg-turbo's colour conversion (as Pillow); greyscale replicated;
///   CMYK/YCCK read with Adobe's inverted polarity and converted with Pillow's
///   integer formula. A file that ends early is an error ("truncated"), as in
///   Pillow, not grey padding as libjpeg would do.
/// - PNG: 1/2/4/8/16-bit grey, grey+alpha, palette (with or without tRNS),
///   RGB and RGBA, interlaced or not. Alpha is dropped, not composited.
///   16-bit samples keep their high byte, except 16-bit grey without alpha,
///   which Pillow opens as mode "I;16" and clamps to 255 when converting to RGB
///   (so values above 255 become white) — reproduced here for parity.
/// - EXIF orientation is not applied (Pillow's `convert` does not either).
///   Gamma and ICC profiles are ignored, as in Pillow.
///
/// Images with more than `maxPixels` pixels are refused before any pixel
/// memory is allocated (Pillow warns above 178,956,970 pixels, this default).
///
/// ```swift
/// let image = try ImageDecoder.decode(path: "cat.jpg")
/// let exact = try ImageDecoder.decodeForPreprocessing(path: "logo.png")
/// ```
public enum ImageDecoder {
    /// Pillow's `Image.MAX_IMAGE_PIXELS`.
    public static let defaultMaxPixels = 178_956_970

    /// The container formats this decoder recognises by their first bytes.
    public enum Format: Sendable, Equatable {
        case jpeg, png
    }

    /// Reads and decodes the file at `path` to RGB (Pillow's
    /// `Image.open(path).convert("RGB")`). Errors name the path. To preprocess
    /// a file exactly as open_clip does, use `decodeForPreprocessing(path:)`.
    public static func decode(path: String, maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        try decodeForPreprocessing(path: path, maxPixels: maxPixels).convertedToRGB()
    }

    /// Decodes an in-memory JPEG or PNG to RGB; `name` is used in error messages.
    public static func decode(data: [UInt8], name: String, maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        try decodeForPreprocessing(data: data, name: name, maxPixels: maxPixels).convertedToRGB()
    }

    /// Reads and decodes the file at `path` in the mode Pillow opens it in
    /// (`Image.open(path)`: "RGB", "L", "1", "P", "RGBA", "LA", "I;16" or
    /// "CMYK"), so that `CLIPPreprocessor` can resize it as Pillow resizes that
    /// mode — what open_clip's transform does, converting to RGB only after
    /// the crop. Errors name the path.
    public static func decodeForPreprocessing(path: String, maxPixels: Int = defaultMaxPixels) throws -> DecodedImage {
        let bytes = try FileBytes.readAll(path: path)
        return try decodeForPreprocessing(data: bytes, name: path, maxPixels: maxPixels)
    }

    /// `decodeForPreprocessing(path:)` for an in-memory JPEG or PNG; `name` is
    /// used in error messages.
    public static func decodeForPreprocessing(data: [UInt8], name: String,
                                              maxPixels: Int = defaultMaxPixels) throws -> DecodedImage {
        guard !data.isEmpty else {
            throw ImageError(.empty, source: name, detail: "file is empty (0 bytes)")
        }
        guard let format = format(of: data) else {
            let head = data.prefix(8).map { String($0, radix: 16) }.joined(separator: " ")
            throw ImageError(.unsupportedFormat, source: name,
                             detail: "not a JPEG or PNG image (first bytes: \(head))")
        }
        guard maxPixels >= 0 else {
            throw ImageError(.invalidArgument, source: name, detail: "maxPixels must not be negative, got \(maxPixels)")
        }
        var image = cic_image()
        var message = [CChar](repeating: 0, count: Int(CIC_MESSAGE_CAPACITY))
        let status = data.withUnsafeBufferPointer { bytes in
            message.withUnsafeMutableBufferPointer { text in
                switch format {
                case .jpeg: return cic_decode_jpeg(bytes.baseAddress, bytes.count, UInt64(maxPixels), &image, text.baseAddress)
                case .png: return cic_decode_png(bytes.baseAddress, bytes.count, UInt64(maxPixels), &image, text.baseAddress)
                }
            }
        }
        guard status == Int32(CIC_OK) else {
            let detail = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw ImageError(kind(ofStatus: status), source: name, detail: detail)
        }
        defer { cic_free(image.pixels) }
        let width = Int(image.width), height = Int(image.height)
        let mode: DecodedImage.Mode
        switch Int(image.mode) {
        case Int(CIC_MODE_RGB): mode = .rgb
        case Int(CIC_MODE_L): mode = .grey
        case Int(CIC_MODE_1): mode = .bilevel
        case Int(CIC_MODE_P): mode = .palette
        case Int(CIC_MODE_RGBA): mode = .rgba
        case Int(CIC_MODE_LA): mode = .greyAlpha
        case Int(CIC_MODE_I16): mode = .grey16
        case Int(CIC_MODE_CMYK): mode = .cmyk
        default:
            throw ImageError(.corrupt, source: name, detail: "decoder returned unknown mode \(image.mode)")
        }
        precondition(Int(image.channels) == mode.channels, "decoder and DecodedImage disagree on \(mode)'s channels")
        let count = width * height * mode.channels
        if mode == .grey16 {
            let samples = image.pixels.withMemoryRebound(to: UInt16.self, capacity: count) {
                [UInt16](UnsafeBufferPointer(start: $0, count: count))
            }
            return DecodedImage(unchecked: mode, width: width, height: height, samples: [], samples16: samples)
        }
        let samples = [UInt8](UnsafeBufferPointer(start: image.pixels, count: count))
        return DecodedImage(unchecked: mode, width: width, height: height, samples: samples, samples16: [])
    }

    /// The format `data` starts like, or nil.
    public static func format(of data: [UInt8]) -> Format? {
        if data.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if data.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        return nil
    }

    static func kind(ofStatus status: Int32) -> ImageError.Kind {
        switch Int(status) {
        case Int(CIC_ERR_TRUNCATED): return .truncated
        case Int(CIC_ERR_TOO_LARGE): return .tooLarge
        case Int(CIC_ERR_MEMORY): return .outOfMemory
        case Int(CIC_ERR_ARGUMENT): return .invalidArgument
        default: return .corrupt
        }
    }
}
