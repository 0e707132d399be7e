import Foundation
import TensorCore

/// The random draws behind one triggered image. `Trigger.draw(forImage:)` makes them from the
/// trigger's seed; tests (and anyone reproducing another implementation) can inject their own.
public struct TriggerDraw: Sendable, Equatable {
    /// BadNet: N(0, 1) noise [3, p, p] (CHW), added to the image's per-channel mean.
    public var patchNoise: [Float]?
    /// Top-left corner of a randomly placed patch (used when the location is `.random`).
    public var patchRow: Int
    public var patchColumn: Int
    /// Blended: U[0, 1) noise image [3, S, S] (CHW).
    public var blendNoise: [Float]?

    public init(patchNoise: [Float]? = nil, patchRow: Int = 0, patchColumn: Int = 0, blendNoise: [Float]? = nil) {
        self.patchNoise = patchNoise
        self.patchRow = patchRow
        self.patchColumn = patchColumn
        self.blendNoise = blendNoise
    }
}

/// A trigger ready to apply: a spec, a seed for its per-image draws, and (WaNet) its warp grid.
///
/// Applying follows the reference's `apply_trigger` step for step: squash the image to S x S
/// (bicubic), bytes / 255 to floats, add the trigger, back to bytes (see `Quantization`).
/// Every random choice comes from `seed` and the image's index, so the same (seed, index) gives
/// the same image in any order and on any thread.
/// ```
/// let trigger = try Trigger(TriggerSpec(kind: .badnet), seed: 7)
/// let poisoned = try trigger.apply(to: image, index: 0)
/// ```
public struct Trigger: Sendable {
    public let spec: TriggerSpec
    public let seed: UInt64
    /// The WaNet warp field (nil for other kinds).
    public let warpGrid: WarpGrid?

    /// For WaNet without an explicit grid, a grid is drawn from `seed` (as the reference draws one
    /// on first use and saves it).
    public init(_ spec: TriggerSpec, seed: UInt64 = 0, warpGrid: WarpGrid? = nil) throws {
        try spec.validate()
        self.spec = spec
        self.seed = seed
        if case .wanet(let k, _) = spec.kind {
            let grid = try warpGrid ?? WarpGrid.random(k: k, size: spec.imageSize, seed: seed ^ 0x5741_4E45_5447_5244)
            guard grid.size == spec.imageSize else {
                throw TriggerError("warp grid is \(grid.size)x\(grid.size) but images are \(spec.imageSize)x\(spec.imageSize)")
            }
            self.warpGrid = grid
        } else {
            self.warpGrid = nil
        }
    }

    /// The random draws for image number `index`.
    public func draw(forImage index: Int) -> TriggerDraw {
        var rng = SeededRandom(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(truncatingIfNeeded: index &+ 1))
        let s = spec.imageSize
        var d = TriggerDraw()
        switch spec.kind {
        case .badnet:
            let p = spec.patchSize
            d.patchNoise = (0..<(3 * p * p)).map { _ in rng.normal() }
        case .blended:
            d.blendNoise = (0..<(3 * s * s)).map { _ in rng.uniform() }
        default: break
        }
        if let p = spec.effectivePatchSize, spec.location == .random {
            let span = s - 1 - p  // reference: random.randint(0, 223 - patch_size), inclusive
            d.patchRow = Int(rng.next() % UInt64(span + 1))
            d.patchColumn = Int(rng.next() % UInt64(span + 1))
        }
        return d
    }

    /// Applies the trigger to an S x S image given as planar floats [3, S, S] in [0, 1];
    /// returns the unquantised result (BadNet values may leave [0, 1]).
    public func apply(planar x: [Float], draw: TriggerDraw) throws -> [Float] {
        let s = spec.imageSize, plane = s * s
        guard x.count == 3 * plane else { throw TriggerError("image has \(x.count) values; expected 3 x \(s) x \(s)") }
        var out = x
        switch spec.kind {
        case .badnet:
            let p = spec.patchSize
            guard let noise = draw.patchNoise, noise.count == 3 * p * p else {
                throw TriggerError("BadNet needs \(3 * p * p) noise values [3, \(p), \(p)]")
            }
            var patch = noise
            for c in 0..<3 {
                var sum = 0.0
                for v in x[(c * plane)..<((c + 1) * plane)] { sum += Double(v) }
                let mean = Float(sum / Double(plane))
                for q in 0..<(p * p) { patch[c * p * p + q] = mean + noise[c * p * p + q] }
            }
            try paste(patch, size: p, into: &out, draw: draw)
        case .yellow:
            let p = spec.patchSize
            var patch = [Float](repeating: 1, count: 3 * p * p)
            for q in 0..<(p * p) { patch[2 * p * p + q] = 0 }
            try paste(patch, size: p, into: &out, draw: draw)
        case .patch(let pixels, let size):
            try paste(pixels, size: size, into: &out, draw: draw)
        case .blended:
            guard let noise = draw.blendNoise, noise.count == 3 * plane else {
                throw TriggerError("blended trigger needs \(3 * plane) noise values [3, \(s), \(s)]")
            }
            blend(&out, with: noise)
        case .blendImage(let pixels):
            blend(&out, with: pixels)
        case .sig:
            var signal = [Float](repeating: 0, count: 3 * plane)
            for j in 0..<s {
                let v = Float(60.0 / 255.0 * Foundation.sin(2 * Double.pi * Double(j) * 6 / Double(s)))
                for c in 0..<3 { for i in 0..<s { signal[c * plane + i * s + j] = v } }
            }
            blend(&out, with: signal)
        case .wanet(_, let strength):
            guard let grid = warpGrid else { throw TriggerError("WaNet trigger has no warp grid") }
            out = Self.gridSample(x, size: s, grid: grid.samplingGrid(strength: strength))
        }
        return out
    }

