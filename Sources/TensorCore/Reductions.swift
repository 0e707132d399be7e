import CKernels
import Foundation

// Sums and means: of all elements (scalar losses), over rows (bias gradients) and over tokens
// (pooling); and the weighted sum of scalar loss terms.

extension Tensor {
    /// The sum of all elements, a scalar (shape []). Accumulated in Double.
    package func sum() -> Tensor {
        var s: Double = 0
        for i in 0..<count { s += Double(data[i]) }
        let out = Tensor([Float(s)], shape: [])
        let inShape = shape
        recordUnary(out, self) { g in Tensor(repeating: g.data[0], shape: inShape) }
        return out
    }

    /// The mean of all elements, a scalar (shape []).
    package func mean() -> Tensor {
        let n = Float(max(count, 1))
        var s: Double = 0
        for i in 0..<count { s += Double(data[i]) }
        let out = Tensor([Float(s / Double(n))], shape: [])
        let inShape = shape
        recordUnary(out, self) { g in Tensor(repeating: g.data[0] / n, shape: inShape) }
        return out
    }

    /// Sum over all leading dimensions: shape [..., n] -> [n].
    package func sumRows() -> Tensor {
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

    /// Mean over the middle axis: [B, L, W] -> [B, W].
    package func meanOverTokens() -> Tensor {
        precondition(rank == 3, "meanOverTokens: \(shape) is not [B, L, W]")
        let (b, l, w) = (shape[0], shape[1], shape[2])
        let out = Tensor(zeros: [b, w])
        let inv = 1 / Float(l)
        for i in 0..<b {
            let o = out.data + i * w
            for t in 0..<l { let x = data + (i * l + t) * w; for j in 0..<w { o[j] += x[j] } }
            for j in 0..<w { o[j] *= inv }
        }
        let inShape = shape
        recordUnary(out, self) { g in
            let dx = Tensor(zeros: inShape)
            for i in 0..<b { for t in 0..<l { for j in 0..<w { dx.data[(i * l + t) * w + j] = g.data[i * w + j] * inv } } }
            return dx
        }
        return out
    }
}

/// Weighted sum of scalar tensors, sum_i w_i * x_i (a loss from its terms).
package func weightedSum(_ terms: [(weight: Float, value: Tensor)]) -> Tensor {
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
