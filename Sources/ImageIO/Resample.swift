import Foundation

/// Resampling filters, with Pillow's definitions (`Image.Resampling`).
public enum ResampleFilter: Sendable, Equatable, CaseIterable {
    /// Pillow's NEAREST: output pixel (x, y) takes the source pixel
    /// (floor((x + 0.5) * W / w), floor((y + 0.5) * H / h)).
    case nearest
    /// Box filter, support 0.5 (widened by the downscale factor).
    case box
    /// Triangle filter, support 1 (widened by the downscale factor).
    case bilinear
    /// Hamming-windowed sinc, support 1.
    case hamming
    /// Keys cubic with a = -0.5, support 2 (widened by the downscale factor).
    case bicubic
    /// Lanczos-3 windowed sinc, support 3.
    case lanczos

    /// Kernel half-width before scaling, and the kernel itself — written with
    /// Pillow's operation order so the doubles, and so the coefficients, match.
    var support: Double {
        switch self {
        case .nearest, .box: return 0.5
        case .bilinear, .hamming: return 1
        case .bicubic: return 2
        case .lanczos: return 3
        }
    }

    func weight(_ value: Double) -> Double {
        var x = value
        switch self {
        case .nearest, .box:
            return x > -0.5 && x <= 0.5 ? 1 : 0
        case .bilinear:
            if x < 0 { x = -x }
            return x < 1 ? 1 - x : 0
        case .hamming:
            if x < 0 { x = -x }
            if x == 0 { return 1 }
            if x >= 1 { return 0 }
            x *= Double.pi
            // Pillow writes 0.54f and 0.46f: float literals widened to double.
            return sin(x) / x * (Double(Float(0.54)) + Double(Float(0.46)) * cos(x))
        case .bicubic:
            let a = -0.5
            if x < 0 { x = -x }
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        case .lanczos:
            return -3 <= x && x < 3 ? Self.sinc(x) * Self.sinc(x / 3) : 0
        }
    }

    private static func sinc(_ value: Double) -> Double {
        if value == 0 { return 1 }
        let x = value * Double.pi
        return sin(x) / x
    }
}

/// Which of Pillow's two separable passes runs first. The passes round to
/// UInt8 in between, so the order changes results by up to a few levels.
public enum ResamplePassOrder: Sendable, Equatable {
    /// Pillow 13 and later: the vertical pass runs first when the height
    /// shrinks by more than twice as many pixels as the width
    /// (`H - h > 0 && H - h > (W - w) * 2`), otherwise the horizontal one.
    case pillow13
    /// Pillow 12 and earlier: always horizontal, then vertical.
    case horizontalFirst
}

/// Resizes `image` to `width` x `height` exactly as Pillow's
/// `image.resize((width, height), filter)` does for mode "RGB" (no `box`, no
/// `reducing_gap`), byte for byte.
///
/// Convolution filters run Pillow's separable two-pass algorithm: for each
/// output column, weights `filter((x - centre + 0.5) / scale)` over the source
/// pixels within `support * scale` of the centre (scale = max(1, in / out), so
/// downscaling antialiases), normalised to sum 1, converted to 22-bit fixed
/// point; one pass, rounded and clipped to UInt8, then the other pass over
/// what it needs, rounded and clipped again (see `ResamplePassOrder`). A pass
/// whose size does not change is skipped, as in Pillow. Upscaling uses the
/// same code. `.nearest` follows Pillow's affine-scale path instead.
///
/// ```swift
/// let small = try resize(photo, width: 298, height: 224, filter: .bicubic)
/// ```
package func resize(
    _ image: RGBImage, width: Int, height: Int, filter: ResampleFilter = .bicubic,
    passOrder: ResamplePassOrder = .pillow13
) throws -> RGBImage {
    try checkTarget(width: width, height: height)
    return Resampler.resample(Raster(image), width: width, height: height, filter: filter, passOrder: passOrder,
                              window: Resampler.Window(x: 0, y: 0, width: width, height: height)).rgbImage
}

/// Pillow's `image.resize((width, height), filter)` for an image in any of
/// `DecodedImage`'s modes, the result in the same mode:
///
/// - "P" and "1" are resized with `.nearest` whatever `filter` says.
/// - "RGBA" and "LA" (unless `.nearest`) are premultiplied ("RGBa"/"La",
///   `MULDIV255`), resized as four / two 8-bit channels, and un-premultiplied
///   (`255 * c / alpha`, integer division, clipped; alpha 0 and 255 left alone).
/// - "I;16" is resized in 16 bits: doubles accumulated with the normalised
///   (not fixed-point) weights, each pass rounded half away from zero and
///   clipped to 0...65535.
/// - "L", "RGB" and "CMYK" are resized per 8-bit channel like RGB.
/// - The same size is a copy (so RGBA is not round-tripped through RGBa).
package func resize(
    _ image: DecodedImage, width: Int, height: Int, filter: ResampleFilter = .bicubic,
    passOrder: ResamplePassOrder = .pillow13
) throws -> DecodedImage {
    try checkTarget(width: width, height: height)
    return Resampler.resample(image, width: width, height: height, filter: filter, passOrder: passOrder,
                              window: Resampler.Window(x: 0, y: 0, width: width, height: height))
}

