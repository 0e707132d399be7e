import CKernels
import Foundation

// LayerNorm (CLIP's towers) and L2 normalisation of embeddings, over the last dimension.
// BatchNorm, which normalises over channels, is in BatchNorm.swift.

extension Tensor {
    /// LayerNorm over the last dimension: (x - mean) / sqrt(var + eps) * weight + bias,
    /// with the biased variance, as `torch.nn.LayerNorm`.
    package func layerNorm(weight: Tensor, bias: Tensor, eps: Float = 1e-5) -> Tensor {
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

    /// Each row divided by its L2 norm (rows of zeros stay zero).
    public func l2Normalized(eps: Float = 1e-12) -> Tensor {
        let w = lastDim
        let out = Tensor(uninitialized: shape)
        let norms = Tensor(zeros: [rows])
        for r in 0..<rows {
            var s: Float = 0
            for j in 0..<w { s += data[r * w + j] * data[r * w + j] }
            let n = max(s.squareRoot(), eps)
            norms.data[r] = n
            for j in 0..<w { out.data[r * w + j] = data[r * w + j] / n }
        }
        let saved = out.storage  // the storage, not `out`: capturing `out` would make a cycle
        let inShape = shape, rowCount = rows
        recordUnary(out, self) { g in
            // d(x/|x|) = (g - y (g . y)) / |x|; rows clamped at eps are constant (x/eps): g/eps.
            let dx = Tensor(zeros: inShape)
            let y = saved.pointer
            for r in 0..<rowCount {
                let n = norms.data[r]
                var dot: Float = 0
                if n > eps { for j in 0..<w { dot += g.data[r * w + j] * y[r * w + j] } }
                for j in 0..<w { dx.data[r * w + j] = (g.data[r * w + j] - y[r * w + j] * dot) / n }
            }
            return dx
        }
        return out
    }
}
