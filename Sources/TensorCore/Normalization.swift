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
        // Saved for backward: the input, the weight, and the row statistics.
        let xSaved = storage, gammaSaved = weight.storage
        let inShape = shape, weightShape = weight.shape, biasShape = bias.shape
        record(out, [self, weight, bias]) { g in
            // The closure must own `mean` and `rstd` (not just their pointers) to keep them alive.
            let mu = mean.data, rs = rstd.data, x = xSaved.pointer, gamma = gammaSaved.pointer
            let dx = Tensor(zeros: inShape), dgamma = Tensor(zeros: [w]), dbeta = Tensor(zeros: [w])
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
            return [dx, dgamma.reshaped(weightShape), dbeta.reshaped(biasShape)]
        }
        return out
    }
}

extension Tensor {
    /// BatchNorm2d in training mode (`nn.BatchNorm2d.train()`): each channel is normalised with
    /// the mean and biased variance of the batch, over N, H and W:
    /// y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c. x: [N, C, H, W].
    ///
    /// When given, the running statistics are updated in place as PyTorch does, with the
    /// unbiased batch variance: running = (1 - momentum) running + momentum * batch statistic.
    /// (They are updated whether or not gradients are recorded, as in PyTorch's train mode.)
    public func batchNorm2dTraining(weight: Tensor, bias: Tensor, runningMean: Tensor?, runningVar: Tensor?,
                                    momentum: Float = 0.1, eps: Float = 1e-5) -> Tensor {
        precondition(rank == 4 && weight.count == shape[1] && bias.count == shape[1],
                     "batchNorm2d: input \(shape) vs \(weight.count) channels")
        let (n, c) = (shape[0], shape[1]), plane = shape[2] * shape[3]
        let m = n * plane
        precondition(m > 1, "batchNorm2d in training mode needs more than one value per channel, got input \(shape)")
        let out = Tensor(zeros: shape)
        let mean = Tensor(zeros: [c]), rstd = Tensor(zeros: [c])
        let x = data, o = out.data, gamma = weight.data, beta = bias.data
        parallelFor(c, grain: 1) { r in
            for ch in r {
                // Two passes in Double: exact enough to match PyTorch's Welford to float rounding.
                var s: Double = 0
                for img in 0..<n { let p = x + (img * c + ch) * plane; for i in 0..<plane { s += Double(p[i]) } }
                let mu = s / Double(m)
                var v: Double = 0
                for img in 0..<n { let p = x + (img * c + ch) * plane; for i in 0..<plane { let d = Double(p[i]) - mu; v += d * d } }
                let variance = v / Double(m)
                let inv = Float(1 / (variance + Double(eps)).squareRoot())
                mean.data[ch] = Float(mu); rstd.data[ch] = inv
                if let runningMean, let runningVar {
                    runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * Float(mu)
                    runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * Float(v / Double(m - 1))
                }
                let scale = inv * gamma[ch], shift = beta[ch] - Float(mu) * inv * gamma[ch]
                for img in 0..<n {
                    let p = x + (img * c + ch) * plane, q = o + (img * c + ch) * plane
                    for i in 0..<plane { q[i] = p[i] * scale + shift }
                }
            }
        }
        // Saved for backward: the input (as PyTorch saves it), the weight, and the batch
        // statistics. The output is not needed, so when a ReLU alone consumes it, it is freed
        // as soon as that ReLU has run.
        let xSaved = storage, gammaSaved = weight.storage
        let inShape = shape, weightShape = weight.shape, biasShape = bias.shape
        record(out, [self, weight, bias]) { g in
            // With xhat = (x - mean) * rstd and M = N*H*W values per channel:
            // dbias = sum g, dweight = sum g xhat,
            // dx = weight * rstd / M * (M g - sum g - xhat * sum(g xhat)).
            let dx = Tensor(zeros: inShape), dgamma = Tensor(zeros: weightShape), dbeta = Tensor(zeros: biasShape)
            let gd = g.data, d = dx.data, x = xSaved.pointer, gamma = gammaSaved.pointer
            parallelFor(c, grain: 1) { r in
                for ch in r {
                    let mu = mean.data[ch], inv = rstd.data[ch]
                    var sgD: Double = 0, sgxD: Double = 0
                    for img in 0..<n {
                        // Float partial sums per plane, Double across planes.
                        let p = x + (img * c + ch) * plane, q = gd + (img * c + ch) * plane
                        var a: Float = 0, b: Float = 0
                        for i in 0..<plane { a += q[i]; b += q[i] * (p[i] - mu) }
                        sgD += Double(a); sgxD += Double(b)
                    }
                    let sg = Float(sgD), sgx = Float(sgxD) * inv
                    dgamma.data[ch] = sgx; dbeta.data[ch] = sg
                    let k = gamma[ch] * inv / Float(m), fm = Float(m)
                    for img in 0..<n {
                        let p = x + (img * c + ch) * plane, q = gd + (img * c + ch) * plane, dd = d + (img * c + ch) * plane
                        for i in 0..<plane { dd[i] = k * (fm * q[i] - sg - (p[i] - mu) * inv * sgx) }
                    }
                }
            }
            return [dx, dgamma, dbeta]
        }
        return out
    }
}
