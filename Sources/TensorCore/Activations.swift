import Foundation

/// Element-wise activation functions used by CLIP towers.
public enum Activation: String, Sendable, CaseIterable, Codable {
    /// x * sigmoid(1.702 x): OpenAI and CleanCLIP weights.
    case quickGELU = "quick_gelu"
    /// Exact GELU, x * Phi(x) with erf: open_clip laion/DataComp weights, HF "gelu".
    case gelu
    /// max(x, 0).
    case relu
}

extension Tensor {
    /// Applies `activation` element-wise.
    public func activated(_ activation: Activation) -> Tensor {
        let out = Tensor(uninitialized: shape)
        let x = data, o = out.data
        switch activation {
        case .quickGELU:
            parallelFor(count) { r in for i in r { o[i] = x[i] / (1 + expf(-1.702 * x[i])) } }
        case .gelu:
            parallelFor(count) { r in for i in r { o[i] = 0.5 * x[i] * (1 + erff(x[i] * 0.70710678118654752)) } }
        case .relu:
            parallelFor(count) { r in for i in r { o[i] = max(x[i], 0) } }
        }
        // ReLU's derivative is read from its output (y > 0 exactly where x > 0), so a ReLU does
        // not keep its input alive; the GELUs need their input.
        let saved = activation == .relu ? out.storage : storage
        let inShape = shape, n = count
        recordUnary(out, self) { g in
            let dx = Tensor(zeros: inShape)
            let gd = g.data, d = dx.data, x = saved.pointer
            switch activation {
            case .quickGELU:
                parallelFor(n) { r in
                    for i in r {
                        let s = 1 / (1 + expf(-1.702 * x[i]))
                        d[i] = gd[i] * (s + 1.702 * x[i] * s * (1 - s))
                    }
                }
            case .gelu:
                parallelFor(n) { r in
                    for i in r {
                        let cdf = 0.5 * (1 + erff(x[i] * 0.70710678118654752))
                        let pdf = expf(-0.5 * x[i] * x[i]) * 0.3989422804014327
                        d[i] = gd[i] * (cdf + x[i] * pdf)
                    }
                }
            case .relu:
                parallelFor(n) { r in for i in r { d[i] = x[i] > 0 ? gd[i] : 0 } }
            }
            return dx
        }
        return out
    }

    /// Softmax over the last dimension.
    public func softmax() -> Tensor {
        let out = Tensor(uninitialized: shape)
        let w = lastDim
        softmaxRows(data, out.data, rows: rows, width: w)
        let saved = out.storage  // the storage, not `out`: capturing `out` would make a cycle
        let inShape = shape, n = rows
        recordUnary(out, self) { g in
            // dx = y * (g - sum(g * y))
            let dx = Tensor(zeros: inShape)
            let y = saved.pointer, gd = g.data, d = dx.data
            parallelFor(n, grain: max(1, 8192 / max(w, 1))) { r in
                for row in r {
                    var dot: Float = 0
                    for j in 0..<w { dot += gd[row * w + j] * y[row * w + j] }
                    for j in 0..<w { d[row * w + j] = y[row * w + j] * (gd[row * w + j] - dot) }
                }
            }
            return dx
        }
        return out
    }
}

/// Numerically stable softmax of each row (in may equal out).
@inline(__always)
func softmaxRows(_ x: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>, rows: Int, width w: Int) {
    for row in 0..<rows {
        let xr = x + row * w, orow = o + row * w
        var m = -Float.infinity
        for j in 0..<w { m = max(m, xr[j]) }
        if m == -Float.infinity { for j in 0..<w { orow[j] = 0 }; continue }
        var s: Float = 0
        for j in 0..<w { let e = expf(xr[j] - m); orow[j] = e; s += e }
        let inv = 1 / s
        for j in 0..<w { orow[j] *= inv }
    }
}
