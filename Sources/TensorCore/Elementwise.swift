import CKernels
import Foundation

extension Tensor {
    /// Element-wise sum of two tensors of the same shape.
    package func adding(_ other: Tensor) -> Tensor {
        precondition(shape == other.shape, "add: shapes \(shape) and \(other.shape) differ")
        let out = Tensor(uninitialized: shape)
        let a = data, b = other.data, o = out.data
        parallelFor(count) { r in for i in r { o[i] = a[i] + b[i] } }
        record(out, [self, other]) { g in [g, g] }
        return out
    }

    /// Adds `other` into this tensor's storage (no gradient recording; for accumulation).
    package func addInPlace(_ other: Tensor, scale: Float = 1) {
        precondition(shape == other.shape, "addInPlace: shapes \(shape) and \(other.shape) differ")
        let a = data, b = other.data
        parallelFor(count) { r in for i in r { a[i] += scale * b[i] } }
    }

    /// Every element multiplied by `factor`.
    package func scaled(by factor: Float) -> Tensor {
        let out = Tensor(uninitialized: shape)
        let a = data, o = out.data
        parallelFor(count) { r in for i in r { o[i] = a[i] * factor } }
        recordUnary(out, self) { g in g.scaled(by: factor) }
        return out
    }

    /// Adds a vector of length `lastDim` to every row (a bias, or a positional embedding row).
    package func addingRowVector(_ v: Tensor) -> Tensor {
        precondition(v.count == lastDim, "row add: vector of \(v.count) for rows of \(lastDim)")
        let out = Tensor(uninitialized: shape)
        let a = data, b = v.data, o = out.data, w = lastDim
        parallelFor(rows, grain: max(1, 16_384 / max(w, 1))) { r in
            for row in r { for j in 0..<w { o[row * w + j] = a[row * w + j] + b[j] } }
        }
        let vShape = v.shape
        record(out, [self, v]) { g in [g, g.sumRows().reshaped(vShape)] }
        return out
    }

    /// e^x element-wise (for a learned temperature: `logitScale.exp()`).
    package func exp() -> Tensor {
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
    package func multiplied(_ other: Tensor) -> Tensor {
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
    package func scaled(by factor: Tensor) -> Tensor {
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
}

/// Element-wise sum.
package func + (a: Tensor, b: Tensor) -> Tensor { a.adding(b) }
