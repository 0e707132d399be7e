import CKernels
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

extension Activation {
    /// The kernel's code (CKernels/include/ck_elementwise.h).
    var kernel: Int32 {
        switch self {
        case .quickGELU: Int32(CK_QUICK_GELU)
        case .gelu: Int32(CK_GELU)
        case .relu: Int32(CK_RELU)
        }
    }
}

extension Tensor {
    /// Applies `activation` element-wise.
    public func activated(_ activation: Activation) -> Tensor {
        let out = Tensor(uninitialized: shape)
        let x = data, o = out.data, kind = activation.kernel
        parallelFor(count) { r in ck_activation(kind, x + r.lowerBound, o + r.lowerBound, r.count) }
        // ReLU's derivative is read from its output (y > 0 exactly where x > 0), so a ReLU does
        // not keep its input alive; the GELUs need their input.
        let saved = activation == .relu ? out.storage : storage
        let inShape = shape, n = count
        recordUnary(out, self) { g in
            let dx = Tensor(uninitialized: inShape)
            let gd = g.data, d = dx.data, x = saved.pointer
            parallelFor(n) { r in ck_activation_backward(kind, x + r.lowerBound, gd + r.lowerBound, d + r.lowerBound, r.count) }
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
        let n = rows
        recordUnary(out, self) { g in
            // dx = y * (g - sum(g * y))
            let dx = g.copy()
            let y = saved.pointer, d = dx.data
            parallelFor(n, grain: max(1, 8192 / max(w, 1))) { r in
                ck_softmax_backward_rows(y + r.lowerBound * w, d + r.lowerBound * w, r.count, w, 1)
            }
            return dx
        }
        return out
    }
}

/// Numerically stable softmax of each row (in may equal out), over the pool.
func softmaxRows(_ x: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>, rows: Int, width w: Int) {
    parallelFor(rows, grain: max(1, 8192 / max(w, 1))) { r in
        ck_softmax_rows(x + r.lowerBound * w, o + r.lowerBound * w, r.count, w, -1)
    }
}
