import CKernels
import Foundation

/// The sequences of an attention call, each with its own length: sequence b's keys are rows
/// keyStart[b] ..< keyStart[b] + keys[b] of the k and v matrices, its queries rows
/// queryStart[b] ..< queryStart[b] + queries[b] of q, at positions firstQuery[b] ... of the
/// sequence (which a causal mask compares with the keys' positions), and its outputs rows
/// outputStart[b] ... of o.
struct AttentionLayout {
    var keyStart: [Int], keys: [Int]
    var queryStart: [Int], queries: [Int], firstQuery: [Int]
    var outputStart: [Int]

    var count: Int { keys.count }

    /// Where sequence b's probabilities start in a [sum of heads * queries * keys] buffer.
    func probabilityOffsets(heads: Int) -> (offsets: [Int], total: Int) {
        var offsets: [Int] = [], total = 0
        for b in 0..<count {
            offsets.append(total)
            total += heads * queries[b] * keys[b]
        }
        return (offsets, total)
    }
}

/// One of q, k, v, o: a base pointer and a row stride; head h of row r is at
/// base + r * rowStride + h * d.
struct HeadMatrix {
    var base: UnsafeMutablePointer<Float>
    var rowStride: Int
    func head(_ row: Int, _ h: Int, _ d: Int) -> UnsafeMutablePointer<Float> { base + row * rowStride + h * d }
}

/// softmax(q k^T * scale + mask) v for every (sequence, head), the pairs spread over the pool;
/// the probabilities are left in `probs` (see AttentionLayout.probabilityOffsets) for backward.
private func attentionForward(q: HeadMatrix, k: HeadMatrix, v: HeadMatrix, o: HeadMatrix, layout: AttentionLayout,
                              heads: Int, d: Int, causal: Bool, probs: UnsafeMutablePointer<Float>, offsets: [Int]) {
    let scale = 1 / Float(d).squareRoot()
    parallelFor(layout.count * heads, grain: 1) { r in
        for pair in r {
            let b = pair / heads, h = pair % heads
            let lq = layout.queries[b], lk = layout.keys[b], qs = layout.queryStart[b], ks = layout.keyStart[b]
            let p = probs + offsets[b] + h * lq * lk
            sgemmSerial(transB: true, m: lq, n: lk, k: d, alpha: scale, a: q.head(qs, h, d), lda: q.rowStride,
                        b: k.head(ks, h, d), ldb: k.rowStride, c: p, ldc: lk)
            // Causal: the query at position t attends to keys 0...t.
            ck_softmax_rows(p, p, lq, lk, causal ? layout.firstQuery[b] : -1)
            sgemmSerial(m: lq, n: d, k: lk, a: p, lda: lk, b: v.head(ks, h, d), ldb: v.rowStride,
                        c: o.head(layout.outputStart[b], h, d), ldc: o.rowStride)
        }
    }
}

/// Gradients of attentionForward given dO, added into dq, dk and dv.
private func attentionBackward(q: HeadMatrix, k: HeadMatrix, v: HeadMatrix, dO: HeadMatrix,
                               dq: HeadMatrix, dk: HeadMatrix, dv: HeadMatrix, layout: AttentionLayout,
                               heads: Int, d: Int, probs: UnsafeMutablePointer<Float>, offsets: [Int]) {
    let scale = 1 / Float(d).squareRoot()
    let largest = (0..<layout.count).map { layout.queries[$0] * layout.keys[$0] }.max() ?? 0
    parallelFor(layout.count * heads, grain: 1) { r in
        let dp = UnsafeMutablePointer<Float>.allocate(capacity: max(1, largest))
        defer { dp.deallocate() }
        for pair in r {
            let b = pair / heads, h = pair % heads
            let lq = layout.queries[b], lk = layout.keys[b], qs = layout.queryStart[b], ks = layout.keyStart[b]
            let os = layout.outputStart[b]
            let p = probs + offsets[b] + h * lq * lk
            // dV += P^T dO ; dP = dO V^T
            sgemmSerial(transA: true, m: lk, n: d, k: lq, a: p, lda: lk, b: dO.head(os, h, d), ldb: dO.rowStride,
                        beta: 1, c: dv.head(ks, h, d), ldc: dv.rowStride)
            sgemmSerial(transB: true, m: lq, n: lk, k: d, a: dO.head(os, h, d), lda: dO.rowStride,
                        b: v.head(ks, h, d), ldb: v.rowStride, c: dp, ldc: lk)
            // dS = P * (dP - rowsum(dP * P)) * scale
            ck_softmax_backward_rows(p, dp, lq, lk, scale)
            // dQ += dS K ; dK += dS^T Q
            sgemmSerial(m: lq, n: d, k: lk, a: dp, lda: lk, b: k.head(ks, h, d), ldb: k.rowStride,
                        beta: 1, c: dq.head(qs, h, d), ldc: dq.rowStride)
            sgemmSerial(transA: true, m: lk, n: d, k: lq, a: dp, lda: lk, b: q.head(qs, h, d), ldb: q.rowStride,
                        beta: 1, c: dk.head(ks, h, d), ldc: dk.rowStride)
        }
    }
}

