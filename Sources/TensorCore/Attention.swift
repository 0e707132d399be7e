import CKernels
import Foundation

/// Where one of q, k, v lives: a base pointer for batch 0, the row stride, the batch stride,
/// and optionally a first row per batch item (queries taken from one position per sequence).
struct HeadLayout {
    var base: UnsafeMutablePointer<Float>
    var rowStride: Int
    var batchStride: Int
    var firstRow: [Int]? = nil
    func head(_ b: Int, _ h: Int, _ d: Int) -> UnsafeMutablePointer<Float> {
        base + b * batchStride + (firstRow?[b] ?? 0) * rowStride + h * d
    }
}

/// softmax(q k^T * scale + mask) v for every (batch, head), the pairs spread over the pool;
/// the probabilities are left in `probs` [batch, heads, lq, lk] for backward.
private func attentionForward(q: HeadLayout, k: HeadLayout, v: HeadLayout, o: HeadLayout,
                              batch: Int, heads: Int, lq: Int, lk: Int, d: Int, causal: Bool,
                              probs: UnsafeMutablePointer<Float>) {
    let scale = 1 / Float(d).squareRoot()
    parallelFor(batch * heads, grain: 1) { r in
        for pair in r {
            let b = pair / heads, h = pair % heads
            let p = probs + pair * lq * lk
            sgemmSerial(transB: true, m: lq, n: lk, k: d, alpha: scale, a: q.head(b, h, d), lda: q.rowStride,
                        b: k.head(b, h, d), ldb: k.rowStride, c: p, ldc: lk)
            // Causal: query i attends to keys 0...i + (its first position): the last lq positions
            // of the sequence, or the row the query layout names.
            ck_softmax_rows(p, p, lq, lk, causal ? q.firstRow?[b] ?? lk - lq : -1)
            sgemmSerial(m: lq, n: d, k: lk, a: p, lda: lk, b: v.head(b, h, d), ldb: v.rowStride,
                        c: o.head(b, h, d), ldc: o.rowStride)
        }
    }
}

/// Gradients of attentionForward given dO, written (added) into dq, dk, dv layouts.
private func attentionBackward(q: HeadLayout, k: HeadLayout, v: HeadLayout, dO: HeadLayout,
                               dq: HeadLayout, dk: HeadLayout, dv: HeadLayout,
                               batch: Int, heads: Int, lq: Int, lk: Int, d: Int,
                               probs: UnsafeMutablePointer<Float>) {
    let scale = 1 / Float(d).squareRoot()
    parallelFor(batch * heads, grain: 1) { r in
        let dp = UnsafeMutablePointer<Float>.allocate(capacity: lq * lk)
        defer { dp.deallocate() }
        for pair in r {
            let b = pair / heads, h = pair % heads
            let p = probs + pair * lq * lk
            // dV += P^T dO ; dP = dO V^T
            sgemmSerial(transA: true, m: lk, n: d, k: lq, a: p, lda: lk, b: dO.head(b, h, d), ldb: dO.rowStride,
                        beta: 1, c: dv.head(b, h, d), ldc: dv.rowStride)
            sgemmSerial(transB: true, m: lq, n: lk, k: d, a: dO.head(b, h, d), lda: dO.rowStride,
                        b: v.head(b, h, d), ldb: v.rowStride, c: dp, ldc: lk)
            // dS = P * (dP - rowsum(dP * P)) * scale
            ck_softmax_backward_rows(p, dp, lq, lk, scale)
            // dQ += dS K ; dK += dS^T Q
            sgemmSerial(m: lq, n: d, k: lk, a: dp, lda: lk, b: k.head(b, h, d), ldb: k.rowStride,
                        beta: 1, c: dq.head(b, h, d), ldc: dq.rowStride)
            sgemmSerial(transA: true, m: lk, n: d, k: lq, a: dp, lda: lk, b: q.head(b, h, d), ldb: q.rowStride,
                        beta: 1, c: dk.head(b, h, d), ldc: dk.rowStride)
        }
    }
}

