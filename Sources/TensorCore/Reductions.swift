import Foundation

// Scalar-valued and element-wise operations that losses are built from: exp, products with a
// tensor-valued scalar, sums and means, log-softmax and cross-entropy with integer targets.

extension Tensor {
    /// e^x element-wise (for a learned temperature: `logitScale.exp()`).
    public func exp() -> Tensor {
        let out = Tensor(zeros: shape)
        let x = data, o = out.data
        parallelFor(count) { r in for i in r { o[i] = expf(x[i]) } }
        let saved = out.storage
        let inShape = shape, n = count
        recordUnary(out, self) { g in
            // d e^x = e^x g
            let dx = Tensor(zeros: inShape)
            let y = saved.pointer, gd = g.data, d = dx.data
            parallelFor(n) { r in for i in r { d[i] = gd[i] * y[i] } }
            return dx
        }
        return out
    }

    /// Element-wise product of two tensors of the same shape.
    public func multiplied(_ other: Tensor) -> Tensor {
        precondition(shape == other.shape, "multiply: shapes \(shape) and \(other.shape) differ")
        let out = Tensor(zeros: shape)
        let a = data, b = other.data, o = out.data
        parallelFor(count) { r in for i in r { o[i] = a[i] * b[i] } }
        let aSaved = storage, bSaved = other.storage
        let inShape = shape, n = count
        record(out, [self, other]) { g in
            let da = Tensor(zeros: inShape), db = Tensor(zeros: inShape)
            let gd = g.data, pa = da.data, pb = db.data, a = aSaved.pointer, b = bSaved.pointer
            parallelFor(n) { r in for i in r { pa[i] = gd[i] * b[i]; pb[i] = gd[i] * a[i] } }
            return [da, db]
        }
        return out
    }

    /// Every element multiplied by the one-element tensor `factor`, which may itself need a
    /// gradient (s * M with s = exp(logit_scale)): d factor = sum(g * self).
    public func scaled(by factor: Tensor) -> Tensor {
        precondition(factor.count == 1, "scaled(by:): factor \(factor.shape) is not a scalar")
        let s = factor.data[0]
        let out = Tensor(zeros: shape)
        let a = data, o = out.data
        parallelFor(count) { r in for i in r { o[i] = a[i] * s } }
        // d factor reads this tensor's values: kept only when the factor needs a gradient.
        let aSaved = factor.tracksGrad ? storage : nil
        let inShape = shape, factorShape = factor.shape, n = count
        record(out, [self, factor]) { g in
            let dx = Tensor(zeros: inShape)
            let gd = g.data, d = dx.data
            parallelFor(n) { r in for i in r { d[i] = gd[i] * s } }
            guard let aSaved else { return [dx, nil] }
            let a = aSaved.pointer
            var dot: Double = 0
            for i in 0..<n { dot += Double(gd[i]) * Double(a[i]) }
            return [dx, Tensor([Float(dot)], shape: factorShape)]
        }
        return out
    }

    /// The sum of all elements, a scalar (shape []). Accumulated in Double.
    public func sum() -> Tensor {
        var s: Double = 0
        for i in 0..<count { s += Double(data[i]) }
        let out = Tensor([Float(s)], shape: [])
        let inShape = shape
        recordUnary(out, self) { g in Tensor(repeating: g.data[0], shape: inShape) }
        return out
    }

    /// The mean of all elements, a scalar (shape []).
    public func mean() -> Tensor {
        let n = Float(max(count, 1))
        var s: Double = 0
        for i in 0..<count { s += Double(data[i]) }
        let out = Tensor([Float(s / Double(n))], shape: [])
        let inShape = shape
        recordUnary(out, self) { g in Tensor(repeating: g.data[0] / n, shape: inShape) }
        return out
    }

    /// log(softmax(x)) over the last dimension, computed stably as x - max - log(sum(exp(x - max))).
    public func logSoftmax() -> Tensor {
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
    public func crossEntropy(targets: [Int]) -> Tensor {
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

/// Weighted sum of scalar tensors, sum_i w_i * x_i (a loss from its terms).
public func weightedSum(_ terms: [(weight: Float, value: Tensor)]) -> Tensor {
    precondition(!terms.isEmpty && terms.allSatisfy { $0.value.count == 1 }, "weightedSum: needs one or more scalars")
    var total: Float = 0
    for t in terms { total += t.weight * t.value.data[0] }
    let out = Tensor([total], shape: [])
    let values = terms.map(\.value), weights = terms.map(\.weight), shapes = values.map(\.shape)
    record(out, values) { g in
        weights.enumerated().map { i, w in Tensor([w * g.data[0]], shape: shapes[i]) }
    }
    return out
}
