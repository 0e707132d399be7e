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
            // partial sums, which are then added in chunk order (deterministic).
            let mu = mean.data, rs = rstd.data, x = xSaved.pointer, gamma = gammaSaved.pointer
            let dx = Tensor(uninitialized: inShape)
            let chunks = max(1, min(Threads.count, n / max(1, 8192 / max(w, 1))))
            let per = (n + chunks - 1) / chunks
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
