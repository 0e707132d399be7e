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
package struct NeighborTable: Sendable {
    /// Points in the set.
    package let count: Int
    /// Neighbours kept per point.
    package let k: Int
    /// [count, k] row-major, ascending along each row.
    package let distances: [Float]
    /// [count, k] row-major: the neighbour's row in the embedding matrix.
    package let indices: [Int32]

    /// Distance from point `i` to its `m`-th nearest other point (m = 0 is the nearest).
    @inline(__always) public func distance(_ i: Int, _ m: Int) -> Float { distances[i * k + m] }
    /// Index of point `i`'s `m`-th nearest other point.
    @inline(__always) public func index(_ i: Int, _ m: Int) -> Int { Int(indices[i * k + m]) }
}

package enum NearestNeighbors {
    /// Exact k-nearest-neighbour search over the rows of `embeddings` [N, D] (Euclidean).
    ///
    /// Distances come from blocks of the Gram matrix, ||x_i||² + ||x_j||² - 2 x_i·x_j, computed
    /// with OpenBLAS sgemm over `block` x `block` tiles. The distance matrix is symmetric, so only
    /// tiles on or above the diagonal are computed; each tile updates the rows of both of its
    /// blocks (rows from the tile's rows, columns read 16 at a time for cache-friendly access).
    /// Each point keeps only its best `k` candidates in a bounded max-heap, so memory is
    /// O(N k + block²), never N x N. The kept neighbours' distances are then recomputed directly
    /// in Double (the Gram form loses precision for close points) and re-sorted, so distances
    /// are accurate to float rounding.
    ///
    /// Cost: N² D / 2 multiply-adds. Throws when N <= k or an entry is not finite.
    /// ```
    /// let table = try NearestNeighbors.search(embeddings, k: 17)
    /// let nearest = table.index(0, 0)
    /// ```
    package static func search(_ embeddings: Tensor, k: Int, block: Int = 2048) throws -> NeighborTable {
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
        // Heaps: per point, k (squared distance, index) pairs as a max-heap on distance.
        var heapD = [Float](repeating: .infinity, count: n * k)
        var heapI = [Int32](repeating: -1, count: n * k)
        let bs = max(16, block)
        let owner = embeddings.storage
        let group = 16

        func view(_ start: Int, _ rows: Int) -> Tensor {
            Tensor(shape: [rows, d], storage: TensorStorage(borrowing: x + start * d, count: rows * d, owner: owner))
        }

        norms.withUnsafeBufferPointer { normsBuf in
            heapD.withUnsafeMutableBufferPointer { hd in
                heapI.withUnsafeMutableBufferPointer { hi in
                    let hdp = hd.baseAddress!, hip = hi.baseAddress!, np = normsBuf.baseAddress!
                    var i0 = 0
                    while i0 < n {
                        let iN = min(bs, n - i0)
                        let xi = view(i0, iN)
                        var j0 = i0
                        while j0 < n {
                            let jN = min(bs, n - j0)
                            let gram = xi.matmul(view(j0, jN), transposeOther: true)  // [iN, jN]
                            let g = gram.data
                            let diagonal = i0 == j0
                            let rowTasks = max(1, min(Threads.count, iN / 64))
                            let groups = (jN + group - 1) / group
                            let colTasks = diagonal ? 0 : max(1, min(Threads.count, groups))
                            let rowChunk = (iN + rowTasks - 1) / rowTasks
                            let groupChunk = (groups + max(colTasks, 1) - 1) / max(colTasks, 1)
                            DispatchQueue.concurrentPerform(iterations: rowTasks + colTasks) { task in
                                if task < rowTasks {
                                    // Rows of block I: candidates from block J.
                                    let lo = task * rowChunk, hi = min(iN, lo + rowChunk)
                                    guard lo < hi else { return }
                                    for a in lo..<hi {
                                        let i = i0 + a
                                        let rowD = hdp + i * k, rowI = hip + i * k
                                        let ni = np[i]
                                        let grow = g + a * jN
                                        var worst = rowD[0]
                                        for b in 0..<jN {
                                            let dist = ni + np[j0 + b] - 2 * grow[b]
                                            if dist < worst {
                                                let j = j0 + b
                                                if j == i { continue }
                                                heapReplaceTop(rowD, rowI, k, dist, Int32(j))
                                                worst = rowD[0]
                                            }
                                        }
                                    }
                                } else {
                                    // Rows of block J (off-diagonal tiles): candidates from block I,
                                    // reading the tile 16 columns at a time.
                                    let t = task - rowTasks
                                    let lo = t * groupChunk, hi = min(groups, lo + groupChunk)
                                    guard lo < hi else { return }
                                    var worst = [Float](repeating: 0, count: group)
                                    for gi in lo..<hi {
                                        let c0 = gi * group, w = min(group, jN - c0)
                                        for c in 0..<w { worst[c] = hdp[(j0 + c0 + c) * k] }
                                        for a in 0..<iN {
                                            let ni = np[i0 + a]
                                            let grow = g + a * jN + c0
                                            for c in 0..<w {
                                                let j = j0 + c0 + c
                                                let dist = ni + np[j] - 2 * grow[c]
                                                if dist < worst[c] {
                                                    heapReplaceTop(hdp + j * k, hip + j * k, k, dist, Int32(i0 + a))
                                                    worst[c] = hdp[j * k]
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                            j0 += jN
                        }
                        i0 += iN
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
