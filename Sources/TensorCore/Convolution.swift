import CKernels
import Foundation

// Convolutional feature maps are channel-major: [C, N, H, W], each channel's values for the
// whole batch one contiguous row. A convolution is then one matrix product over the batch,
// Y [O, N*Ho*Wo] = W [O, C*kh*kw] x col [C*kh*kw, N*Ho*Wo]: a 1x1 convolution needs no im2col
// at all, no layer reorders its output, and BatchNorm reduces and scales contiguous rows.
// Measured on RN50's shapes, this orientation of the product runs at 167 GFLOP/s against 134
// for the image-major one ([N*Ho*Wo, C*kh*kw] x W^T), on 2 cores with OpenBLAS Cooperlake.

extension Tensor {
    /// Swaps the first two axes: [A, B, ...] -> [B, A, ...] (images to channel-major and back).
    package func swappingFirstTwoAxes() -> Tensor {
        precondition(rank >= 2, "swappingFirstTwoAxes: rank \(rank)")
        let (a, b) = (shape[0], shape[1]), inner = a * b == 0 ? 0 : count / (a * b)
        var s = shape
        s.swapAt(0, 1)
        let out = Tensor(uninitialized: s)
        let src = data, dst = out.data
        parallelFor(a * b, grain: max(1, 16_384 / max(inner, 1))) { r in
            for block in r {
                let i = block / b, j = block % b
                (dst + (j * a + i) * inner).update(from: src + block * inner, count: inner)
            }
        }
        recordUnary(out, self) { g in g.swappingFirstTwoAxes() }
        return out
    }

