import Foundation

/// Geometric operations as torchvision 0.29's `F.affine` / `F.rotate` on uint8 tensors with
/// nearest interpolation, no expansion and no fill (pixels from outside the image are 0).
///
/// The pipeline, reproduced step by step:
/// 1. `_get_inverse_affine_matrix` in Double (Python floats; glibc's cos/sin/tan, as CPython).
/// 2. theta = the 6 values rounded to Float32; `r = theta^T / [w/2, h/2]` (Float32 divisions).
/// 3. For output pixel (i, j): `x = j - w/2 + 0.5`, `y = i - h/2 + 0.5` (exact) and
///    `g = (x * r0 + y * r1) + r2`: Float32, this order, no fused multiply-add, which equals
///    torch's CPU `bmm` result on every grid point tested.
/// 4. `grid_sample(nearest, zeros, align_corners=False)`: source index
///    `round_half_even((g + 1) * (size / 2) - 0.5)`; outside `[0, size)` gives 0.
extension PixelOps {
    /// torchvision's `_get_inverse_affine_matrix(center, angle, translate, scale, shear)`, in
    /// degrees, with `center` relative to the image centre (as the tensor path passes it).
    package static func inverseAffineMatrix(center: (Double, Double), angle: Double,
                                           translate: (Double, Double), scale: Double,
                                           shear: (Double, Double)) -> [Double] {
        let rot = radians(angle), sx = radians(shear.0), sy = radians(shear.1)
        let (cx, cy) = center, (tx, ty) = translate
        let a = cos(rot - sy) / cos(sy)
        let b = -cos(rot - sy) * tan(sx) / cos(sy) - sin(rot)
        let c = sin(rot - sy) / cos(sy)
        let d = -sin(rot - sy) * tan(sx) / cos(sy) + cos(rot)
        var m = [d, -b, 0.0, -c, a, 0.0].map { $0 / scale }
        m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty)
        m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty)
        m[2] += cx
        m[5] += cy
        return m
    }

    /// CPython's `math.radians` / `math.degrees` (multiplication by a rounded constant).
    static func radians(_ x: Double) -> Double { x * (Double.pi / 180.0) }
    static func degrees(_ x: Double) -> Double { x * (180.0 / Double.pi) }

    /// Samples the image through an inverse affine `matrix` (output pixel -> input pixel, centred
    /// coordinates) with nearest interpolation; see the type's comment for the exact arithmetic.
    package static func affine(_ pixels: [UInt8], width w: Int, height h: Int, inverseMatrix m: [Double]) -> [UInt8] {
        precondition(m.count == 6 && pixels.count == w * h * 3, "affine: bad matrix or buffer size")
        let t = m.map { Float($0) }
        let hw = Float(0.5 * Double(w)), hh = Float(0.5 * Double(h))
        let r0x = t[0] / hw, r1x = t[1] / hw, r2x = t[2] / hw
        let r0y = t[3] / hh, r1y = t[4] / hh, r2y = t[5] / hh
        let sx = Float(w) / 2, sy = Float(h) / 2
        let fw = Float(w), fh = Float(h)
        var out = [UInt8](repeating: 0, count: pixels.count)
        for i in 0..<h {
            let y = Float(Double(i) - Double(h) * 0.5 + 0.5)
            for j in 0..<w {
                let x = Float(Double(j) - Double(w) * 0.5 + 0.5)
                let gx = (x * r0x + y * r1x) + r2x
                let gy = (x * r0y + y * r1y) + r2y
                let ix = ((gx + 1) * sx - 0.5).rounded(.toNearestOrEven)
                let iy = ((gy + 1) * sy - 0.5).rounded(.toNearestOrEven)
                guard ix > -1, ix < fw, iy > -1, iy < fh else { continue }
                let src = (Int(iy) * w + Int(ix)) * 3, dst = (i * w + j) * 3
                out[dst] = pixels[src]; out[dst + 1] = pixels[src + 1]; out[dst + 2] = pixels[src + 2]
            }
        }
        return out
    }

    /// AutoAugment's ShearX: `F.affine(shear=[degrees(atan(m)), 0], center=[0, 0])` (top-left pivot).
    package static func shearX(_ pixels: [UInt8], width: Int, height: Int, magnitude: Double) -> [UInt8] {
        let m = inverseAffineMatrix(center: (-Double(width) * 0.5, -Double(height) * 0.5), angle: 0,
                                    translate: (0, 0), scale: 1, shear: (degrees(atan(magnitude)), 0))
        return affine(pixels, width: width, height: height, inverseMatrix: m)
    }

    /// AutoAugment's ShearY: `F.affine(shear=[0, degrees(atan(m))], center=[0, 0])`.
    package static func shearY(_ pixels: [UInt8], width: Int, height: Int, magnitude: Double) -> [UInt8] {
        let m = inverseAffineMatrix(center: (-Double(width) * 0.5, -Double(height) * 0.5), angle: 0,
                                    translate: (0, 0), scale: 1, shear: (0, degrees(atan(magnitude))))
        return affine(pixels, width: width, height: height, inverseMatrix: m)
    }

    /// AutoAugment's TranslateX/Y: `F.affine(translate=[int(dx), int(dy)])` (Python `int`
    /// truncates toward zero).
    package static func translate(_ pixels: [UInt8], width: Int, height: Int, dx: Double, dy: Double) -> [UInt8] {
        let m = inverseAffineMatrix(center: (0, 0), angle: 0, translate: (dx.rounded(.towardZero), dy.rounded(.towardZero)),
                                    scale: 1, shear: (0, 0))
        return affine(pixels, width: width, height: height, inverseMatrix: m)
    }

    /// `F.rotate(img, angle)` (degrees, counter-clockwise, about the centre, no expansion).
    package static func rotate(_ pixels: [UInt8], width: Int, height: Int, angle: Double) -> [UInt8] {
        let m = inverseAffineMatrix(center: (0, 0), angle: -angle, translate: (0, 0), scale: 1, shear: (0, 0))
        return affine(pixels, width: width, height: height, inverseMatrix: m)
    }
}
