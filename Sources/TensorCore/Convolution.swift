import Foundation

extension Tensor {
    /// 2-D convolution, `torch.nn.functional.conv2d` without groups or dilation.
    ///
    /// self: [N, C, H, W], weight: [O, C, kh, kw], bias: [O]? -> [N, O, Ho, Wo] with
    /// Ho = (H + 2 padding - kh) / stride + 1. Implemented as im2col + GEMM per image.
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
        precondition(rank == 4 && weight.rank == 4 && weight.shape[1] == shape[1],
                     "conv2d: input \(shape) vs weight \(weight.shape)")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (o, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let ho = (h + 2 * padding - kh) / stride + 1, wo = (w + 2 * padding - kw) / stride + 1
        precondition(ho > 0 && wo > 0, "conv2d: kernel \(kh)x\(kw) larger than padded input \(h)x\(w)")
        let out = Tensor(uninitialized: [n, o, ho, wo])
        let direct = kh == 1 && kw == 1 && stride == 1 && padding == 0
        let colRows = c * kh * kw, colCols = ho * wo
        let batched = colCols < 1024 && n > 1
        if batched {
            // Small feature maps: one GEMM over all images ([O, K] x [K, N*HW]) is far more
            // efficient than N thin ones; then scatter [O, N, HW] back to [N, O, HW].
            let col = Tensor(uninitialized: [colRows, n * colCols])
            let single = Tensor(uninitialized: [colRows, colCols])
            for img in 0..<n {
                let src = data + img * c * h * w
                if direct {
                    for ch in 0..<c { (col.data + ch * n * colCols + img * colCols).update(from: src + ch * colCols, count: colCols) }
                } else {
                    im2col(src, single.data, c: c, h: h, w: w, kh: kh, kw: kw, stride: stride, padding: padding, ho: ho, wo: wo)
                    for r in 0..<colRows { (col.data + r * n * colCols + img * colCols).update(from: single.data + r * colCols, count: colCols) }
                }
            }
            let tmp = Tensor(uninitialized: [o, n * colCols])
            sgemm(m: o, n: n * colCols, k: colRows, a: weight.data, lda: colRows, b: col.data, ldb: n * colCols,
                  c: tmp.data, ldc: n * colCols)
            let dst = out.data, t = tmp.data, bias = bias?.data
            parallelFor(n * o, grain: 64) { r in
                for p in r {
                    let img = p / o, oc = p % o
                    let from = t + oc * n * colCols + img * colCols, to = dst + p * colCols
                    if let bias { for i in 0..<colCols { to[i] = from[i] + bias[oc] } } else { to.update(from: from, count: colCols) }
                }
            }
        } else {
            let col = direct ? nil : Tensor(uninitialized: [colRows, colCols])
            for img in 0..<n {
                let src = data + img * c * h * w
                let dst = out.data + img * o * colCols
                var b: UnsafePointer<Float> = UnsafePointer(src)
                if let col {
                    im2col(src, col.data, c: c, h: h, w: w, kh: kh, kw: kw, stride: stride, padding: padding, ho: ho, wo: wo)
                    b = UnsafePointer(col.data)
                }
                if let bias {
                    for oc in 0..<o { (dst + oc * colCols).update(repeating: bias.data[oc], count: colCols) }
                }
                sgemm(m: o, n: colCols, k: colRows, a: weight.data, lda: colRows, b: b, ldb: colCols,
                      beta: bias == nil ? 0 : 1, c: dst, ldc: colCols)
            }
        }
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        // dW reads the input and dx reads the weight: each is kept only when the other needs a
        // gradient (a frozen tower keeps no activations; the first layer skips dx).
        let needX = tracksGrad, needW = weight.tracksGrad
        let xSaved = needW ? storage : nil, wSaved = needX ? weight.storage : nil
        let inShape = shape, weightShape = weight.shape, biasShape = bias?.shape
        record(out, inputs) { g in
            // Per image, with col = im2col(x) [C*kh*kw, Ho*Wo] and G = g[img] [O, Ho*Wo]:
            // dW += G col^T, dcol = W^T G, dx = col2im(dcol) (overlapping windows add up),
            // db = sum of G over images and positions. The columns are recomputed rather than
            // kept from the forward pass, which would cost C*kh*kw*Ho*Wo floats per image.
            let dx = needX ? Tensor(zeros: inShape) : nil
            let dw = needW ? Tensor(zeros: weightShape) : nil
            var grads: [Tensor?] = [dx, dw]
            if let biasShape {
                let db = Tensor(zeros: biasShape)
                parallelFor(o, grain: 8) { r in
                    for oc in r {
                        var s: Float = 0
                        for img in 0..<n { let p = g.data + (img * o + oc) * colCols; for i in 0..<colCols { s += p[i] } }
                        db.data[oc] = s
                    }
                }
                grads.append(db)
            }
            if batched {
                // Small feature maps, as in the forward pass: all images in one GEMM each, with
                // G gathered to [O, N*HW] and the columns to [K, N*HW].
                let nc = n * colCols
                let gAll = Tensor(uninitialized: [o, nc])
                let gd = g.data, ga = gAll.data
                parallelFor(n * o, grain: 64) { r in
                    for p in r {
                        let img = p / o, oc = p % o
                        (ga + oc * nc + img * colCols).update(from: gd + p * colCols, count: colCols)
                    }
                }
                let single = Tensor(uninitialized: [colRows, colCols])
                if let dw, let xSaved {
                    let col = Tensor(uninitialized: [colRows, nc])
                    for img in 0..<n {
                        let src = xSaved.pointer + img * c * h * w
                        if direct {
                            for ch in 0..<c { (col.data + ch * nc + img * colCols).update(from: src + ch * colCols, count: colCols) }
                        } else {
                            im2col(src, single.data, c: c, h: h, w: w, kh: kh, kw: kw, stride: stride, padding: padding, ho: ho, wo: wo)
                            for r in 0..<colRows { (col.data + r * nc + img * colCols).update(from: single.data + r * colCols, count: colCols) }
                        }
                    }
                    sgemm(transB: true, m: o, n: colRows, k: nc, a: ga, lda: nc, b: col.data, ldb: nc, c: dw.data, ldc: colRows)
                }
                if let dx, let wSaved {
                    let dcol = Tensor(uninitialized: [colRows, nc])
                    sgemm(transA: true, m: colRows, n: nc, k: o, a: wSaved.pointer, lda: colRows, b: ga, ldb: nc, c: dcol.data, ldc: nc)
                    for img in 0..<n {
                        let dImg = dx.data + img * c * h * w
                        if direct {
                            for ch in 0..<c { (dImg + ch * colCols).update(from: dcol.data + ch * nc + img * colCols, count: colCols) }
                        } else {
                            for r in 0..<colRows { (single.data + r * colCols).update(from: dcol.data + r * nc + img * colCols, count: colCols) }
                            col2im(single.data, dImg, c: c, h: h, w: w, kh: kh, kw: kw, stride: stride, padding: padding, ho: ho, wo: wo)
                        }
                    }
                }
                return grads
            }
            let col = direct ? nil : Tensor(zeros: [colRows, colCols])
            let dcol = direct || !needX ? nil : Tensor(zeros: [colRows, colCols])
            for img in 0..<n {
                let gImg = UnsafePointer(g.data + img * o * colCols)
                if let dw, let xSaved {
                    let src = xSaved.pointer + img * c * h * w
                    var b: UnsafePointer<Float> = UnsafePointer(src)
                    if let col {
                        im2col(src, col.data, c: c, h: h, w: w, kh: kh, kw: kw, stride: stride, padding: padding, ho: ho, wo: wo)
                        b = UnsafePointer(col.data)
                    }
                    sgemm(transB: true, m: o, n: colRows, k: colCols, a: gImg, lda: colCols, b: b, ldb: colCols,
                          beta: 1, c: dw.data, ldc: colRows)
                }
                if let dx, let wSaved {
                    let dImg = dx.data + img * c * h * w
                    if let dcol {
                        sgemm(transA: true, m: colRows, n: colCols, k: o, a: wSaved.pointer, lda: colRows, b: gImg, ldb: colCols,
                              c: dcol.data, ldc: colCols)
                        col2im(dcol.data, dImg, c: c, h: h, w: w, kh: kh, kw: kw, stride: stride, padding: padding, ho: ho, wo: wo)
                    } else {
                        sgemm(transA: true, m: colRows, n: colCols, k: o, a: wSaved.pointer, lda: colRows, b: gImg, ldb: colCols,
                              c: dImg, ldc: colCols)
                    }
                }
            }
            return grads
        }
        return out
    }