private func checkTarget(width: Int, height: Int) throws {
    guard width > 0, height > 0, !width.multipliedReportingOverflow(by: height * 4).overflow else {
        throw ImageError(.invalidArgument, source: "resize",
                         detail: "target size must be positive, got \(width)x\(height)")
    }
}

/// Interleaved samples, `channels` per pixel, row-major: the working image of
/// the resampler (8-bit for every mode but "I;16").
struct Raster<Sample> {
    var width: Int
    var height: Int
    var channels: Int
    var samples: [Sample]

    func crop(columns: Range<Int>, rows: Range<Int>) -> Raster {
        if columns == 0 ..< width && rows == 0 ..< height { return self }
        let rowLength = columns.count * channels
        var out: [Sample] = []
        out.reserveCapacity(rowLength * rows.count)
        for y in rows {
            let from = (y * width + columns.lowerBound) * channels
            out.append(contentsOf: samples[from ..< from + rowLength])
        }
        return Raster(width: columns.count, height: rows.count, channels: channels, samples: out)
    }
}

extension Raster where Sample == UInt8 {
    init(_ image: RGBImage) {
        self.init(width: image.width, height: image.height, channels: 3, samples: image.pixels)
    }

    var rgbImage: RGBImage {
        precondition(channels == 3)
        return RGBImage(uncheckedWidth: width, height: height, pixels: samples)
    }
}

/// Resampling of a window of the resized image: the pixels
/// `window.x ..< window.x + window.width` x `window.y ..< window.y + window.height`
/// of the full `width` x `height` result, computing only what they depend on.
/// Every output pixel is a function of its own coefficients and of the first
/// pass's pixels only, so the window equals a crop of the full resize, bit for bit.
enum Resampler {
    struct Window {
        var x: Int, y: Int, width: Int, height: Int
        var columns: Range<Int> { x ..< x + width }
        var rows: Range<Int> { y ..< y + height }
    }

    /// Pillow's fixed-point coefficient precision (PRECISION_BITS = 32 - 8 - 2).
    static let precisionBits: Int32 = 22

    /// Pillow's `Image.resize` for `image`'s mode (see `resize(_:width:height:filter:passOrder:)`
    /// for DecodedImage), restricted to `window`.
    static func resample(
        _ image: DecodedImage, width: Int, height: Int, filter: ResampleFilter,
        passOrder: ResamplePassOrder, window: Window
    ) -> DecodedImage {
        let channels = image.mode.channels
        func decoded(_ raster: Raster<UInt8>) -> DecodedImage {
            DecodedImage(unchecked: image.mode, width: raster.width, height: raster.height,
                         samples: raster.samples, samples16: [])
        }
        if image.mode == .grey16 {
            let source = Raster(width: image.width, height: image.height, channels: 1, samples: image.samples16)
            let out: Raster<UInt16>
            if width == image.width && height == image.height {
                out = source.crop(columns: window.columns, rows: window.rows)
            } else if filter == .nearest {
                out = nearest(source, width: width, height: height, window: window, accumulated: false)
            } else {
                out = twoPass(source, width: width, height: height, filter: filter, passOrder: passOrder,
                              window: window, horizontal: horizontalPass16, vertical: verticalPass16)
            }
            return DecodedImage(unchecked: .grey16, width: out.width, height: out.height, samples: [], samples16: out.samples)
        }
        let source = Raster(width: image.width, height: image.height, channels: channels, samples: image.samples)
        if width == image.width && height == image.height {
            return decoded(source.crop(columns: window.columns, rows: window.rows))  // Pillow: a copy
        }
        switch image.mode {
        case .palette, .bilevel:
            return decoded(nearest(source, width: width, height: height, window: window))
        case .rgba, .greyAlpha:
            if filter == .nearest {
                return decoded(nearest(source, width: width, height: height, window: window))
            }
            let premultiplied = Raster(width: image.width, height: image.height, channels: channels,
                                       samples: PillowMath.premultiplied(image.samples, channels: channels))
            var out = resample(premultiplied, width: width, height: height, filter: filter, passOrder: passOrder, window: window)
            PillowMath.unpremultiply(&out.samples, channels: channels)
            return decoded(out)
        default:
            return decoded(resample(source, width: width, height: height, filter: filter, passOrder: passOrder, window: window))
        }
    }

