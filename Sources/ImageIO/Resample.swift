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
public func resize(
    _ image: RGBImage, width: Int, height: Int, filter: ResampleFilter = .bicubic,
    passOrder: ResamplePassOrder = .pillow13
) throws -> RGBImage {
    guard width > 0, height > 0, !width.multipliedReportingOverflow(by: height * 3).overflow else {
        throw ImageError(.invalidArgument, source: "resize",
                         detail: "target size must be positive, got \(width)x\(height)")
    }
    return Resampler.resample(image, width: width, height: height, filter: filter, passOrder: passOrder,
                              window: Resampler.Window(x: 0, y: 0, width: width, height: height))
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

    static func resample(
        _ image: RGBImage, width: Int, height: Int, filter: ResampleFilter,
        passOrder: ResamplePassOrder, window: Window
    ) -> RGBImage {
        if filter == .nearest {
            return nearest(image, width: width, height: height, window: window)
        }
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
            return image.unsafeCrop(columns: columns, rows: rows)
        case (let horizontal?, nil):
            return horizontalPass(image, rows: rows, columnOffset: 0, coefficients: horizontal)
        case (nil, let vertical?):
            return verticalPass(image, columns: columns, rowOffset: 0, coefficients: vertical)
        case (let horizontal?, let vertical?):
            if verticalFirst {
                let temporary = verticalPass(image, columns: columns, rowOffset: 0, coefficients: vertical)
                return horizontalPass(temporary, rows: 0 ..< temporary.height, columnOffset: columns.lowerBound,
                                      coefficients: horizontal)
            }
            let temporary = horizontalPass(image, rows: rows, columnOffset: 0, coefficients: horizontal)
            return verticalPass(temporary, columns: 0 ..< temporary.width, rowOffset: rows.lowerBound,
                                coefficients: vertical)
        }
    }

    /// One output row/column's source span and fixed-point weights, for the
    /// outputs in `range` of a resize from `inSize` to `outSize`.
    struct Coefficients {
        /// Per output in the range: first source index and tap count.
        var starts: [Int] = []
        var counts: [Int] = []
        /// `taps` weights per output, zero-padded.
        var weights: [Int32] = []
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
    static func horizontalPass(_ image: RGBImage, rows: Range<Int>, columnOffset: Int, coefficients c: Coefficients) -> RGBImage {
        let outWidth = c.starts.count
        var out = [UInt8](repeating: 0, count: outWidth * rows.count * 3)
        let half: Int32 = 1 << (precisionBits - 1)
        image.pixels.withUnsafeBufferPointer { source in
            c.weights.withUnsafeBufferPointer { weights in
                c.starts.withUnsafeBufferPointer { starts in
                    c.counts.withUnsafeBufferPointer { counts in
                        out.withUnsafeMutableBufferPointer { target in
                            var t = 0
                            for y in rows {
                                let row = source.baseAddress! + y * image.width * 3
                                for x in 0..<outWidth {
                                    let k = weights.baseAddress! + x * c.taps
                                    var p = row + (starts[x] - columnOffset) * 3
                                    var r = half, g = half, b = half
                                    for tap in 0..<counts[x] {
                                        let w = k[tap]
                                        r &+= Int32(p[0]) &* w
                                        g &+= Int32(p[1]) &* w
                                        b &+= Int32(p[2]) &* w
                                        p += 3
                                    }
                                    target[t] = clip8(r)
                                    target[t + 1] = clip8(g)
                                    target[t + 2] = clip8(b)
                                    t += 3
                                }
                            }
                        }
                    }
                }
            }
        }
        return RGBImage(uncheckedWidth: outWidth, height: rows.count, pixels: out)
    }

    /// Resamples columns `columns` of `image` along y; `image`'s row 0 is
    /// source row `rowOffset` of the coefficients.
    static func verticalPass(_ image: RGBImage, columns: Range<Int>, rowOffset: Int, coefficients c: Coefficients) -> RGBImage {
        let stride = image.width * 3
        let rowLength = columns.count * 3
        let outHeight = c.starts.count
        var out = [UInt8](repeating: 0, count: rowLength * outHeight)
        var accumulator = [Int32](repeating: 0, count: rowLength)
        let half: Int32 = 1 << (precisionBits - 1)
        image.pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                accumulator.withUnsafeMutableBufferPointer { sums in
                    for y in 0..<outHeight {
                        for i in 0..<rowLength { sums[i] = half }
                        let start = c.starts[y] - rowOffset
                        for tap in 0..<c.counts[y] {
                            let w = c.weights[y * c.taps + tap]
                            let row = source.baseAddress! + (start + tap) * stride + columns.lowerBound * 3
                            for i in 0..<rowLength { sums[i] &+= Int32(row[i]) &* w }
                        }
                        let outRow = target.baseAddress! + y * rowLength
                        for i in 0..<rowLength { outRow[i] = clip8(sums[i]) }
                    }
                }
            }
        }
        return RGBImage(uncheckedWidth: columns.count, height: outHeight, pixels: out)
    }

    /// Pillow's nearest-neighbour resize (an affine "scale" transform): the
    /// source coordinate starts at scale / 2 and is advanced by adding scale,
    /// in doubles, then truncated — the accumulation is kept for exactness.
    static func nearest(_ image: RGBImage, width: Int, height: Int, window: Window) -> RGBImage {
        func sourceIndices(inSize: Int, outSize: Int, range: Range<Int>) -> [Int] {
            let scale = Double(inSize) / Double(outSize)
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
        var out = [UInt8](repeating: 0, count: window.width * window.height * 3)
        image.pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                var t = 0
                for y in rows {
                    let row = source.baseAddress! + y * image.width * 3
                    for x in columns {
                        target[t] = row[x * 3]
                        target[t + 1] = row[x * 3 + 1]
                        target[t + 2] = row[x * 3 + 2]
                        t += 3
                    }
                }
            }
        }
        return RGBImage(uncheckedWidth: window.width, height: window.height, pixels: out)
    }
}