extension Tensor {
    /// Multi-head self-attention core on packed projections.
    ///
    /// self: qkv [B, L, 3W] (q; k; v along the last axis, as `in_proj` produces) -> [B, L, W].
    /// Each head h uses columns h*W/heads ..< (h+1)*W/heads of q, k and v; scores are scaled by
    /// 1/sqrt(head dim); `causal` adds the -inf mask above the diagonal (CLIP's text tower).
    ///
    /// With `queryPositions` (one position p_b per sequence), only those queries are computed:
    /// -> [B, 1, W], row b attending to every key (or, causal, to keys 0...p_b). A tower whose
    /// output is one token (ViT's class token, the text tower's end of text) needs no more in
    /// its last block.
    public func selfAttention(heads: Int, causal: Bool, queryPositions: [Int]? = nil) -> Tensor {
        precondition(rank == 3 && shape[2] % 3 == 0, "selfAttention: qkv \(shape) is not [B, L, 3W]")
        let (batch, l, w3) = (shape[0], shape[1], shape[2]), w = w3 / 3
        precondition(w % heads == 0, "selfAttention: width \(w) not divisible by \(heads) heads")
        if let queryPositions {
            precondition(queryPositions.count == batch && queryPositions.allSatisfy { (0..<l).contains($0) },
                         "selfAttention: query positions \(queryPositions) for qkv \(shape)")
        }
        let d = w / heads, lq = queryPositions == nil ? l : 1
        let out = Tensor(uninitialized: [batch, lq, w])
        let probs = Tensor(uninitialized: [batch, heads, lq, l])
        let qkv = storage  // saved for backward, with the probabilities
        let lay = { (base: UnsafeMutablePointer<Float>, off: Int, rows: [Int]?) in
            HeadLayout(base: base + off, rowStride: w3, batchStride: l * w3, firstRow: rows)
        }
        let o = HeadLayout(base: out.data, rowStride: w, batchStride: lq * w)
        attentionForward(q: lay(qkv.pointer, 0, queryPositions), k: lay(qkv.pointer, w, nil), v: lay(qkv.pointer, 2 * w, nil),
                         o: o, batch: batch, heads: heads, lq: lq, lk: l, d: d, causal: causal, probs: probs.data)
        let inShape = shape
        record(out, [self]) { g in
            let dqkv = Tensor(zeros: inShape)
            attentionBackward(q: lay(qkv.pointer, 0, queryPositions), k: lay(qkv.pointer, w, nil),
                              v: lay(qkv.pointer, 2 * w, nil),
                              dO: HeadLayout(base: g.data, rowStride: w, batchStride: lq * w),
                              dq: lay(dqkv.data, 0, queryPositions), dk: lay(dqkv.data, w, nil), dv: lay(dqkv.data, 2 * w, nil),
                              batch: batch, heads: heads, lq: lq, lk: l, d: d, probs: probs.data)
            return [dqkv]
        }
        return out
    }

    /// Multi-head attention core with separate projections (no mask).
    /// q: [B, Lq, W], k and v: [B, Lk, W] -> [B, Lq, W].
    public static func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int) -> Tensor {
        precondition(q.rank == 3 && k.shape == v.shape && k.shape[0] == q.shape[0] && k.shape[2] == q.shape[2],
                     "attention: q \(q.shape), k \(k.shape), v \(v.shape)")
        let (batch, lq, w) = (q.shape[0], q.shape[1], q.shape[2]), lk = k.shape[1]
        precondition(w % heads == 0, "attention: width \(w) not divisible by \(heads) heads")
        let d = w / heads
        let out = Tensor(uninitialized: [batch, lq, w])
        let probs = Tensor(uninitialized: [batch, heads, lq, lk])
        let lay = { (t: Tensor) in HeadLayout(base: t.data, rowStride: w, batchStride: t.shape[1] * w) }
        attentionForward(q: lay(q), k: lay(k), v: lay(v), o: lay(out), batch: batch, heads: heads,
                         lq: lq, lk: lk, d: d, causal: false, probs: probs.data)
        // Saved for backward: q, k and v (their values, not their graphs) and the probabilities.
        let qs = q.detached(), ks = k.detached(), vs = v.detached()
        record(out, [q, k, v]) { g in
            let dq = Tensor(zeros: qs.shape), dk = Tensor(zeros: ks.shape), dv = Tensor(zeros: vs.shape)
            attentionBackward(q: lay(qs), k: lay(ks), v: lay(vs), dO: lay(g), dq: lay(dq), dk: lay(dk), dv: lay(dv),
                              batch: batch, heads: heads, lq: lq, lk: lk, d: d, probs: probs.data)
            return [dq, dk, dv]
        }
        return out
    }
}