    /// Pillow's resize of an 8-bit image with any number of channels.
    static func resample(
        _ image: Raster<UInt8>, width: Int, height: Int, filter: ResampleFilter,
        passOrder: ResamplePassOrder, window: Window
    ) -> Raster<UInt8> {
        if filter == .nearest {
            return nearest(image, width: width, height: height, window: window)
        }
        return twoPass(image, width: width, height: height, filter: filter, passOrder: passOrder, window: window,
                       horizontal: horizontalPass, vertical: verticalPass)
    }

    typealias Pass<Sample> = (Raster<Sample>, Range<Int>, Int, Coefficients) -> Raster<Sample>

    /// The two separable passes, in Pillow's order, over what `window` needs.
    /// `horizontal(image, rows, columnOffset, coefficients)` resamples rows
    /// `rows` along x, the image's column 0 being source column `columnOffset`;
    /// `vertical(image, columns, rowOffset, coefficients)` likewise along y.
    static func twoPass<Sample>(
        _ image: Raster<Sample>, width: Int, height: Int, filter: ResampleFilter,
        passOrder: ResamplePassOrder, window: Window, horizontal horizontalPass: Pass<Sample>,
        vertical verticalPass: Pass<Sample>
    ) -> Raster<Sample> {
        let horizontal = width != image.width
            ? Coefficients(inSize: image.width, outSize: width, filter: filter, range: window.columns) : nil
        let vertical = height != image.height
            ? Coefficients(inSize: image.height, outSize: height, filter: filter, range: window.rows) : nil
        // Source columns and rows that the window depends on.
        let columns = horizontal.map { $0.inputRange } ?? window.columns
        let rows = vertical.map { $0.inputRange } ?? window.rows
        let shrink = (height: image.height - height, width: image.width - width)
        let verticalFirst = passOrder == .pillow13 && shrink.height > 0 && shrink.height > shrink.width * 2

        switch (horizontal, vertical) {
        case (nil, nil):
            return image.crop(columns: columns, rows: rows)
        case (let horizontal?, nil):
            return horizontalPass(image, rows, 0, horizontal)
        case (nil, let vertical?):
            return verticalPass(image, columns, 0, vertical)
        case (let horizontal?, let vertical?):
            if verticalFirst {
                let temporary = verticalPass(image, columns, 0, vertical)
                return horizontalPass(temporary, 0 ..< temporary.height, columns.lowerBound, horizontal)
            }
            let temporary = horizontalPass(image, rows, 0, horizontal)
            return verticalPass(temporary, 0 ..< temporary.width, rows.lowerBound, vertical)
        }
    }

    /// One output row/column's source span and weights, for the outputs in
    /// `range` of a resize from `inSize` to `outSize`.
    struct Coefficients {
        /// Per output in the range: first source index and tap count.
        var starts: [Int] = []
        var counts: [Int] = []
        /// `taps` fixed-point weights per output, zero-padded (8-bit images).
        var weights: [Int32] = []
        /// The same weights as normalised doubles (16-bit images).
        var doubles: [Double] = []
        var taps = 0

        /// The source indices any output in the range reads.
        var inputRange: Range<Int> {
            (starts.min() ?? 0) ..< (zip(starts, counts).map { $0 + $1 }.max() ?? 0)
        }

        init(inSize: Int, outSize: Int, filter: ResampleFilter, range: Range<Int>) {
            // Pillow passes the box as floats; for integer sizes below 2^24 the
            // float difference is exact, so this is the same double.
            let scale = Double(inSize) / Double(outSize)
            let filterScale = max(scale, 1)
            let support = filter.support * filterScale
            taps = Int(support.rounded(.up)) * 2 + 1
            weights = [Int32](repeating: 0, count: range.count * taps)
            doubles = [Double](repeating: 0, count: range.count * taps)
            starts.reserveCapacity(range.count)
            counts.reserveCapacity(range.count)
            var kernel = [Double](repeating: 0, count: taps)
            let one = Double(1 << Resampler.precisionBits)
            for (index, output) in range.enumerated() {
                let center = (Double(output) + 0.5) * scale
                let inverseScale = 1 / filterScale
                // C's (int) cast truncates toward zero; Int(_:) does too.
                let start = max(Int(center - support + 0.5), 0)
                let end = min(Int(center + support + 0.5), inSize)
                let count = end - start
                var total = 0.0
                for tap in 0..<count {
                    let w = filter.weight((Double(tap + start) - center + 0.5) * inverseScale)
                    kernel[tap] = w
                    total += w
                }
                for tap in 0..<count {
                    var w = kernel[tap]
                    if total != 0 { w /= total }
                    doubles[index * taps + tap] = w
                    weights[index * taps + tap] = w < 0 ? Int32(-0.5 + w * one) : Int32(0.5 + w * one)
                }
                starts.append(start)
                counts.append(count)
            }
        }
    }