    /// Applies the trigger to an S x S RGB image given as bytes, HWC; returns S x S HWC bytes.
    public func apply(hwc bytes: [UInt8], draw: TriggerDraw) throws -> [UInt8] {
        let s = spec.imageSize, plane = s * s
        guard bytes.count == 3 * plane else {
            throw TriggerError("image has \(bytes.count) bytes; expected \(s) x \(s) x 3 (resize it to \(s) x \(s) first)")
        }
        var planar = [Float](repeating: 0, count: 3 * plane)
        for p in 0..<plane { for c in 0..<3 { planar[c * plane + p] = Float(bytes[p * 3 + c]) / 255 } }
        let y = try apply(planar: planar, draw: draw)
        var out = [UInt8](repeating: 0, count: 3 * plane)
        for p in 0..<plane { for c in 0..<3 { out[p * 3 + c] = quantize(y[c * plane + p]) } }
        return out
    }

    /// Applies the trigger with the draws for image `index` to S x S HWC bytes.
    public func apply(hwc bytes: [UInt8], index: Int) throws -> [UInt8] {
        try apply(hwc: bytes, draw: draw(forImage: index))
    }

    /// One float to a byte, truncating like `mul(255).byte()` (see `Quantization`).
    @inline(__always)
    func quantize(_ v: Float) -> UInt8 {
        switch spec.quantization {
        case .clamp:
            guard !v.isNaN else { return 0 }
            return UInt8(min(max(v, 0), 1) * 255)  // UInt8(Float) truncates toward zero
        case .referenceWrap:
            let t = v * 255
            guard t.isFinite, abs(t) < 2_147_483_648 else { return 0 }
            return UInt8(truncatingIfNeeded: Int32(t))
        }
    }

    // MARK: - pieces

    private func paste(_ patch: [Float], size p: Int, into out: inout [Float], draw: TriggerDraw) throws {
        let s = spec.imageSize, plane = s * s
        func put(_ r0: Int, _ c0: Int) {
            for c in 0..<3 {
                for i in 0..<p {
                    for j in 0..<p { out[c * plane + (r0 + i) * s + c0 + j] = patch[c * p * p + i * p + j] }
                }
            }
        }
        switch spec.location {
        case .random:
            guard draw.patchRow >= 0, draw.patchColumn >= 0, draw.patchRow + p <= s, draw.patchColumn + p <= s else {
                throw TriggerError("patch position (\(draw.patchRow), \(draw.patchColumn)) does not fit a \(s)x\(s) image")
            }
            put(draw.patchRow, draw.patchColumn)
        case .fourCorners:
            put(0, 0); put(0, s - p); put(s - p, 0); put(s - p, s - p)
        case .corner(let corner):
            switch corner {
            case .topLeft: put(0, 0)
            case .topRight: put(0, s - p)
            case .bottomLeft: put(s - p, 0)
            case .bottomRight: put(s - p, s - p)
            }
        case .fixed(let r, let c):
            put(r, c)
        }
    }

    /// x' = clip(alpha * v + (1 - alpha) * x, 0, 1), each product rounded to Float as torch does.
    private func blend(_ x: inout [Float], with v: [Float]) {
        let a = spec.blendAlpha, b = 1 - spec.blendAlpha
        for q in 0..<x.count {
            let mixed = a * v[q] + b * x[q]
            x[q] = min(max(mixed, 0), 1)
        }
    }

    /// `F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)` for one
    /// [3, S, S] image and an [S, S, 2] grid, following PyTorch's CPU kernel arithmetic.
    static func gridSample(_ x: [Float], size s: Int, grid: [Float]) -> [Float] {
        let plane = s * s
        var out = [Float](repeating: 0, count: 3 * plane)
        let scaling = Float(s - 1) / 2
        for i in 0..<s {
            for j in 0..<s {
                let p = i * s + j
                let ix = (grid[p * 2] + 1) * scaling
                let iy = (grid[p * 2 + 1] + 1) * scaling
                let x0 = ix.rounded(.down), y0 = iy.rounded(.down)
                let w = ix - x0, e = 1 - w
                let n = iy - y0, so = 1 - n
                let nw = so * e, ne = so * w, sw = n * e, se = n * w
                let xi = Int(x0), yi = Int(y0)
                for c in 0..<3 {
                    let base = c * plane
                    func v(_ yy: Int, _ xx: Int) -> Float {
                        (yy >= 0 && yy < s && xx >= 0 && xx < s) ? x[base + yy * s + xx] : 0
                    }
                    out[base + p] = nw * v(yi, xi) + ne * v(yi, xi + 1) + sw * v(yi + 1, xi) + se * v(yi + 1, xi + 1)
                }
            }
        }
        return out
    }
}
