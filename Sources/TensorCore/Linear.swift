import Foundation

extension Tensor {
    /// y = x W^T + b, PyTorch's `nn.Linear` with weight in [out, in] layout.
    ///
    /// x: [..., in], weight: [out, in], bias: [out] -> [..., out].
    /// ```
    /// let y = x.linear(weight: fc.weight, bias: fc.bias)
    /// ```
    package func linear(weight: Tensor, bias: Tensor? = nil) -> Tensor {
        let k = lastDim, n = weight.shape[0], m = rows
        precondition(weight.rank == 2 && weight.shape[1] == k, "linear: input \(shape) vs weight \(weight.shape)")
        var outShape = shape
        outShape[outShape.count - 1] = n
        let out = Tensor(uninitialized: outShape)
        if let bias { precondition(bias.count == n, "linear: bias \(bias.shape) for \(n) outputs") }
        sgemmAddingBias(m: m, n: n, k: k, a: data, lda: k, bT: weight.data, ldb: k, bias: bias?.data,
                        c: out.data, ldc: n)
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        // dW reads the input and dx reads the weight: each is kept only when the other needs a
        // gradient.
        let needX = tracksGrad, needW = weight.tracksGrad
        let xSaved = needW ? storage : nil, wSaved = needX ? weight.storage : nil
        let inShape = shape, weightShape = weight.shape, hasBias = bias != nil
        record(out, inputs) { g in
            // dx = g W ; dW = g^T x ; db = sum_rows g. The products overwrite every element
            // (beta 0, and zeros when there are no rows), so their buffers are not zero-filled.
            var grads: [Tensor?] = [nil, nil]
            if let wSaved {
                let dx = Tensor(uninitialized: inShape)
                sgemm(m: m, n: k, k: n, a: g.data, lda: n, b: wSaved.pointer, ldb: k, c: dx.data, ldc: k)
                grads[0] = dx
            }
            if let xSaved {
                let dw = Tensor(uninitialized: weightShape)
                sgemm(transA: true, m: n, n: k, k: m, a: g.data, lda: n, b: xSaved.pointer, ldb: k, c: dw.data, ldc: k)
                grads[1] = dw
            }
            if hasBias { grads.append(g.detached().sumRows()) }
            return grads
        }
        return out
    }

    /// Matrix product of 2-D tensors with optional transposes: op(self) [m, k] x op(other) [k, n].
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        precondition(rank == 2 && other.rank == 2, "matmul: ranks \(rank) and \(other.rank)")
        let m = transposeSelf ? shape[1] : shape[0], k = transposeSelf ? shape[0] : shape[1]
        let k2 = transposeOther ? other.shape[1] : other.shape[0], n = transposeOther ? other.shape[0] : other.shape[1]
        precondition(k == k2, "matmul: inner dimensions \(k) and \(k2) differ")
        let out = Tensor(uninitialized: [m, n])
        sgemm(transA: transposeSelf, transB: transposeOther, m: m, n: n, k: k,
              a: data, lda: shape[1], b: other.data, ldb: other.shape[1], c: out.data, ldc: n)
        let a = detached(), b = other.detached()  // each factor's values, for the other's gradient
        record(out, [self, other]) { g in
            // C = A B: dA = g B^T, dB = A^T g (expressed for each transpose combination).
            let da = transposeSelf
                ? b.matmul(g, transposeSelf: transposeOther, transposeOther: true)
                : g.matmul(b, transposeOther: !transposeOther)
            let db = transposeOther
                ? g.matmul(a, transposeSelf: true, transposeOther: transposeSelf)
                : a.matmul(g, transposeSelf: !transposeSelf)
            return [da, db]
        }
        return out
    }
}
