import Foundation
import TensorCore

/// A scoring input that cannot be used: too few points for `k`, a non-finite embedding,
/// labels that do not match the scores.
public struct ScoringError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The `k` nearest other points of every point of a set, by Euclidean distance.
///
/// Row i holds the distances (ascending) and indices of i's `k` nearest neighbours among the
/// other points; the point itself is never its own neighbour (it is excluded by index, so an
/// exact duplicate of i does appear, at distance 0).
public struct NeighborTable: Sendable {
    /// Points in the set.
    public let count: Int
    /// Neighbours kept per point.
    public let k: Int
    /// [count, k] row-major, ascending along each row.
    public let distances: [Float]
    /// [count, k] row-major: the neighbour's row in the embedding matrix.
    public let indices: [Int32]

    /// Distance from point `i` to its `m`-th nearest other point (m = 0 is the nearest).
    @inline(__always) public func distance(_ i: Int, _ m: Int) -> Float { distances[i * k + m] }
    /// Index of point `i`'s `m`-th nearest other point.
    @inline(__always) public func index(_ i: Int, _ m: Int) -> Int { Int(indices[i * k + m]) }
}

public enum NearestNeighbors {
    /// Exact k-nearest-neighbour search over the rows of `embeddings` [N, D] (Euclidean).
    ///
    /// Distances come from blocks of the Gram matrix, ||q||² + ||r||² - 2 q·r, computed with
    /// OpenBLAS sgemm over tiles of `queryBlock` x `referenceBlock` rows; each query row keeps only
    /// its best `k` candidates in a bounded max-heap, so memory is O(N k + tile), never N x N.
    /// The kept neighbours' distances are then recomputed directly in Double (the Gram form loses
    /// precision for close points) and re-sorted, so distances are accurate to float rounding.
    ///
    /// Cost: N² D multiply-adds for the Gram tiles. Throws when N <= k or an entry is not finite.
    /// ```
    /// let table = try NearestNeighbors.search(embeddings, k: 17)
    /// let nearest = table.index(0, 0)
    /// ```
    public static func search(_ embeddings: Tensor, k: Int,
                              queryBlock: Int = 1024, referenceBlock: Int = 4096) throws -> NeighborTable {
        guard embeddings.rank == 2 else { throw ScoringError("embeddings must be a matrix [N, D]; got shape \(embeddings.shape)") }
        let n = embeddings.shape[0], d = embeddings.shape[1]
        guard k >= 1 else { throw ScoringError("k must be at least 1; got \(k)") }
        guard n > k else { throw ScoringError("\(n) points cannot have \(k) neighbours each (need more than k points)") }
        let x = embeddings.data
        if let bad = (0..<(n * d)).first(where: { !x[$0].isFinite }) {
            throw ScoringError("embedding row \(bad / d), column \(bad % d) is not finite (\(x[bad]))")
        }
        var norms = [Float](repeating: 0, count: n)
        for i in 0..<n {
            var s: Float = 0
            for j in 0..<d { s += x[i * d + j] * x[i * d + j] }
            norms[i] = s
        }
        // Heaps: per query row, k (squared distance, index) pairs as a max-heap on distance.
        var heapD = [Float](repeating: .infinity, count: n * k)
        var heapI = [Int32](repeating: -1, count: n * k)
        let qb = max(1, queryBlock), rb = max(1, referenceBlock)
        let owner = embeddings.storage

        func view(_ start: Int, _ rows: Int) -> Tensor {
            Tensor(shape: [rows, d], storage: TensorStorage(borrowing: x + start * d, count: rows * d, owner: owner))
        }

        norms.withUnsafeBufferPointer { normsBuf in
            heapD.withUnsafeMutableBufferPointer { hd in
                heapI.withUnsafeMutableBufferPointer { hi in
                    let hdp = hd.baseAddress!, hip = hi.baseAddress!, np = normsBuf.baseAddress!
                    var q0 = 0
                    while q0 < n {
                        let qn = min(qb, n - q0)
                        let q = view(q0, qn)
                        var r0 = 0
                        while r0 < n {
                            let rn = min(rb, n - r0)
                            let gram = q.matmul(view(r0, rn), transposeOther: true)  // [qn, rn]
                            let g = gram.data
                            let workers = max(1, min(Threads.count, qn / 64))
                            let chunk = (qn + workers - 1) / workers
                            DispatchQueue.concurrentPerform(iterations: workers) { w in
                                let lo = w * chunk, hi = min(qn, lo + chunk)
                                guard lo < hi else { return }
                                for a in lo..<hi {
                                    let i = q0 + a
                                    let rowD = hdp + i * k, rowI = hip + i * k
                                    let ni = np[i]
                                    let grow = g + a * rn
                                    var worst = rowD[0]
                                    for b in 0..<rn {
                                        let dist = ni + np[r0 + b] - 2 * grow[b]
                                        if dist < worst {
                                            let j = r0 + b
                                            if j == i { continue }
                                            heapReplaceTop(rowD, rowI, k, dist, Int32(j))
                                            worst = rowD[0]
                                        }
                                    }
                                }
                            }
                            r0 += rn
                        }
                        q0 += qn
                    }
                }
            }
        }

        // Exact distances for the kept neighbours, sorted ascending (ties by index).
        var outD = [Float](repeating: 0, count: n * k)
        var outI = [Int32](repeating: 0, count: n * k)
        outD.withUnsafeMutableBufferPointer { od in
            outI.withUnsafeMutableBufferPointer { oi in
                let odp = od.baseAddress!, oip = oi.baseAddress!
                let workers = max(1, min(Threads.count, n / 256))
                let chunk = (n + workers - 1) / workers
                heapI.withUnsafeBufferPointer { hiBuf in
                    let hip = hiBuf.baseAddress!
                    DispatchQueue.concurrentPerform(iterations: workers) { w in
                        let lo = w * chunk, hi = min(n, lo + chunk)
                        guard lo < hi else { return }
                        var pairs = [(Double, Int32)](repeating: (0, 0), count: k)
                        for i in lo..<hi {
                            for m in 0..<k {
                                let j = Int(hip[i * k + m])
                                var s = 0.0
                                for c in 0..<d {
                                    let diff = Double(x[i * d + c]) - Double(x[j * d + c])
                                    s += diff * diff
                                }
                                pairs[m] = (s.squareRoot(), Int32(j))
                            }
                            pairs.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
                            for m in 0..<k {
                                odp[i * k + m] = Float(pairs[m].0)
                                oip[i * k + m] = pairs[m].1
                            }
                        }
                    }
                }
            }
        }
        return NeighborTable(count: n, k: k, distances: outD, indices: outI)
    }

    /// Replaces the root of a max-heap of `k` entries with (value, index) and sifts it down.
    @inline(__always)
    private static func heapReplaceTop(_ d: UnsafeMutablePointer<Float>, _ idx: UnsafeMutablePointer<Int32>,
                                       _ k: Int, _ value: Float, _ index: Int32) {
        var pos = 0
        while true {
            let l = 2 * pos + 1
            if l >= k { break }
            let r = l + 1
            let c = (r < k && d[r] > d[l]) ? r : l
            if d[c] <= value { break }
            d[pos] = d[c]
            idx[pos] = idx[c]
            pos = c
        }
        d[pos] = value
        idx[pos] = index
    }
}