    @inline(__always)
    static func clip8(_ sum: Int32) -> UInt8 {
        let value = sum >> precisionBits
        return value < 0 ? 0 : (value > 255 ? 255 : UInt8(truncatingIfNeeded: value))
    }

    /// Resamples rows `rows` of `image` along x; `image`'s column 0 is source
    /// column `columnOffset` of the coefficients.
    static func horizontalPass(_ image: Raster<UInt8>, rows: Range<Int>, columnOffset: Int, coefficients c: Coefficients) -> Raster<UInt8> {
        let outWidth = c.starts.count
        let channels = image.channels
        var out = [UInt8](repeating: 0, count: outWidth * rows.count * channels)
        let half: Int32 = 1 << (precisionBits - 1)
        image.samples.withUnsafeBufferPointer { source in
            c.weights.withUnsafeBufferPointer { weights in
                c.starts.withUnsafeBufferPointer { starts in
                    c.counts.withUnsafeBufferPointer { counts in
                        out.withUnsafeMutableBufferPointer { target in
                            var t = 0
                            for y in rows {
                                let row = source.baseAddress! + y * image.width * channels
                                for x in 0..<outWidth {
                                    let k = weights.baseAddress! + x * c.taps
                                    let p = row + (starts[x] - columnOffset) * channels
                                    let n = counts[x]
                                    switch channels {
                                    case 3:
                                        var r = half, g = half, b = half
                                        var q = p
                                        for tap in 0..<n {
                                            let w = k[tap]
                                            r &+= Int32(q[0]) &* w
                                            g &+= Int32(q[1]) &* w
                                            b &+= Int32(q[2]) &* w
                                            q += 3
                                        }
                                        target[t] = clip8(r)
                                        target[t + 1] = clip8(g)
                                        target[t + 2] = clip8(b)
                                    case 1:
                                        var s = half
                                        for tap in 0..<n { s &+= Int32(p[tap]) &* k[tap] }
                                        target[t] = clip8(s)
                                    default:
                                        for channel in 0..<channels {
                                            var s = half
                                            var q = p + channel
                                            for tap in 0..<n {
                                                s &+= Int32(q[0]) &* k[tap]
                                                q += channels
                                            }
                                            target[t + channel] = clip8(s)
                                        }
                                    }
                                    t += channels
                                }
                            }
                        }
                    }
                }
            }
        }
        return Raster(width: outWidth, height: rows.count, channels: channels, samples: out)
    }

