import Foundation

extension Tensor {
    /// LayerNorm over the last dimension: (x - mean) / sqrt(var + eps) * weight + bias,
    /// with the biased variance, as `torch.nn.LayerNorm`.
    public func layerNorm(weight: Tensor, bias: Tensor, eps: Float = 1e-5) -> Tensor {
        let w = lastDim, n = rows
        precondition(weight.count == w && bias.count == w, "layerNorm: weight \(weight.shape) for width \(w)")
        let out = Tensor(uninitialized: shape)
        let mean = Tensor(zeros: [n]), rstd = Tensor(zeros: [n])
        let x = data, o = out.data, gamma = weight.data, beta = bias.data, mu = mean.data, rs = rstd.data
        parallelFor(n, grain: max(1, 8192 / max(w, 1))) { r in
            for row in r {
                let xr = x + row * w, orow = o + row * w
                var s: Float = 0
                for j in 0..<w { s += xr[j] }
                let m = s / Float(w)
                var v: Float = 0
                for j in 0..<w { let d = xr[j] - m; v += d * d }
                let inv = 1 / (v / Float(w) + eps).squareRoot()
                mu[row] = m; rs[row] = inv
                for j in 0..<w { orow[j] = (xr[j] - m) * inv * gamma[j] + beta[j] }
            }
        }
        record(out, [self, weight, bias]) { g in
            let dx = Tensor(zeros: self.shape), dgamma = Tensor(zeros: [w]), dbeta = Tensor(zeros: [w])
            let gd = g.data, d = dx.data, dg = dgamma.data, db = dbeta.data
            for row in 0..<n {
                let xr = x + row * w, gr = gd + row * w, dr = d + row * w
                let m = mu[row], inv = rs[row]
                var sumG: Float = 0, sumGX: Float = 0
                for j in 0..<w {
                    let xhat = (xr[j] - m) * inv
                    let gy = gr[j] * gamma[j]
                    sumG += gy; sumGX += gy * xhat
                    dg[j] += gr[j] * xhat; db[j] += gr[j]
                }
                let invW = 1 / Float(w)
                for j in 0..<w {
                    let xhat = (xr[j] - m) * inv
                    dr[j] = inv * (gr[j] * gamma[j] - invW * sumG - xhat * invW * sumGX)
                }
            }
            return [dx, dgamma.reshaped(weight.shape), dbeta.reshaped(bias.shape)]
        }
        return out
    }
}
