/// CLIP's image preprocessing, bit-exact with OpenAI's `_transform` and
/// open_clip's `image_transform(size, is_train=False)` applied to the image
/// as Pillow opens it (a `DecodedImage`) or to an RGB image:
///
/// 1. `Resize(size, BICUBIC)`: the short side becomes `size`, the long side
///    `int(size * long / short)` (torchvision truncates), resampled with
///    Pillow's bicubic (see `resize(_:width:height:filter:)`).
/// 2. `CenterCrop(size)`: offsets `int(round((H - size) / 2.0))` with Python's
///    round-half-to-even (`.torchvision`), or `(H - size) // 2` as Hugging
///    Face's `CLIPImageProcessor` does (`.floor`); they differ by one pixel when
///    `H - size` is odd.
/// 3. `ToTensor` and `Normalize(mean, std)` in Float32: `(v / 255 - mean) / std`.
///
/// Only the cropped window is ever resampled, so a 1x500 strip (resized to
/// 224x112000 by the reference) costs no more than a 224x224 image.
///
/// open_clip converts to RGB only after the crop, so the resize runs in the
/// mode Pillow opened the file in: palette "P" and bilevel "1" with NEAREST
/// whatever the filter, "RGBA"/"LA" premultiplied, 16-bit grey "I;16" in
/// 16 bits, "CMYK" before the CMYK->RGB conversion. Pass a `DecodedImage`
/// (`ImageDecoder.decodeForPreprocessing(path:)`) to get that —
/// `transform(Image.open(path))` exactly; an `RGBImage` is treated as mode
/// "RGB", i.e. `transform(img.convert("RGB"))`, which differs for those modes
/// (grey "L" gives the same either way). The `filter` applies to the modes
/// Pillow resizes with it; `.nearest` also skips RGBA/LA premultiplication,
/// as in Pillow.
///
/// ```swift
/// let preprocess = CLIPPreprocessor(size: 224)
/// let chw: [Float] = preprocess(try ImageDecoder.decodeForPreprocessing(path: "cat.png"))  // 3 * 224 * 224
/// ```
public struct CLIPPreprocessor: Sendable {
    /// How the centre crop's offset is rounded when the margin is odd.
    public enum CropRounding: Sendable, Equatable {
        /// torchvision's `CenterCrop`: `int(round(margin / 2.0))`, half to even.
        case torchvision
        /// Hugging Face's `CLIPImageProcessor`: `margin // 2`.
        case floor
    }

    /// OpenAI CLIP's per-channel mean and standard deviation (RGB).
    public static let openAIMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let openAIStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// The largest output side the command-line tool and the C ABI accept: 3 x 4096 x 4096
    /// floats (201 MB) per image.
    public static let maxSize = 4096

    /// Output side length (the model's image size, e.g. 224 or 288).
    public let size: Int
    public let mean: [Float]
    public let std: [Float]
    public let cropRounding: CropRounding
    public let filter: ResampleFilter
    /// Which Pillow version's pass order to reproduce (Pillow 13 by default).
    public let passOrder: ResamplePassOrder
    /// value -> normalised Float32 for each channel, computed with the same
    /// Float32 operations as torchvision, so the lookup is exact.
    private let table: [Float]

    /// - Precondition: `size > 0`, `mean` and `std` have three entries, `std`
    ///   has no zero. (These are programmer-chosen constants, not user data.)
    public init(size: Int = 224, mean: [Float] = openAIMean, std: [Float] = openAIStd,
                cropRounding: CropRounding = .torchvision, filter: ResampleFilter = .bicubic,
                passOrder: ResamplePassOrder = .pillow13) {
        precondition(size > 0, "preprocess size must be positive")
        precondition(mean.count == 3 && std.count == 3 && !std.contains(0), "mean and std need three channels, std non-zero")
        self.size = size
        self.mean = mean
        self.std = std
        self.cropRounding = cropRounding
        self.filter = filter
        self.passOrder = passOrder
        var table = [Float](repeating: 0, count: 3 * 256)
        for channel in 0..<3 {
            for value in 0..<256 {
                let scaled = Float(value) / 255
                table[channel * 256 + value] = (scaled - mean[channel]) / std[channel]
            }
        }
        self.table = table
    }

