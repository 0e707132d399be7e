import CKernels
import Testing

/// The shifted, masked copy that "same" convolutions take (`ck_same_masks`) against the general
/// row-by-row im2col and col2im, bit for bit: on planes from 1x1 to 7x6, kernels 1x1 to 5x5,
/// column ranges that start and end inside an image.
struct Im2colTests {
    struct Case: CustomStringConvertible {
        var channels, images, height, width, kernel: Int
        var description: String { "\(channels)x\(images)x\(height)x\(width), kernel \(kernel)" }
    }

    static let cases = [
        Case(channels: 2, images: 3, height: 5, width: 6, kernel: 3),
        Case(channels: 3, images: 4, height: 2, width: 2, kernel: 3),
        Case(channels: 1, images: 5, height: 1, width: 1, kernel: 3),
        Case(channels: 2, images: 2, height: 7, width: 6, kernel: 5),
        Case(channels: 2, images: 3, height: 9, width: 11, kernel: 3),
        Case(channels: 2, images: 3, height: 4, width: 3, kernel: 1),
        Case(channels: 1, images: 2, height: 3, width: 3, kernel: 7),
    ]

    @Test(arguments: cases) func maskedPathEqualsTheGeneralOne(_ c: Case) {
        var s = ck_conv_shape(channels: c.channels, images: c.images, height: c.height, width: c.width, kernel_h: c.kernel,
                              kernel_w: c.kernel, stride: 1, padding: c.kernel / 2, out_h: c.height, out_w: c.width)
        let kk = c.kernel * c.kernel, plane = c.height * c.width, rows = c.channels * kk, total = c.images * plane
        let size = ck_same_masks(&s, nil)
        #expect(size >= kk * 64 && size % (kk * plane) == 0)
        var masks = [UInt8](repeating: 9, count: size)
        #expect(ck_same_masks(&s, &masks) == size)
        #expect(masks.allSatisfy { $0 <= 1 } && masks.contains(1))
        var state: UInt64 = 7
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 997
        }
        let x = (0..<(c.channels * total)).map { _ in next() }
        for (begin, count) in [(0, total), (1, total - 1), (plane / 2, max(1, total - plane)), (total - 1, 1)] {
            var general = [Float](repeating: .nan, count: rows * count), masked = general
            ck_im2col(&s, nil, x, &general, 0, rows, begin, count)
            ck_im2col(&s, masks, x, &masked, 0, rows, begin, count)
            #expect(general.map(\.bitPattern) == masked.map(\.bitPattern), "im2col columns \(begin)..<\(begin + count)")
            // The adjoint, one channel at a time, into a map that already holds values.
            let col = (0..<(rows * count)).map { _ in next() }
            var dxGeneral = x, dxMasked = x
            for ch in 0..<c.channels {
                ck_col2im(&s, nil, col, count, &dxGeneral, ch, ch + 1, begin, count)
                ck_col2im(&s, masks, col, count, &dxMasked, ch, ch + 1, begin, count)
            }
            #expect(dxGeneral.map(\.bitPattern) == dxMasked.map(\.bitPattern), "col2im columns \(begin)..<\(begin + count)")
        }
    }

    @Test func stridedAndValidConvolutionsAreNotSame() {
        var strided = ck_conv_shape(channels: 1, images: 1, height: 8, width: 8, kernel_h: 3, kernel_w: 3, stride: 2, padding: 1,
                                    out_h: 4, out_w: 4)
        var valid = ck_conv_shape(channels: 1, images: 1, height: 8, width: 8, kernel_h: 3, kernel_w: 3, stride: 1, padding: 0,
                                  out_h: 6, out_w: 6)
        #expect(ck_same_masks(&strided, nil) == 0 && ck_same_masks(&valid, nil) == 0)
    }
}
