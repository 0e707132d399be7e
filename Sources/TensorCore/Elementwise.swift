import CKernels
import Foundation

extension Tensor {
    /// Element-wise sum of two tensors of the same shape.
    public func adding(_ other: Tensor) -> Tensor {
        precondition(shape == other.shape, "add: shapes \(shape) and \(other.shape) differ")
        let out = Tensor(uninitialized: shape)
        let a = data, b = other.data, o = out.data
        parallelFor(count) { r in for i in r { o[i] = a[i] + b[i] } }
        record(out, [self, other]) { g in [g, g] }
        return out
    }

    /// Adds `other` into this tensor's storage (no gradient recording; for accumulation).
    public func addInPlace(_ other: Tensor, scale: Float = 1) {
        precondition(shape == other.shape, "addInPlace: shapes \(shape) and \(other.shape) differ")
        let a = data, b = other.data
        parallelFor(count) { r in for i in r { a[i] += scale * b[i] } }
    }

    /// Every element multiplied by `factor`.
    public func scaled(by factor: Float) -> Tensor {
        let out = Tensor(uninitialized: shape)
        let a = data, o = out.data
        parallelFor(count) { r in for i in r { o[i] = a[i] * factor } }
        recordUnary(out, self) { g in g.scaled(by: factor) }
        return out
    }

    /// Adds a vector of length `lastDim` to every row (a bias, or a positional embedding row).
    public func addingRowVector(_ v: Tensor) -> Tensor {
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

    /// Sum over all leading dimensions: shape [..., n] -> [n].
    public func sumRows() -> Tensor {
        let w = lastDim
        let out = Tensor(zeros: [w])
        let a = data, o = out.data, n = rows
        // Blocks of rows summed apart over the pool, then added in block order. The blocks
        // depend on the shape alone, so the sums do not change with the thread count.
        let per = max(1, 65_536 / max(w, 1)), blocks = max(1, (n + per - 1) / per)
        let partial = Tensor(zeros: [blocks, w])
        parallelFor(blocks, grain: 1) { r in
            for b in r where b * per < n { ck_column_sums(a + b * per * w, partial.data + b * w, min(per, n - b * per), w) }
        }
        ck_column_sums(partial.data, o, blocks, w)
        let inShape = shape
        recordUnary(out, self) { g in
            let e = Tensor(zeros: inShape)
            for row in 0..<n { (e.data + row * w).update(from: g.data, count: w) }
            return e
        }
        return out
    }
}

/// Element-wise sum.
public func + (a: Tensor, b: Tensor) -> Tensor { a.adding(b) }
