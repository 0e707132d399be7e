import Foundation

extension Tensor {
    /// Rows of an embedding table: table [V, W], ids in 0..<V -> [ids.count, W].
    /// Ids must have been validated by the caller (an out-of-range id is a programming error).
    package static func gatherRows(_ table: Tensor, _ ids: [Int]) -> Tensor {
        let w = table.lastDim
        let out = Tensor(uninitialized: [ids.count, w])
        for (i, id) in ids.enumerated() {
            precondition(id >= 0 && id < table.shape[0], "gatherRows: id \(id) outside 0..<\(table.shape[0])")
            (out.data + i * w).update(from: table.data + id * w, count: w)
        }
        let tableShape = table.shape
        record(out, [table]) { g in
            let dt = Tensor(zeros: tableShape)
            for (i, id) in ids.enumerated() {
                for j in 0..<w { dt.data[id * w + j] += g.data[i * w + j] }
            }
            return [dt]
        }
        return out
    }

    /// Selects rows of the flattened [rows, lastDim] view: -> [indices.count, lastDim].
    package func selectRows(_ indices: [Int]) -> Tensor {
        let w = lastDim
        let out = Tensor(uninitialized: [indices.count, w])
        for (i, r) in indices.enumerated() {
            precondition(r >= 0 && r < rows, "selectRows: row \(r) outside 0..<\(rows)")
            (out.data + i * w).update(from: data + r * w, count: w)
        }
        let inShape = shape
        recordUnary(out, self) { g in
            let dx = Tensor(zeros: inShape)
            for (i, r) in indices.enumerated() {
                for j in 0..<w { dx.data[r * w + j] += g.data[i * w + j] }
            }
            return dx
        }
        return out
    }

    /// Swaps the last two dimensions: [..., a, b] -> [..., b, a].
    package func transposedLastTwo() -> Tensor {
        precondition(rank >= 2, "transposedLastTwo: rank \(rank)")
        let a = shape[rank - 2], b = shape[rank - 1], batch = count / max(a * b, 1)
        var s = shape
        s.swapAt(rank - 2, rank - 1)
        let out = Tensor(uninitialized: s)
        transposeBlocks(data, out.data, batch: batch, a: a, b: b)
        recordUnary(out, self) { g in g.transposedLastTwo() }
        return out
    }

    /// Puts a row before the tokens of every batch item: [B, L, W] -> [B, L + 1, W].
    /// `row` is either one row [W] shared by all items (a class embedding) or one row per
    /// item [B, W] (a pooled token).
    package func prependingRow(_ row: Tensor) -> Tensor {
        precondition(rank == 3, "prependingRow: \(shape) is not [B, L, W]")
        let (b, l, w) = (shape[0], shape[1], shape[2])
        let shared = row.count == w
        precondition(shared || row.count == b * w, "prependingRow: \(row.shape) before \(shape)")
        let out = Tensor(uninitialized: [b, l + 1, w])
        for i in 0..<b {
            (out.data + i * (l + 1) * w).update(from: row.data + (shared ? 0 : i * w), count: w)
            (out.data + i * (l + 1) * w + w).update(from: data + i * l * w, count: l * w)
        }
        let inShape = shape, rowShape = row.shape
        record(out, [self, row]) { g in
            let dx = Tensor(zeros: inShape), dr = Tensor(zeros: rowShape)
            for i in 0..<b {
                (dx.data + i * l * w).update(from: g.data + i * (l + 1) * w + w, count: l * w)
                let r = dr.data + (shared ? 0 : i * w)
                for j in 0..<w { r[j] += g.data[i * (l + 1) * w + j] }
            }
            return [dx, dr]
        }
        return out
    }

    /// Adds `table` [L, W] to every batch item of [B, L, W] (positional embeddings).
    package func addingPerItem(_ table: Tensor) -> Tensor {
        precondition(rank == 3 && table.count == shape[1] * shape[2], "addingPerItem: \(table.shape) to \(shape)")
        let per = shape[1] * shape[2]
        let out = Tensor(uninitialized: shape)
        let x = data, t = table.data, o = out.data
        parallelFor(count) { r in for i in r { o[i] = x[i] + t[i % per] } }
        let tableShape = table.shape, n = count
        record(out, [self, table]) { g in
            let dt = Tensor(zeros: tableShape)
            for i in 0..<n { dt.data[i % per] += g.data[i] }
            return [g, dt]
        }
        return out
    }

    /// The first `n` rows of a [n0, ...] tensor (a contiguous prefix, copied).
    package func prefix(rows n: Int) -> Tensor {
        precondition(rank >= 1 && n <= shape[0], "prefix: \(n) rows of \(shape)")
        var s = shape
        s[0] = n
        let out = Tensor(uninitialized: s)
        out.data.update(from: data, count: out.count)
        let inShape = shape
        recordUnary(out, self) { g in
            let dx = Tensor(zeros: inShape)
            dx.data.update(from: g.data, count: g.count)
            return dx
        }
        return out
    }
}

/// out[n][j][i] = in[n][i][j] for `batch` a x b blocks, tiled for cache friendliness.
func transposeBlocks(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, batch: Int, a: Int, b: Int) {
    let tile = 32
    parallelFor(batch, grain: 1) { r in
        for n in r {
            let s = src + n * a * b, d = dst + n * a * b
            var i0 = 0
            while i0 < a {
                var j0 = 0
                while j0 < b {
                    for i in i0..<min(i0 + tile, a) {
                        for j in j0..<min(j0 + tile, b) { d[j * a + i] = s[i * b + j] }
                    }
                    j0 += tile
                }
                i0 += tile
            }
        }
    }
}

extension Tensor {
    /// Cuts images into non-overlapping p x p patches: [B, C, H, W] -> [B, (H/p)(W/p), C*p*p],
    /// each patch flattened in (channel, row, column) order — the order of a conv weight
    /// [O, C, p, p], so `patchify(p).linear(weight.reshaped([O, C*p*p]))` equals a conv with
    /// kernel = stride = p.
    package func patchify(_ p: Int) -> Tensor {
        precondition(rank == 4 && shape[2] % p == 0 && shape[3] % p == 0,
                     "patchify: \(shape) is not [B, C, H, W] with H, W multiples of \(p)")
        let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let gh = h / p, gw = w / p, patch = c * p * p
        let out = Tensor(uninitialized: [b, gh * gw, patch])
        let src = data, dst = out.data
        let copy = { (forward: Bool, s: UnsafeMutablePointer<Float>, d: UnsafeMutablePointer<Float>) in
            parallelFor(b * gh, grain: 1) { r in
                for bi in r {
                    let n = bi / gh, gy = bi % gh
                    for gx in 0..<gw {
                        let row = d + ((n * gh + gy) * gw + gx) * patch
                        for ch in 0..<c {
                            for y in 0..<p {
                                let img = s + ((n * c + ch) * h + gy * p + y) * w + gx * p
                                let o = row + (ch * p + y) * p
                                if forward { o.update(from: img, count: p) } else { img.update(from: o, count: p) }
                            }
                        }
                    }
                }
            }
        }
        copy(true, src, dst)
        let inShape = shape
        recordUnary(out, self) { g in
            let dx = Tensor(zeros: inShape)
            copy(false, dx.data, g.data)
            return dx
        }
        return out
    }
}
