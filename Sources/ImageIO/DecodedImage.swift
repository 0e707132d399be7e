/// A decoded image in the mode Pillow opens its file in (`Image.open(path).mode`),
/// which is what decides how Pillow — and so open_clip's `Resize` — resamples it.
/// `ImageDecoder.decodeForPreprocessing(path:)` returns one; `CLIPPreprocessor`
/// and `resize(_:width:height:filter:)` follow Pillow's path for its mode, and
/// `convertedToRGB()` is Pillow's `convert("RGB")`.
///
/// ```swift
/// let image = try ImageDecoder.decodeForPreprocessing(path: "logo.png")  // .rgba
/// let chw = CLIPPreprocessor(size: 224)(image)  // == open_clip's transform(Image.open("logo.png"))
/// ```
public struct DecodedImage: Sendable, Equatable {
    /// Pillow's image modes, as far as JPEG and PNG files produce them.
    public enum Mode: String, Sendable, Equatable, CaseIterable {
        /// "RGB": three 8-bit samples per pixel.
        case rgb = "RGB"
        /// "L": 8-bit grey (2- and 4-bit PNG grey is scaled to 0...255 when read).
        case grey = "L"
        /// "1": bilevel, one sample of 0 or 255. Pillow resizes it with NEAREST whatever the filter.
        case bilevel = "1"
        /// "P": palette. Held expanded through the palette as three 8-bit samples
        /// (palette indices are not kept: Pillow resizes "P" with NEAREST whatever
        /// the filter, which commutes with the palette lookup, and the tRNS
        /// transparency only matters for `convert("RGBA")`).
        case palette = "P"
        /// "RGBA": four 8-bit samples, straight alpha. Pillow resizes it premultiplied.
        case rgba = "RGBA"
        /// "LA": grey and alpha, two 8-bit samples. Pillow resizes it premultiplied.
        /// (16-bit grey+alpha PNGs also decode to this; Pillow opens them as "RGBA"
        /// with R = G = B, which resizes and converts identically.)
        case greyAlpha = "LA"
        /// "I;16": one 16-bit grey sample (16-bit PNG grey). Pillow resizes it in
        /// doubles with 16-bit rounding; `convert("RGB")` clamps values above 255.
        case grey16 = "I;16"
        /// "CMYK": four 8-bit samples as Pillow holds them (JPEG read with Adobe's
        /// inverted polarity). Pillow resizes in CMYK, then converts.
        case cmyk = "CMYK"

        /// Samples per pixel.
        public var channels: Int {
            switch self {
            case .rgb, .palette: return 3
            case .grey, .bilevel, .grey16: return 1
            case .greyAlpha: return 2
            case .rgba, .cmyk: return 4
            }
        }
    }

    public let mode: Mode
    public let width: Int
    public let height: Int
    /// `width * height * mode.channels` 8-bit samples, row-major, interleaved;
    /// empty for `.grey16`.
    public let samples: [UInt8]
    /// `width * height` 16-bit samples for `.grey16`; empty otherwise.
    public let samples16: [UInt16]

    /// Wraps samples in `mode`'s layout, checking the count.
    public init(mode: Mode, width: Int, height: Int, samples: [UInt8]) throws {
        guard mode != .grey16 else {
            throw ImageError(.invalidArgument, source: "raw image buffer", detail: "I;16 images take 16-bit samples")
        }
        let (count, overflow) = width.multipliedReportingOverflow(by: height * mode.channels)
        guard width > 0, height > 0, !overflow, samples.count == count else {
            throw ImageError(.invalidArgument, source: "raw image buffer",
                             detail: "\(width)x\(height) \(mode.rawValue) needs \(width)x\(height)x\(mode.channels) samples, got \(samples.count)")
        }
        self.init(unchecked: mode, width: width, height: height, samples: samples, samples16: [])
    }

    /// Wraps 16-bit grey samples ("I;16"), checking the count.
    public init(width: Int, height: Int, grey16: [UInt16]) throws {
        let (count, overflow) = width.multipliedReportingOverflow(by: height)
        guard width > 0, height > 0, !overflow, grey16.count == count else {
            throw ImageError(.invalidArgument, source: "raw image buffer",
                             detail: "\(width)x\(height) I;16 needs \(width)x\(height) samples, got \(grey16.count)")
        }
        self.init(unchecked: .grey16, width: width, height: height, samples: [], samples16: grey16)
    }