    /// Resamples columns `columns` of `image` along y; `image`'s row 0 is
    /// source row `rowOffset` of the coefficients.
    static func verticalPass(_ image: Raster<UInt8>, columns: Range<Int>, rowOffset: Int, coefficients c: Coefficients) -> Raster<UInt8> {
        let channels = image.channels
        let stride = image.width * channels
        let rowLength = columns.count * channels
        let outHeight = c.starts.count
        var out = [UInt8](repeating: 0, count: rowLength * outHeight)
        var accumulator = [Int32](repeating: 0, count: rowLength)
        let half: Int32 = 1 << (precisionBits - 1)
        image.samples.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                accumulator.withUnsafeMutableBufferPointer { sums in
                    for y in 0..<outHeight {
                        for i in 0..<rowLength { sums[i] = half }
                        let start = c.starts[y] - rowOffset
                        for tap in 0..<c.counts[y] {
                            let w = c.weights[y * c.taps + tap]
                            let row = source.baseAddress! + (start + tap) * stride + columns.lowerBound * channels
                            for i in 0..<rowLength { sums[i] &+= Int32(row[i]) &* w }
                        }
                        let outRow = target.baseAddress! + y * rowLength
                        for i in 0..<rowLength { outRow[i] = clip8(sums[i]) }
                    }
                }
            }
        }
        return Raster(width: columns.count, height: outHeight, channels: channels, samples: out)
    }

    /// Pillow's `ROUND_UP` then `CLIP16`: half away from zero (after C's
    /// truncating cast of `ss ± 0.5`), clipped to 0...65535.
    @inline(__always)
    static func round16(_ sum: Double) -> UInt16 {
        let value = sum >= 0 ? Int(sum + 0.5) : Int(sum - 0.5)
        return value <= 0 ? 0 : (value < 65536 ? UInt16(truncatingIfNeeded: value) : 65535)
    }

    /// `_ImagingResampleHorizontal_16bpc`: one grey channel of 16 bits, summed in
    /// doubles, in tap order, with the normalised weights.
    static func horizontalPass16(_ image: Raster<UInt16>, rows: Range<Int>, columnOffset: Int, coefficients c: Coefficients) -> Raster<UInt16> {
        precondition(image.channels == 1)
        let outWidth = c.starts.count
        var out = [UInt16](repeating: 0, count: outWidth * rows.count)
        image.samples.withUnsafeBufferPointer { source in
            c.doubles.withUnsafeBufferPointer { weights in
                out.withUnsafeMutableBufferPointer { target in
                    var t = 0
                    for y in rows {
                        let row = source.baseAddress! + y * image.width
                        for x in 0..<outWidth {
                            let k = weights.baseAddress! + x * c.taps
                            let p = row + (c.starts[x] - columnOffset)
                            var sum = 0.0
                            for tap in 0..<c.counts[x] { sum += Double(p[tap]) * k[tap] }
                            target[t] = round16(sum)
                            t += 1
                        }
                    }
                }
            }
        }
        return Raster(width: outWidth, height: rows.count, channels: 1, samples: out)
    }

    /// `_ImagingResampleVertical_16bpc`, as `horizontalPass16` along y.
    static func verticalPass16(_ image: Raster<UInt16>, columns: Range<Int>, rowOffset: Int, coefficients c: Coefficients) -> Raster<UInt16> {
        precondition(image.channels == 1)
        let outHeight = c.starts.count
        let rowLength = columns.count
        var out = [UInt16](repeating: 0, count: rowLength * outHeight)
        var accumulator = [Double](repeating: 0, count: rowLength)
        image.samples.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                accumulator.withUnsafeMutableBufferPointer { sums in
                    for y in 0..<outHeight {
                        for i in 0..<rowLength { sums[i] = 0 }
                        let start = c.starts[y] - rowOffset
                        // Tap-major order gives each sum the same sequence of
                        // additions as Pillow's per-pixel loop over taps.
                        for tap in 0..<c.counts[y] {
                            let w = c.doubles[y * c.taps + tap]
                            let row = source.baseAddress! + (start + tap) * image.width + columns.lowerBound
                            for i in 0..<rowLength { sums[i] += Double(row[i]) * w }
                        }
                        let outRow = target.baseAddress! + y * rowLength
                        for i in 0..<rowLength { outRow[i] = round16(sums[i]) }
                    }
                }
            }
        }
        return Raster(width: columns.count, height: outHeight, channels: 1, samples: out)
    }

    /// Pillow's nearest-neighbour resize (an affine "scale" transform). For
    /// 8-bit images (`ImagingScaleAffine`) the source coordinate starts at
    /// scale / 2 and is advanced by adding scale, in doubles, then truncated —
    /// the accumulation is kept for exactness. For "I;16" (`accumulated:
    /// false`, Pillow's generic transform) it is `scale * (x + 0.5)`, truncated.
    static func nearest<Sample>(_ image: Raster<Sample>, width: Int, height: Int, window: Window,
                                accumulated: Bool = true) -> Raster<Sample> {
        func sourceIndices(inSize: Int, outSize: Int, range: Range<Int>) -> [Int] {
            let scale = Double(inSize) / Double(outSize)
            guard accumulated else {
                return range.map { min(max(Int(scale * (Double($0) + 0.5)), 0), inSize - 1) }
            }
            var position = scale * 0.5
            var indices: [Int] = []
            indices.reserveCapacity(range.count)
            for output in 0..<range.upperBound {
                if output >= range.lowerBound {
                    indices.append(min(max(Int(position), 0), inSize - 1))
                }
                position += scale
            }
            return indices
        }
        let columns = sourceIndices(inSize: image.width, outSize: width, range: window.x ..< window.x + window.width)
        let rows = sourceIndices(inSize: image.height, outSize: height, range: window.y ..< window.y + window.height)
        let channels = image.channels
        var out: [Sample] = []
        out.reserveCapacity(window.width * window.height * channels)
        image.samples.withUnsafeBufferPointer { source in
            for y in rows {
                let row = source.baseAddress! + y * image.width * channels
                for x in columns {
                    for channel in 0..<channels { out.append(row[x * channels + channel]) }
                }
            }
        }
        return Raster(width: window.width, height: window.height, channels: channels, samples: out)
    }
}