    /// 2-D convolution of a channel-major map: `torch.nn.functional.conv2d` without bias, groups
    /// or dilation, on images stored as [C, N, H, W].
    ///
    /// self: [C, N, H, W], weight: [O, C, kh, kw] -> [O, N, Ho, Wo] with
    /// Ho = (H + 2 padding - kh) / stride + 1.
    package func conv2d(weight: Tensor, stride: Int = 1, padding: Int = 0) -> Tensor {
        precondition(rank == 4 && weight.rank == 4 && weight.shape[1] == shape[0] && stride >= 1 && padding >= 0,
                     "conv2d: input \(shape) vs weight \(weight.shape)")
        let (c, n, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (o, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let ho = (h + 2 * padding - kh) / stride + 1, wo = (w + 2 * padding - kw) / stride + 1
        precondition(ho > 0 && wo > 0, "conv2d: kernel \(kh)x\(kw) larger than padded input \(h)x\(w)")
        let out = Tensor(uninitialized: [o, n, ho, wo])
        let cols = n * ho * wo, k = c * kh * kw
        let direct = kh == 1 && kw == 1 && stride == 1 && padding == 0
        let geometry = ck_conv_shape(channels: c, images: n, height: h, width: w, kernel_h: kh, kernel_w: kw,
                                     stride: stride, padding: padding, out_h: ho, out_w: wo)
        let step = convolutionStep(rows: k, cols: cols)
        let masks = direct ? nil : sameConvolutionMasks(geometry)
        if direct {
            sgemm(m: o, n: cols, k: c, a: weight.data, lda: c, b: data, ldb: cols, c: out.data, ldc: cols)
        } else {
            let col = Tensor(uninitialized: [k * step])
            for start in Swift.stride(from: 0, to: cols, by: step) {
                let width = min(step, cols - start)
                im2col(geometry, masks, data, col.data, rows: k, start: start, width: width)
                sgemm(m: o, n: width, k: k, a: weight.data, lda: k, b: col.data, ldb: width, c: out.data + start, ldc: cols)
            }
        }
        // dW reads the input and dx reads the weight: each is kept only when the other needs a
        // gradient (a frozen tower keeps no activations; the first layer skips dx).
        let needX = tracksGrad, needW = weight.tracksGrad
        let xSaved = needW ? storage : nil, wSaved = needX ? weight.storage : nil
        let inShape = shape, weightShape = weight.shape
        record(out, [self, weight]) { g in
            // With col = im2col(x) and G = g as [O, N*Ho*Wo]: dW = G col^T, dcol = W^T G,
            // dx = col2im(dcol) (overlapping windows add up). The columns are recomputed step by
            // step rather than kept from the forward pass.
            let dw = needW ? Tensor(zeros: weightShape) : nil
            if direct {
                let dx = needX ? Tensor(uninitialized: inShape) : nil
                if let dw, let xSaved {
                    sgemm(transB: true, m: o, n: c, k: cols, a: g.data, lda: cols, b: xSaved.pointer, ldb: cols,
                          c: dw.data, ldc: c)
                }
                if let dx, let wSaved {
                    sgemm(transA: true, m: c, n: cols, k: o, a: wSaved.pointer, lda: c, b: g.data, ldb: cols,
                          c: dx.data, ldc: cols)
                }
                return [dx, dw]
            }
            let dx = needX ? Tensor(zeros: inShape) : nil
            let col = Tensor(uninitialized: [k * step])
            for start in Swift.stride(from: 0, to: cols, by: step) {
                let width = min(step, cols - start)
                if let dw, let xSaved {
                    im2col(geometry, masks, xSaved.pointer, col.data, rows: k, start: start, width: width)
                    sgemm(transB: true, m: o, n: k, k: width, a: g.data + start, lda: cols, b: col.data, ldb: width,
                          beta: 1, c: dw.data, ldc: k)
                }
                if let dx, let wSaved {
                    sgemm(transA: true, m: k, n: width, k: o, a: wSaved.pointer, lda: k, b: g.data + start, ldb: cols,
                          c: col.data, ldc: width)
                    // Tasks of one channel and a run of whole images (of about 16k values of
                    // col; the step's own columns where it covers part of an image): a few
                    // channels alone would leave cores idle.
                    let d = dx.data, cd = col.data, perImage = ho * wo
                    let imagesPerTask = max(1, 16_384 / (kh * kw * perImage))
                    let first = start / perImage, last = (start + width - 1) / perImage
                    let runs = (last - first) / imagesPerTask + 1
                    parallelFor(c * runs, grain: max(1, 16_384 / (kh * kw * min(width, imagesPerTask * perImage)))) { r in
                        for task in r {
                            let ch = task / runs, img = first + task % runs * imagesPerTask
                            let lo = max(start, img * perImage), hi = min(start + width, (img + imagesPerTask) * perImage)
                            withUnsafePointer(to: geometry) { g in
                                withPointer(masks) { ck_col2im(g, $0, cd + (lo - start), width, d, ch, ch + 1, lo, hi - lo) }
                            }
                        }
                    }
                }
            }
            return [dx, dw]
        }
        return out
    }

    /// Average pooling with a square window equal to its stride and no padding
    /// (`nn.AvgPool2d(k)`), as ModifiedResNet uses. [N, C, H, W] -> [N, C, H/k, W/k].
    package func avgPool2d(_ k: Int) -> Tensor {
        precondition(rank == 4, "avgPool2d: input \(shape) is not [N, C, H, W]")
        if k == 1 { return self }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let ho = h / k, wo = w / k
        let out = Tensor(uninitialized: [n, c, ho, wo])
        let x = data, o = out.data
        parallelFor(n * c, grain: max(1, 16_384 / max(1, h * w))) { r in
            ck_avg_pool(x + r.lowerBound * h * w, o + r.lowerBound * ho * wo, r.count, h, w, k)
        }
        let inShape = shape
        recordUnary(out, self) { g in
            // Each input in a window gets 1/k² of that window's gradient; rows/columns beyond
            // the last whole window (when H or W is not a multiple of k) get none.
            let dx = Tensor(uninitialized: inShape)
            let gd = g.data, d = dx.data
            parallelFor(n * c, grain: max(1, 16_384 / max(1, h * w))) { r in
                ck_avg_pool_backward(gd + r.lowerBound * ho * wo, d + r.lowerBound * h * w, r.count, h, w, k)
            }
            return dx
        }
        return out
    }
}

/// Columns per step of a convolution's im2col matrix: the whole batch when it is small, else
/// slices of about 8 MB, which stay in the last-level cache between being written and being
/// packed by the matrix product.
func convolutionStep(rows: Int, cols: Int) -> Int {
    min(cols, max(256, (2 << 20) / max(rows, 1)))
}

/// Which output positions of a "same" convolution (stride 1, output the input's size) read inside
/// the image at each kernel offset (`ck_same_masks`), or nil for other convolutions.
func sameConvolutionMasks(_ geometry: ck_conv_shape) -> [UInt8]? {
    withUnsafePointer(to: geometry) { g in
        let size = ck_same_masks(g, nil)
        guard size > 0 else { return nil }
        return [UInt8](unsafeUninitializedCapacity: size) {
            ck_same_masks(g, $0.baseAddress)
            $1 = size
        }
    }
}

/// Columns [start, start + width) of the im2col matrix of a channel-major map, over the pool.
func im2col(_ geometry: ck_conv_shape, _ masks: [UInt8]?, _ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>,
            rows: Int, start: Int, width: Int) {
    parallelFor(rows, grain: max(1, 16_384 / max(width, 1))) { r in
        withUnsafePointer(to: geometry) { g in
            withPointer(masks) { ck_im2col(g, $0, x, col + r.lowerBound * width, r.lowerBound, r.upperBound, start, width) }
        }
    }
}

/// `body` with the array's first element, or nil.
private func withPointer<R>(_ array: [UInt8]?, _ body: (UnsafePointer<UInt8>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress) }
}
