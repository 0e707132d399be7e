import Checkpoint
import Foundation
import TensorCore

/// WaNet's fixed warp field: the reference's `noise_grid`, [S, S, 2] (x offset, y offset) per
/// output pixel, before the strength s and the 1/S scale are applied.
///
/// Made as in CleanCLIP's `apply_trigger` ("warped"): ins ~ U(-1, 1) on [2, k, k], divided by
/// mean |ins|, then upsampled to S x S with PyTorch's bicubic interpolation (a = -0.75,
/// align_corners = True). One grid serves every image of an attack, so it can be saved
/// (`.npy`, float32 [S, S, 2], the reference's `.pt` tensor without its leading 1) and reused.
public struct WarpGrid: Sendable, Equatable {
    public let size: Int
    /// [size, size, 2] row-major: values[(i * size + j) * 2 + c], c = 0 for x, 1 for y.
    public let values: [Float]

    public init(size: Int, values: [Float]) throws {
        guard size >= 2, values.count == size * size * 2 else {
            throw TriggerError("a warp grid for \(size)x\(size) images needs \(size * size * 2) values; got \(values.count)")
        }
        // A grid read from a file may hold anything; NaN or infinite offsets would trap when
        // turned into pixel positions.
        if let bad = values.first(where: { !$0.isFinite }) {
            throw TriggerError("a warp grid's values must be finite; found \(bad)")
        }
        self.size = size
        self.values = values
    }

    /// A grid from explicit noise `ins` ([2, k, k], values in (-1, 1), before normalisation).
    public init(noise ins: [Float], k: Int, size: Int) throws {
        guard k >= 2, ins.count == 2 * k * k else {
            throw TriggerError("WaNet noise must hold 2 x \(k) x \(k) values; got \(ins.count)")
        }
        var absSum = 0.0
        for v in ins { absSum += Double(abs(v)) }
        let mean = Float(absSum / Double(ins.count))
        guard mean > 0 else { throw TriggerError("WaNet noise is all zero") }
        let normalised = ins.map { $0 / mean }
        var out = [Float](repeating: 0, count: size * size * 2)
        for c in 0..<2 {
            let plane = Self.bicubicUpsample(Array(normalised[(c * k * k)..<((c + 1) * k * k)]), from: k, to: size)
            for p in 0..<(size * size) { out[p * 2 + c] = plane[p] }
        }
        try self.init(size: size, values: out)
    }

    /// A random grid (noise drawn from `seed`), as the reference makes on first use.
    public static func random(k: Int, size: Int, seed: UInt64) throws -> WarpGrid {
        var rng = SeededRandom(seed: seed)
        let ins = (0..<(2 * k * k)).map { _ in rng.uniform() * 2 - 1 }
        return try WarpGrid(noise: ins, k: k, size: size)
    }

    /// Reads a grid saved by `save(path:)` (or numpy: float32 [S, S, 2] or [1, S, S, 2]).
    public static func load(path: String) throws -> WarpGrid {
        let a = try NumPy.read(path: path)
        let shape = a.shape.first == 1 && a.shape.count == 4 ? Array(a.shape.dropFirst()) : a.shape
        guard shape.count == 3, shape[0] == shape[1], shape[2] == 2 else {
            throw TriggerError("\(path): a warp grid has shape [S, S, 2]; found \(a.shape)")
        }
        return try WarpGrid(size: shape[0], values: NumPy.floats(a, path: path))
    }

    /// Writes the grid as a float32 .npy of shape [S, S, 2].
    public func save(path: String) throws {
        try NumPy.write(values, shape: [size, size, 2], to: path)
    }

    /// The sampling grid in [-1, 1]: clamp(identity + s * noise / S, -1, 1), [S, S, 2].
    func samplingGrid(strength s: Float) -> [Float] {
        let n = size
        // torch.linspace(-1, 1, n): start + i * step for the first half, end - (n-1-i) * step after.
        let step = Float(2) / Float(n - 1)
        let line: [Float] = (0..<n).map { i in i < n / 2 ? -1 + step * Float(i) : 1 - step * Float(n - 1 - i) }
        var g = [Float](repeating: 0, count: n * n * 2)
        let h = Float(n)
        for i in 0..<n {
            for j in 0..<n {
                let p = (i * n + j) * 2
                // identity: x = line[j] (column), y = line[i] (row)
                g[p] = min(max(line[j] + s * values[p] / h, -1), 1)
                g[p + 1] = min(max(line[i] + s * values[p + 1] / h, -1), 1)
            }
        }
        return g
    }

    /// PyTorch's `interpolate(mode="bicubic", align_corners=True)` of one square plane.
    static func bicubicUpsample(_ src: [Float], from k: Int, to n: Int) -> [Float] {
        if k == n { return src }  // PyTorch copies when the sizes agree
        let scale: Float = n > 1 ? Float(k - 1) / Float(n - 1) : 0
        let a: Float = -0.75
        func coefficients(_ t: Float) -> (Float, Float, Float, Float) {
            func c1(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
            func c2(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
            let u = 1 - t
            return (c2(t + 1), c1(t), c1(u), c2(u + 1))
        }
        func at(_ y: Int, _ x: Int) -> Float { src[min(max(y, 0), k - 1) * k + min(max(x, 0), k - 1)] }
        var out = [Float](repeating: 0, count: n * n)
        for oy in 0..<n {
            let ry = scale * Float(oy)
            let iy = Int(ry.rounded(.down))
            let (wy0, wy1, wy2, wy3) = coefficients(ry - Float(iy))
            for ox in 0..<n {
                let rx = scale * Float(ox)
                let ix = Int(rx.rounded(.down))
                let (wx0, wx1, wx2, wx3) = coefficients(rx - Float(ix))
                func row(_ y: Int) -> Float {
                    at(y, ix - 1) * wx0 + at(y, ix) * wx1 + at(y, ix + 1) * wx2 + at(y, ix + 2) * wx3
                }
                out[oy * n + ox] = row(iy - 1) * wy0 + row(iy) * wy1 + row(iy + 1) * wy2 + row(iy + 2) * wy3
            }
        }
        return out
    }
}
