/// An 8-bit RGB image: `pixels` holds `height` rows of `width` pixels, each
/// pixel three bytes (R, G, B) — HWC, row-major, no padding. This is what
/// Pillow calls mode "RGB" and what `np.asarray(pil_image)` returns.
///
/// ```swift
/// let image = try RGBImage(width: 2, height: 1, pixels: [255, 0, 0, 0, 0, 255])
/// image[1, 0]  // (r: 0, g: 0, b: 255)
/// ```
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height * 3` bytes.
    public private(set) var pixels: [UInt8]

    /// Wraps a raw RGB8 buffer, checking that its size matches the dimensions.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0 else {
            throw ImageError(.invalidArgument, source: "raw RGB buffer",
                             detail: "dimensions must be positive, got \(width)x\(height)")
        }
        let (count, overflow) = width.multipliedReportingOverflow(by: height * 3)
        guard !overflow, pixels.count == count else {
            throw ImageError(.invalidArgument, source: "raw RGB buffer",
                             detail: "\(width)x\(height) RGB needs \(width)x\(height)x3 bytes, got \(pixels.count)")
        }
        self.init(uncheckedWidth: width, height: height, pixels: pixels)
    }

    /// A black image.
    public init(width: Int, height: Int) throws {
        guard width > 0, height > 0, !width.multipliedReportingOverflow(by: height * 3).overflow else {
            throw ImageError(.invalidArgument, source: "image",
                             detail: "dimensions must be positive, got \(width)x\(height)")
        }
        self.init(uncheckedWidth: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
    }

    init(uncheckedWidth width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The pixel at column `x`, row `y` (both zero-based).
    public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)x\(height)")
            let i = (y * width + x) * 3
            return (pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)x\(height)")
            let i = (y * width + x) * 3
            pixels[i] = newValue.r
            pixels[i + 1] = newValue.g
            pixels[i + 2] = newValue.b
        }
    }

    /// The `width` x `height` region whose top-left pixel is (`x`, `y`), as
    /// Pillow's `image.crop((x, y, x + width, y + height))` — except that the
    /// region must lie inside the image (Pillow pads with black instead).
    public func cropped(x: Int, y: Int, width: Int, height: Int) throws -> RGBImage {
        guard width > 0, height > 0, x >= 0, y >= 0, x + width <= self.width, y + height <= self.height else {
            throw ImageError(.invalidArgument, source: "crop",
                             detail: "region \(width)x\(height) at (\(x), \(y)) is not inside the \(self.width)x\(self.height) image")
        }
        return unsafeCrop(columns: x ..< x + width, rows: y ..< y + height)
    }

    /// `cropped` without the bounds check, for callers that guarantee it.
    func unsafeCrop(columns: Range<Int>, rows: Range<Int>) -> RGBImage {
        let (x, y, width, height) = (columns.lowerBound, rows.lowerBound, columns.count, rows.count)
        var out = [UInt8](repeating: 0, count: width * height * 3)
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for row in 0..<height {
                    let from = ((y + row) * self.width + x) * 3
                    let to = row * width * 3
                    (target.baseAddress! + to).update(from: source.baseAddress! + from, count: width * 3)
                }
            }
        }
        return RGBImage(uncheckedWidth: width, height: height, pixels: out)
    }
}