    /// An RGB image as mode "RGB".
    public init(_ image: RGBImage) {
        self.init(unchecked: .rgb, width: image.width, height: image.height, samples: image.pixels, samples16: [])
    }

    init(unchecked mode: Mode, width: Int, height: Int, samples: [UInt8], samples16: [UInt16]) {
        self.mode = mode
        self.width = width
        self.height = height
        self.samples = samples
        self.samples16 = samples16
    }

    /// Pillow's `convert("RGB")`: grey is replicated, alpha dropped (not
    /// composited), "I;16" clamped to 255, CMYK converted with Pillow's integer
    /// formula (`Convert.c`, `cmyk2rgb`).
    public func convertedToRGB() -> RGBImage {
        let count = width * height
        switch mode {
        case .rgb, .palette:
            return RGBImage(uncheckedWidth: width, height: height, pixels: samples)
        case .grey, .bilevel, .greyAlpha, .rgba, .cmyk, .grey16:
            let pixels = [UInt8](unsafeUninitializedCapacity: count * 3) { out, initialised in
                samples.withUnsafeBufferPointer { s in
                    switch mode {
                    case .grey, .bilevel:
                        for i in 0..<count { let v = s[i]; out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v }
                    case .greyAlpha:
                        for i in 0..<count { let v = s[2 * i]; out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v }
                    case .rgba:
                        for i in 0..<count { out[3 * i] = s[4 * i]; out[3 * i + 1] = s[4 * i + 1]; out[3 * i + 2] = s[4 * i + 2] }
                    case .cmyk:
                        for i in 0..<count {
                            let nk = 255 - Int(s[4 * i + 3])
                            for c in 0..<3 { out[3 * i + c] = PillowMath.clip8(nk - PillowMath.mulDiv255(Int(s[4 * i + c]), nk)) }
                        }
                    case .grey16:
                        samples16.withUnsafeBufferPointer { s16 in
                            for i in 0..<count {
                                let v = UInt8(truncatingIfNeeded: min(s16[i], 255))
                                out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v
                            }
                        }
                    case .rgb, .palette:
                        break
                    }
                }
                initialised = count * 3
            }
            return RGBImage(uncheckedWidth: width, height: height, pixels: pixels)
        }
    }
}

/// Pillow's integer helpers (`libImaging/ImagingUtils.h`).
enum PillowMath {
    /// `MULDIV255(a, b)`: `t = a * b + 128; ((t >> 8) + t) >> 8`, i.e. round(a * b / 255).
    @inline(__always)
    static func mulDiv255(_ a: Int, _ b: Int) -> Int {
        let t = a * b + 128
        return ((t >> 8) + t) >> 8
    }

    @inline(__always)
    static func clip8(_ value: Int) -> UInt8 {
        value <= 0 ? 0 : (value < 256 ? UInt8(truncatingIfNeeded: value) : 255)
    }

    /// `rgbA2rgba` / `lA2la`: colour samples times alpha / 255, rounded; alpha kept.
    /// `channels` is 4 (RGBA) or 2 (LA); the last sample is alpha.
    static func premultiplied(_ samples: [UInt8], channels: Int) -> [UInt8] {
        var out = samples
        out.withUnsafeMutableBufferPointer { p in
            var i = 0
            while i < p.count {
                let alpha = Int(p[i + channels - 1])
                for c in 0..<(channels - 1) { p[i + c] = UInt8(truncatingIfNeeded: mulDiv255(Int(p[i + c]), alpha)) }
                i += channels
            }
        }
        return out
    }

    /// `rgba2rgbA` / `la2lA`: colour samples times 255 / alpha (integer
    /// division, clipped), unless alpha is 0 or 255.
    static func unpremultiply(_ samples: inout [UInt8], channels: Int) {
        samples.withUnsafeMutableBufferPointer { p in
            var i = 0
            while i < p.count {
                let alpha = Int(p[i + channels - 1])
                if alpha != 0 && alpha != 255 {
                    for c in 0..<(channels - 1) { p[i + c] = clip8(255 * Int(p[i + c]) / alpha) }
                }
                i += channels
            }
        }
    }
}
