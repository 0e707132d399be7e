import CleanCLIP
import FuzzSupport

let preprocessor = CLIPPreprocessor(size: 16)

/// JPEG and PNG decoding (libjpeg / libpng through CImageCodecs) and the preprocessing of
/// whatever mode comes out. Images are capped at 2^20 pixels to keep each run fast; the cap's
/// own check is part of what is fuzzed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let image = try? ImageDecoder.decodeForPreprocessing(data: bytes(data, size), name: "input", maxPixels: 1 << 20) else {
        Tally.count("refused")
        return 0
    }
    Tally.count("decoded")
    let pixels = preprocessor(image)
    precondition(pixels.count == 3 * 16 * 16, "\(pixels.count) preprocessed values")
    let rgb = image.convertedToRGB()
    precondition(rgb.width == image.width && rgb.height == image.height)
    return 0
}
