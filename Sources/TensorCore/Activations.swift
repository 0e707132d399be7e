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
    package func activated(_ activation: Activation) -> Tensor {
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
}
