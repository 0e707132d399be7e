import CKernels
import Foundation

extension Tensor {
    /// `nn.BatchNorm2d` on a channel-major map [C, N, H, W], optionally followed by a residual
    /// add and a ReLU in the same pass: y = relu?(bn(x) + residual?), with
    /// bn(x) = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c.
    ///
    /// `training` (`.train()` mode): mean and biased variance of the batch, over N, H and W; the
    /// running statistics, when given, are updated in place as PyTorch does, with the unbiased
    /// batch variance: running = (1 - momentum) running + momentum * batch statistic (whether
    /// or not gradients are recorded). Otherwise (`.eval()`) the running statistics normalise.
    /// Differentiable in both modes, with respect to x, weight, bias and residual.
    package func batchNorm2d(weight: Tensor, bias: Tensor, runningMean: Tensor?, runningVar: Tensor?, training: Bool,
                            momentum: Float = 0.1, eps: Float = 1e-5, residual: Tensor? = nil, relu: Bool = false) -> Tensor {
        let c = shape.first ?? 0, plane = c == 0 ? 0 : count / c
        precondition(rank == 4 && weight.count == c && bias.count == c, "batchNorm2d: input \(shape) vs \(weight.count) channels")
        precondition(residual == nil || residual!.shape == shape, "batchNorm2d: residual \(residual!.shape) for \(shape)")
        let mean = Tensor(uninitialized: [c]), rstd = Tensor(uninitialized: [c])
        let scale = Tensor(uninitialized: [c]), shift = Tensor(uninitialized: [c])
        let x = data, gamma = weight.data, beta = bias.data
        if training {
            precondition(plane > 1, "batchNorm2d in training mode needs more than one value per channel, got input \(shape)")
            let mu = UnsafeMutablePointer<Double>.allocate(capacity: c), variance = UnsafeMutablePointer<Double>.allocate(capacity: c)
            defer { mu.deallocate(); variance.deallocate() }
            // Two passes in double: exact enough to match PyTorch's Welford to float rounding.
            parallelFor(c, grain: max(1, 65_536 / max(plane, 1))) { r in
                ck_channel_moments(x + r.lowerBound * plane, r.count, plane, mu + r.lowerBound, variance + r.lowerBound)
            }
            for ch in 0..<c {
                mean.data[ch] = Float(mu[ch])
                rstd.data[ch] = Float(1 / (variance[ch] + Double(eps)).squareRoot())
                if let runningMean, let runningVar {
                    runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * Float(mu[ch])
                    runningVar.data[ch] = (1 - momentum) * runningVar.data[ch]
                        + momentum * Float(variance[ch] * Double(plane) / Double(plane - 1))
                }
            }
        } else {
            guard let runningMean, let runningVar else { preconditionFailure("batchNorm2d: inference needs running statistics") }
            for ch in 0..<c {
                mean.data[ch] = runningMean.data[ch]
                rstd.data[ch] = 1 / (runningVar.data[ch] + eps).squareRoot()
            }
        }
        for ch in 0..<c {
            scale.data[ch] = rstd.data[ch] * gamma[ch]
            shift.data[ch] = beta[ch] - mean.data[ch] * scale.data[ch]
        }
        let out = Tensor(uninitialized: shape)
        let o = out.data, r = residual?.data
        parallelFor(c, grain: max(1, 65_536 / max(plane, 1))) { range in
            let i = range.lowerBound
            ck_channel_affine(x + i * plane, o + i * plane, scale.data + i, shift.data + i, r.map { $0 + i * plane },
                              relu, range.count, plane)
        }
        // Saved for backward: the input (as PyTorch saves it), the weight and the statistics.
        // A ReLU's mask is recomputed from the input (x * scale + shift > 0, rounded as in
        // forward) unless a residual was added, when the output is kept for it: a ReLU
        // followed by pooling then keeps nothing of its full-size output (0.15 GB on an RN50
        // step). The pre-ReLU sum is never kept.
        let xSaved = storage, gammaSaved = weight.storage, ySaved = relu && residual != nil ? out.storage : nil
        let inShape = shape, weightShape = weight.shape, biasShape = bias.shape, hasResidual = residual != nil
        var inputs = [self, weight, bias]
        if let residual { inputs.append(residual) }
        record(out, inputs) { g in
            var dz = g
            if let ySaved {
                dz = Tensor(uninitialized: inShape)
                let y = ySaved.pointer, gd = g.data, d = dz.data
                parallelFor(dz.count) { range in ck_activation_backward(Int32(CK_RELU), y + range.lowerBound, gd + range.lowerBound,
                                                                        d + range.lowerBound, range.count) }
            } else if relu {
                dz = Tensor(uninitialized: inShape)
                let x = xSaved.pointer, gd = g.data, d = dz.data
                parallelFor(c, grain: max(1, 65_536 / max(plane, 1))) { range in
                    let i = range.lowerBound
                    ck_channel_relu_backward(x + i * plane, gd + i * plane, scale.data + i, shift.data + i, d + i * plane,
                                             range.count, plane)
                }
            }
            let dx = Tensor(uninitialized: inShape), dgamma = Tensor(uninitialized: weightShape)
            let dbeta = Tensor(uninitialized: biasShape)
            let x = xSaved.pointer, gm = gammaSaved.pointer, zd = dz.data
            parallelFor(c, grain: max(1, 65_536 / max(plane, 1))) { range in
                let i = range.lowerBound
                ck_channel_batchnorm_backward(x + i * plane, zd + i * plane, mean.data + i, rstd.data + i, gm + i,
                                              dx.data + i * plane, dgamma.data + i, dbeta.data + i, training ? 1 : 0,
                                              range.count, plane)
            }
            return hasResidual ? [dx, dgamma, dbeta, dz] : [dx, dgamma, dbeta]
        }
        return out
    }
}
