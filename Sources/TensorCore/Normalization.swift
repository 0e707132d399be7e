import CKernels
import Foundation

extension Tensor {
    /// LayerNorm over the last dimension: (x - mean) / sqrt(var + eps) * weight + bias,
    /// with the biased variance, as `torch.nn.LayerNorm`.
    public func layerNorm(weight: Tensor, bias: Tensor, eps: Float = 1e-5) -> Tensor {
        let w = lastDim, n = rows
        precondition(weight.count == w && bias.count == w, "layerNorm: weight \(weight.shape) for width \(w)")
        let out = Tensor(uninitialized: shape)
        let recording = GradMode.isEnabled && (tracksGrad || weight.tracksGrad || bias.tracksGrad)
        let mean = recording ? Tensor(uninitialized: [n]) : nil, rstd = recording ? Tensor(uninitialized: [n]) : nil
        let x = data, o = out.data, gamma = weight.data, beta = bias.data, mu = mean?.data, rs = rstd?.data
        parallelFor(n, grain: max(1, 8192 / max(w, 1))) { r in
            let i = r.lowerBound
            ck_layernorm(x + i * w, gamma, beta, o + i * w, mu.map { $0 + i }, rs.map { $0 + i }, r.count, w, eps)
        }
        guard let mean, let rstd else { return out }
        // Saved for backward: the input, the weight, and the row statistics.
        let xSaved = storage, gammaSaved = weight.storage
        let inShape = shape, weightShape = weight.shape, biasShape = bias.shape
        record(out, [self, weight, bias]) { g in
            // Rows are split over the pool; each chunk adds its dgamma/dbeta into its own
            // partial sums, which are then added in chunk order. The chunks depend on the
            // shape alone, so the sums do not change with the thread count.
            let mu = mean.data, rs = rstd.data, x = xSaved.pointer, gamma = gammaSaved.pointer
            let dx = Tensor(uninitialized: inShape)
            let per = max(1, 16_384 / max(w, 1)), chunks = max(1, (n + per - 1) / per)
            let partial = Tensor(zeros: [chunks, 2, w])
            let gd = g.data, d = dx.data, p = partial.data
            parallelFor(chunks, grain: 1) { r in
                for c in r {
                    let lo = c * per, hi = min(n, lo + per)
                    guard lo < hi else { continue }
                    ck_layernorm_backward(x + lo * w, gamma, gd + lo * w, mu + lo, rs + lo, d + lo * w,
                                          p + c * 2 * w, p + c * 2 * w + w, hi - lo, w)
                }
            }
            let dgamma = Tensor(zeros: [w]), dbeta = Tensor(zeros: [w])
            for c in 0..<chunks {
                for j in 0..<w { dgamma.data[j] += p[c * 2 * w + j]; dbeta.data[j] += p[c * 2 * w + w + j] }
            }
            return [dx, dgamma.reshaped(weightShape), dbeta.reshaped(biasShape)]
        }
        return out
    }
}