    /// Average pooling with a square window equal to its stride and no padding
    /// (`nn.AvgPool2d(k)`), as ModifiedResNet uses. [N, C, H, W] -> [N, C, H/k, W/k].
    public func avgPool2d(_ k: Int) -> Tensor {
        precondition(rank == 4, "avgPool2d: input \(shape) is not [N, C, H, W]")
        if k == 1 { return self }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let ho = h / k, wo = w / k
        let out = Tensor(uninitialized: [n, c, ho, wo])
        let x = data, o = out.data, inv = 1 / Float(k * k)
        parallelFor(n * c, grain: 8) { r in
            for plane in r {
                let src = x + plane * h * w, dst = o + plane * ho * wo
                for i in 0..<ho {
                    for j in 0..<wo {
                        var s: Float = 0
                        for di in 0..<k { for dj in 0..<k { s += src[(i * k + di) * w + j * k + dj] } }
                        dst[i * wo + j] = s * inv
                    }
                }
            }
        }
        let inShape = shape
        recordUnary(out, self) { g in
            // Each input in a window gets 1/k² of that window's gradient; rows/columns beyond
            // the last whole window (when H or W is not a multiple of k) get none.
            let dx = Tensor(zeros: inShape)
            let gd = g.data, d = dx.data
            parallelFor(n * c, grain: 8) { r in
                for plane in r {
                    let gsrc = gd + plane * ho * wo, dst = d + plane * h * w
                    for i in 0..<ho {
                        for di in 0..<k {
                            let drow = dst + (i * k + di) * w
                            for j in 0..<wo {
                                let v = gsrc[i * wo + j] * inv
                                for dj in 0..<k { drow[j * k + dj] = v }
                            }
                        }
                    }
                }
            }
            return dx
        }
        return out
    }