extension Tensor {
    /// Multi-head self-attention core on packed projections of sequences of any lengths.
    ///
    /// self: qkv [T, 3W] (q; k; v along the last axis, as `in_proj` produces), the sequences'
    /// rows one after another, `lengths` of them (summing to T) -> [T, W]. Each head h uses
    /// columns h*W/heads ..< (h+1)*W/heads of q, k and v; scores are scaled by 1/sqrt(head dim);
    /// `causal` masks keys after each query (CLIP's text tower).
    ///
    /// With `queryPositions` (one position per sequence), only those queries are computed:
    /// -> [sequences, W], row b attending to every key of sequence b (or, causal, to keys
    /// 0...position). A tower whose output is one token (ViT's class token, the text tower's end
    /// of text) needs no more in its last block.
    package func selfAttention(heads: Int, causal: Bool, lengths: [Int], queryPositions: [Int]? = nil) -> Tensor {
        precondition(rank == 2 && shape[1] % 3 == 0, "selfAttention: qkv \(shape) is not [T, 3W]")
        precondition(lengths.allSatisfy { $0 > 0 } && lengths.reduce(0, +) == shape[0],
                     "selfAttention: sequence lengths \(lengths) for \(shape[0]) rows")
        let w3 = shape[1], w = w3 / 3
        precondition(w % heads == 0, "selfAttention: width \(w) not divisible by \(heads) heads")
        if let queryPositions {
            precondition(queryPositions.count == lengths.count && zip(queryPositions, lengths).allSatisfy { (0..<$1).contains($0) },
                         "selfAttention: query positions \(queryPositions) for sequence lengths \(lengths)")
        }
        var starts: [Int] = [], total = 0
        for l in lengths { starts.append(total); total += l }
        let layout = AttentionLayout(
            keyStart: starts, keys: lengths,
            queryStart: queryPositions.map { zip(starts, $0).map { $0 + $1 } } ?? starts,
            queries: queryPositions.map { $0.map { _ in 1 } } ?? lengths,
            firstQuery: queryPositions ?? lengths.map { _ in 0 },
            outputStart: queryPositions == nil ? starts : Array(0..<lengths.count))
        let d = w / heads
        let out = Tensor(uninitialized: [queryPositions == nil ? total : lengths.count, w])
        let (offsets, probCount) = layout.probabilityOffsets(heads: heads)
        let probs = Tensor(uninitialized: [probCount])
        let qkv = storage  // saved for backward, with the probabilities
        let m = { (base: UnsafeMutablePointer<Float>, off: Int) in HeadMatrix(base: base + off, rowStride: w3) }
        attentionForward(q: m(qkv.pointer, 0), k: m(qkv.pointer, w), v: m(qkv.pointer, 2 * w),
                         o: HeadMatrix(base: out.data, rowStride: w), layout: layout,
                         heads: heads, d: d, causal: causal, probs: probs.data, offsets: offsets)
        let inShape = shape
        record(out, [self]) { g in
            let dqkv = Tensor(zeros: inShape)
            attentionBackward(q: m(qkv.pointer, 0), k: m(qkv.pointer, w), v: m(qkv.pointer, 2 * w),
                              dO: HeadMatrix(base: g.data, rowStride: w),
                              dq: m(dqkv.data, 0), dk: m(dqkv.data, w), dv: m(dqkv.data, 2 * w),
                              layout: layout, heads: heads, d: d, probs: probs.data, offsets: offsets)
            return [dqkv]
        }
        return out
    }

    /// Multi-head attention core with separate projections (no mask), every sequence alike.
    /// q: [B, Lq, W], k and v: [B, Lk, W] -> [B, Lq, W].
    package static func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int) -> Tensor {
        precondition(q.rank == 3 && k.shape == v.shape && k.shape[0] == q.shape[0] && k.shape[2] == q.shape[2],
                     "attention: q \(q.shape), k \(k.shape), v \(v.shape)")
        let (batch, lq, w) = (q.shape[0], q.shape[1], q.shape[2]), lk = k.shape[1]
        precondition(w % heads == 0, "attention: width \(w) not divisible by \(heads) heads")
        let d = w / heads
        let layout = AttentionLayout(keyStart: (0..<batch).map { $0 * lk }, keys: Array(repeating: lk, count: batch),
                                     queryStart: (0..<batch).map { $0 * lq }, queries: Array(repeating: lq, count: batch),
                                     firstQuery: Array(repeating: 0, count: batch), outputStart: (0..<batch).map { $0 * lq })
        let out = Tensor(uninitialized: [batch, lq, w])
        let (offsets, probCount) = layout.probabilityOffsets(heads: heads)
        let probs = Tensor(uninitialized: [probCount])
        let m = { (t: Tensor) in HeadMatrix(base: t.data, rowStride: w) }
        attentionForward(q: m(q), k: m(k), v: m(v), o: m(out), layout: layout, heads: heads, d: d,
                         causal: false, probs: probs.data, offsets: offsets)
        // Saved for backward: q, k and v (their values, not their graphs) and the probabilities.
        let qs = q.detached(), ks = k.detached(), vs = v.detached()
        record(out, [q, k, v]) { g in
            let dq = Tensor(zeros: qs.shape), dk = Tensor(zeros: ks.shape), dv = Tensor(zeros: vs.shape)
            attentionBackward(q: m(qs), k: m(ks), v: m(vs), dO: m(g), dq: m(dq), dk: m(dk), dv: m(dv),
                              layout: layout, heads: heads, d: d, probs: probs.data, offsets: offsets)
            return [dq, dk, dv]
        }
        return out
    }
}