    /// The normalised image, CHW Float32: `3 * size * size` values.
    public func callAsFunction(_ image: RGBImage) -> [Float] {
        [Float](unsafeUninitializedCapacity: 3 * size * size) { buffer, count in
            normalize(resizedAndCropped(image), into: buffer)
            count = 3 * size * size
        }
    }

    /// The normalised image, resized in its own mode as open_clip does with
    /// `Image.open(path)`: CHW Float32, `3 * size * size` values.
    public func callAsFunction(_ image: DecodedImage) -> [Float] {
        [Float](unsafeUninitializedCapacity: 3 * size * size) { buffer, count in
            normalize(resizedAndCropped(image), into: buffer)
            count = 3 * size * size
        }
    }

    /// Writes the normalised CHW image into `buffer` (e.g. one slot of a batch).
    /// - Precondition: `buffer.count >= 3 * size * size`.
    public func preprocess(_ image: RGBImage, into buffer: UnsafeMutableBufferPointer<Float>) {
        normalize(resizedAndCropped(image), into: buffer)
    }

    /// Writes the normalised CHW image, resized in its own mode, into `buffer`.
    /// - Precondition: `buffer.count >= 3 * size * size`.
    public func preprocess(_ image: DecodedImage, into buffer: UnsafeMutableBufferPointer<Float>) {
        normalize(resizedAndCropped(image), into: buffer)
    }

    /// Steps 1 and 2 only: the `size` x `size` RGB8 image that torchvision's
    /// `ToTensor` would receive for an RGB image.
    public func resizedAndCropped(_ image: RGBImage) -> RGBImage {
        let window = cropWindow(width: image.width, height: image.height)
        return Resampler.resample(Raster(image), width: window.resizedWidth, height: window.resizedHeight,
                                  filter: filter, passOrder: passOrder, window: window.window).rgbImage
    }

    /// Steps 1 and 2 in `image`'s mode, then Pillow's `convert("RGB")`: the
    /// `size` x `size` RGB8 image that ToTensor receives in open_clip.
    public func resizedAndCropped(_ image: DecodedImage) -> RGBImage {
        let window = cropWindow(width: image.width, height: image.height)
        return Resampler.resample(image, width: window.resizedWidth, height: window.resizedHeight,
                                  filter: filter, passOrder: passOrder, window: window.window).convertedToRGB()
    }

    private func cropWindow(width: Int, height: Int) -> (resizedWidth: Int, resizedHeight: Int, window: Resampler.Window) {
        let (resizedWidth, resizedHeight) = Self.resizedSize(width: width, height: height, shortSide: size)
        if resizedWidth < size || resizedHeight < size {
            // Cannot happen: the short side is resized to exactly `size`.
            preconditionFailure("resized \(resizedWidth)x\(resizedHeight) is smaller than the crop \(size)")
        }
        let window = Resampler.Window(x: cropOffset(margin: resizedWidth - size), y: cropOffset(margin: resizedHeight - size),
                                      width: size, height: size)
        return (resizedWidth, resizedHeight, window)
    }

    /// torchvision's `Resize(shortSide)` output size: the short side becomes
    /// `shortSide`, the long side `int(shortSide * long / short)`.
    public static func resizedSize(width: Int, height: Int, shortSide: Int) -> (width: Int, height: Int) {
        if width <= height {
            return (shortSide, Int(Double(shortSide) * Double(height) / Double(width)))
        }
        return (Int(Double(shortSide) * Double(width) / Double(height)), shortSide)
    }

    func cropOffset(margin: Int) -> Int {
        switch cropRounding {
        case .floor:
            return margin / 2
        case .torchvision:
            return Int((Double(margin) / 2).rounded(.toNearestOrEven))
        }
    }

    private func normalize(_ image: RGBImage, into buffer: UnsafeMutableBufferPointer<Float>) {
        precondition(buffer.count >= 3 * size * size, "buffer holds \(buffer.count) floats, needs \(3 * size * size)")
        let plane = size * size
        image.pixels.withUnsafeBufferPointer { pixels in
            table.withUnsafeBufferPointer { table in
                for i in 0..<plane {
                    buffer[i] = table[Int(pixels[3 * i])]
                    buffer[plane + i] = table[256 + Int(pixels[3 * i + 1])]
                    buffer[2 * plane + i] = table[512 + Int(pixels[3 * i + 2])]
                }
            }
        }
    }
}