    /// BatchNorm2d in inference mode: per channel (x - mean) / sqrt(var + eps) * weight + bias.
    public func batchNorm2dInference(weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor,
                                     eps: Float = 1e-5) -> Tensor {
        precondition(rank == 4 && weight.count == shape[1], "batchNorm2d: input \(shape) vs \(weight.count) channels")
        let (n, c) = (shape[0], shape[1]), plane = shape[2] * shape[3]
        let out = Tensor(uninitialized: shape)
        let x = data, o = out.data
        parallelFor(n * c, grain: 4) { r in
            for p in r {
                let ch = p % c
                let scale = weight.data[ch] / (runningVar.data[ch] + eps).squareRoot()
                let shift = bias.data[ch] - runningMean.data[ch] * scale
                let src = x + p * plane, dst = o + p * plane
                for i in 0..<plane { dst[i] = src[i] * scale + shift }
            }
        }
        return out
    }
}

/// Unfolds image patches into columns: col[(ch*kh + i)*kw + j, y*wo + x] = img[ch, y*s + i - p, x*s + j - p].
func im2col(_ img: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, c: Int, h: Int, w: Int,
            kh: Int, kw: Int, stride: Int, padding: Int, ho: Int, wo: Int) {
    // Threads only for enough work: small feature maps copy faster than a dispatch costs.
    parallelFor(c * kh * kw, grain: max(4, 16_384 / max(1, ho * wo))) { r in
        for row in r {
            let ch = row / (kh * kw), i = (row / kw) % kh, j = row % kw
            let src = img + ch * h * w, dst = col + row * ho * wo
            for y in 0..<ho {
                let sy = y * stride + i - padding
                let drow = dst + y * wo
                if sy < 0 || sy >= h { drow.update(repeating: 0, count: wo); continue }
                let srow = src + sy * w
                if stride == 1 {
                    for x in 0..<wo {
                        let sx = x + j - padding
                        drow[x] = (sx >= 0 && sx < w) ? srow[sx] : 0
                    }
                } else {
                    for x in 0..<wo {
                        let sx = x * stride + j - padding
                        drow[x] = (sx >= 0 && sx < w) ? srow[sx] : 0
                    }
                }
            }
        }
    }
}

/// The adjoint of im2col: adds every column entry back into the image position it was read
/// from (positions read by several windows accumulate; padding entries are dropped).
func col2im(_ col: UnsafePointer<Float>, _ img: UnsafeMutablePointer<Float>, c: Int, h: Int, w: Int,
            kh: Int, kw: Int, stride: Int, padding: Int, ho: Int, wo: Int) {
    // One channel per task: a channel's kh*kw column rows only touch that channel's plane.
    parallelFor(c, grain: max(1, 16_384 / max(1, kh * kw * ho * wo))) { r in
        for ch in r {
            let dst = img + ch * h * w
            for i in 0..<kh {
                for j in 0..<kw {
                    let src = col + ((ch * kh + i) * kw + j) * ho * wo
                    for y in 0..<ho {
                        let sy = y * stride + i - padding
                        if sy < 0 || sy >= h { continue }
                        let drow = dst + sy * w, srow = src + y * wo
                        for x in 0..<wo {
                            let sx = x * stride + j - padding
                            if sx >= 0 && sx < w { drow[sx] += srow[x] }
                        }
                    }
                }
            }
        }
    }
}
