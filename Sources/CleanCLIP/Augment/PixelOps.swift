import Foundation

/// Colour and histogram operations on interleaved RGB8 pixel buffers (HWC, `width * height * 3`
/// bytes), reproducing torchvision 0.29's functionals on uint8 tensors bit for bit.
///
/// Every formula is evaluated in Float32 in the order torchvision's tensor code evaluates it, and
/// float-to-uint8 conversions truncate (after clamping to [0, 255]) as `Tensor.to(torch.uint8)`
/// does. The affine family (shear, translate, rotate) lives in `PixelOps+Affine.swift`.
package enum PixelOps {
    /// `_blend(img1, img2, ratio)`: `clamp(ratio * img1 + (1 - ratio) * img2, 0, 255)`, truncated.
    /// `ratio` and `1 - ratio` are computed in Double (Python) and rounded to Float32 (torch
    /// scalars); `other(i)` gives img2's value at byte `i`.
    @inline(__always)
    static func blend(_ pixels: [UInt8], ratio: Double, other: (Int) -> Float) -> [UInt8] {
        let r = Float(ratio), s = Float(1.0 - ratio)
        var out = [UInt8](repeating: 0, count: pixels.count)
        for i in 0..<pixels.count {
            let v = r * Float(pixels[i]) + s * other(i)
            out[i] = UInt8(min(max(v, 0), 255))
        }
        return out
    }

    /// Luma as torchvision's `rgb_to_grayscale`: `(0.2989 r + 0.587 g + 0.114 b)` in Float32,
    /// truncated to uint8. One value per pixel.
    package static func grayscale(_ pixels: [UInt8]) -> [UInt8] {
        let n = pixels.count / 3
        var out = [UInt8](repeating: 0, count: n)
        let wr: Float = 0.2989, wg: Float = 0.587, wb: Float = 0.114
        for p in 0..<n {
            let v = wr * Float(pixels[3 * p]) + wg * Float(pixels[3 * p + 1]) + wb * Float(pixels[3 * p + 2])
            out[p] = UInt8(min(max(v, 0), 255))
        }
        return out
    }

    /// `adjust_brightness(img, factor)`: blend with black.
    package static func brightness(_ pixels: [UInt8], factor: Double) -> [UInt8] {
        blend(pixels, ratio: factor) { _ in 0 }
    }

    /// `adjust_saturation(img, factor)` (AutoAugment's "Color"): blend with the uint8 grayscale.
    package static func saturation(_ pixels: [UInt8], factor: Double) -> [UInt8] {
        let gray = grayscale(pixels)
        return blend(pixels, ratio: factor) { Float(gray[$0 / 3]) }
    }

    /// `adjust_contrast(img, factor)`: blend with the mean of the uint8 grayscale (Float32 sum
    /// divided by the pixel count, as `torch.mean` on CPU).
    package static func contrast(_ pixels: [UInt8], factor: Double) -> [UInt8] {
        let gray = grayscale(pixels)
        // The sum of uint8 values is exact in an integer; torch sums in Float32, which is exact
        // below 2^24 (about 65,000 pixels) and may differ by an ulp above.
        let sum = gray.reduce(0) { $0 + Int($1) }
        let mean = Float(sum) / Float(max(gray.count, 1))
        return blend(pixels, ratio: factor) { _ in mean }
    }

    /// `adjust_sharpness(img, factor)`: blend with the image smoothed by the 3x3 kernel
    /// [[1,1,1],[1,5,1],[1,1,1]] / 13 on interior pixels (border pixels kept), rounded to uint8.
    /// Images of width or height <= 2 are returned unchanged.
    package static func sharpness(_ pixels: [UInt8], width: Int, height: Int, factor: Double) -> [UInt8] {
        if width <= 2 || height <= 2 { return pixels }
        var blurred = pixels
        for y in 1..<(height - 1) {
            for x in 1..<(width - 1) {
                for c in 0..<3 {
                    var s = 0
                    for dy in -1...1 {
                        for dx in -1...1 {
                            s += Int(pixels[((y + dy) * width + (x + dx)) * 3 + c])
                        }
                    }
                    s += 4 * Int(pixels[(y * width + x) * 3 + c])
                    // round(s / 13): torch computes it in Float32, but s/13 is never within 1/26
                    // of a half-integer, so the rounded value is exactly the integer one.
                    blurred[(y * width + x) * 3 + c] = UInt8((2 * s + 13) / 26)
                }
            }
        }
        return blend(pixels, ratio: factor) { Float(blurred[$0]) }
    }

    /// `posterize(img, bits)`: keep the top `bits` bits of each value.
    package static func posterize(_ pixels: [UInt8], bits: Int) -> [UInt8] {
        let mask = UInt8(truncatingIfNeeded: -(1 << (8 - max(0, min(8, bits)))))
        return pixels.map { $0 & mask }
    }

    /// `solarize(img, threshold)`: invert values `>= threshold` (compared in Float32).
    package static func solarize(_ pixels: [UInt8], threshold: Double) -> [UInt8] {
        let t = Float(threshold)
        return pixels.map { Float($0) >= t ? 255 - $0 : $0 }
    }

    /// `invert(img)`: `255 - v`.
    package static func invert(_ pixels: [UInt8]) -> [UInt8] { pixels.map { 255 - $0 } }

    /// `autocontrast(img)`: per channel, `(v - min) * ((1 / (max - min)) * 255)` in Float32, clamped and
    /// truncated; a channel with `max == min` is left unchanged.
    package static func autocontrast(_ pixels: [UInt8]) -> [UInt8] {
        var out = pixels
        for c in 0..<3 {
            var lo: UInt8 = 255, hi: UInt8 = 0
            for i in stride(from: c, to: pixels.count, by: 3) {
                lo = min(lo, pixels[i]); hi = max(hi, pixels[i])
            }
            if lo == hi { continue }
            let minimum = Float(lo)
            // `bound / (max - min)` with a Python scalar numerator is `reciprocal() * bound` in
            // torch, which rounds twice (and gives 254, not 255, for some maxima).
            let scale = (1 / (Float(hi) - minimum)) * 255
            for i in stride(from: c, to: pixels.count, by: 3) {
                let v = (Float(pixels[i]) - minimum) * scale
                out[i] = UInt8(min(max(v, 0), 255))
            }
        }
        return out
    }

    /// `equalize(img)`, torchvision's tensor implementation, per channel: histogram `h`;
    /// `step = (sum of the non-zero bins except the last non-zero one) / 255` (floor); if
    /// `step == 0` the channel is unchanged; otherwise
    /// `lut[v] = clamp((cumsum(h)[v - 1] + step / 2) / step, 0, 255)` with `lut[0] = 0`.
    package static func equalize(_ pixels: [UInt8]) -> [UInt8] {
        var out = pixels
        for c in 0..<3 {
            var hist = [Int](repeating: 0, count: 256)
            for i in stride(from: c, to: pixels.count, by: 3) { hist[Int(pixels[i])] += 1 }
            let nonzero = hist.filter { $0 != 0 }
            let step = nonzero.dropLast().reduce(0, +) / 255
            if step == 0 { continue }
            var lut = [UInt8](repeating: 0, count: 256)
            var cumulative = 0
            for v in 0..<255 {
                cumulative += hist[v]
                lut[v + 1] = UInt8(min(max((cumulative + step / 2) / step, 0), 255))
            }
            for i in stride(from: c, to: pixels.count, by: 3) { out[i] = lut[Int(pixels[i])] }
        }
        return out
    }
}
