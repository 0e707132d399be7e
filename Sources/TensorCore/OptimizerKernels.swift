import CKernels

/// The element-wise work of optimisers, run as one parallel job over all parameters: a
/// model's many small tensors would otherwise each pay a dispatch of their own.
package enum OptimizerKernels {
    /// One tensor's share of an AdamW update.
    package struct AdamWSlot {
        package let parameter: Tensor, gradient: Tensor, expAvg: Tensor, expAvgSq: Tensor
        /// 1 - lr * weight_decay, or 1 for parameters without decay.
        package let decay: Float

        package init(parameter: Tensor, gradient: Tensor, expAvg: Tensor, expAvgSq: Tensor, decay: Float) {
            precondition(gradient.count == parameter.count && expAvg.count == parameter.count && expAvgSq.count == parameter.count,
                         "AdamW: gradient \(gradient.shape) and moments for a parameter \(parameter.shape)")
            self.parameter = parameter; self.gradient = gradient; self.expAvg = expAvg; self.expAvgSq = expAvgSq
            self.decay = decay
        }
    }

    /// Sum of the squares of every element of `tensors`, in double, added in a fixed order.
    package static func sumOfSquares(_ tensors: [Tensor]) -> Double {
        let chunks = chunked(tensors.map(\.count))
        var partial = [Double](repeating: 0, count: chunks.count)
        partial.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            parallelFor(chunks.count, grain: 1) { r in
                for c in r {
                    let (t, start, count) = chunks[c]
                    base[c] = ck_sum_squares(tensors[t].data + start, count)
                }
            }
        }
        return partial.reduce(0, +)
    }

    /// x = x * decay - stepSize * m / (sqrt(v) * invBias2Sqrt + eps) after updating the moments
    /// with the clipped gradient (see ck_adamw), for every slot.
    package static func adamW(_ slots: [AdamWSlot], clip: Float, beta1: Float, beta2: Float, stepSize: Float,
                             invBias2Sqrt: Float, eps: Float) {
        let chunks = chunked(slots.map(\.parameter.count))
        parallelFor(chunks.count, grain: 1) { r in
            for c in r {
                let (t, start, count) = chunks[c]
                let s = slots[t]
                ck_adamw(s.parameter.data + start, s.gradient.data + start, s.expAvg.data + start, s.expAvgSq.data + start,
                         count, clip, s.decay, beta1, beta2, stepSize, invBias2Sqrt, eps)
            }
        }
    }

    /// (tensor, start, count) pieces of at most 64K elements covering every tensor in order.
    private static func chunked(_ counts: [Int]) -> [(Int, Int, Int)] {
        let size = 1 << 16
        var chunks: [(Int, Int, Int)] = []
        for (t, n) in counts.enumerated() {
            var start = 0
            while start < n {
                chunks.append((t, start, min(size, n - start)))
                start += size
            }
        }
        return chunks
    }
}
