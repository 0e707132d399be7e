import CKernels
import Foundation

// Softmax over the last dimension, its logarithm, and the cross-entropy built on them.

extension Tensor {
    /// Softmax over the last dimension.
    package func softmax() -> Tensor {
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

    /// log(softmax(x)) over the last dimension, computed stably as x - max - log(sum(exp(x - max))).
    package func logSoftmax() -> Tensor {
        let w = lastDim
        let out = Tensor(zeros: shape)
        let x = data, o = out.data
        parallelFor(rows, grain: max(1, 8192 / max(w, 1))) { r in
            for row in r {
                let xr = x + row * w, orow = o + row * w
                var m = -Float.infinity
                for j in 0..<w { m = max(m, xr[j]) }
                var s: Float = 0
                for j in 0..<w { s += expf(xr[j] - m) }
                let lse = m + logf(s)
                for j in 0..<w { orow[j] = xr[j] - lse }
            }
        }
        let saved = out.storage
        let inShape = shape, n = rows
        recordUnary(out, self) { g in
            // dx = g - softmax(x) * sum(g)
            let dx = Tensor(zeros: inShape)
            let y = saved.pointer, gd = g.data, d = dx.data
            parallelFor(n, grain: max(1, 8192 / max(w, 1))) { r in
                for row in r {
                    var s: Float = 0
                    for j in 0..<w { s += gd[row * w + j] }
                    for j in 0..<w { d[row * w + j] = gd[row * w + j] - expf(y[row * w + j]) * s }
                }
            }
            return dx
        }
        return out
    }

    /// Mean cross-entropy of logits [N, C] against integer classes (`F.cross_entropy` with the
    /// default mean reduction): mean over rows i of -log softmax(x_i)[targets[i]]. A scalar.
    ///
    /// ```
    /// let loss = logits.crossEntropy(targets: Array(0..<n))   // CLIP's contrastive targets
    /// ```
    package func crossEntropy(targets: [Int]) -> Tensor {
        precondition(rank == 2 && targets.count == shape[0], "crossEntropy: logits \(shape) for \(targets.count) targets")
        let (n, c) = (shape[0], shape[1])
        precondition(targets.allSatisfy { $0 >= 0 && $0 < c }, "crossEntropy: a target is outside 0..<\(c)")
        let probs = Tensor(zeros: shape)
        softmaxRows(data, probs.data, rows: n, width: c)
        var total: Double = 0
        for i in 0..<n {
            let xr = data + i * c
            var m = -Float.infinity
            for j in 0..<c { m = max(m, xr[j]) }
            var s: Double = 0
            for j in 0..<c { s += Double(expf(xr[j] - m)) }
            total += Double(m) + Foundation.log(s) - Double(xr[targets[i]])
        }
        let out = Tensor([Float(total / Double(max(n, 1)))], shape: [])
        let inShape = shape
        recordUnary(out, self) { g in
            // d/dx_ij = (softmax_ij - [j == t_i]) * g / N
            let dx = Tensor(zeros: inShape)
            let scale = g.data[0] / Float(max(n, 1))
            let p = probs.data, d = dx.data
            for i in 0..<n {
                for j in 0..<c { d[i * c + j] = p[i * c + j] * scale }
                d[i * c + targets[i]] -= scale
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
