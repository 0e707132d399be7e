import Foundation
import ImageIO

extension Trigger {
    /// The reference's full path on a decoded image of any size: squash to S x S with Pillow's
    /// bicubic resize (`image.resize((224, 224))`), apply the trigger with the draws for image
    /// `index`, back to bytes. Returns an S x S image.
    public func apply(to image: RGBImage, index: Int) throws -> RGBImage {
        try apply(to: image, draw: draw(forImage: index))
    }

    /// As `apply(to:index:)` with explicit draws.
    public func apply(to image: RGBImage, draw: TriggerDraw) throws -> RGBImage {
        let s = spec.imageSize
        let squashed = image.width == s && image.height == s ? image : try resize(image, width: s, height: s, filter: .bicubic)
        return try RGBImage(width: s, height: s, pixels: try apply(hwc: squashed.pixels, draw: draw))
    }
}

extension TriggerKind {
    /// A user-supplied patch from an image (its size must be square; use it as is).
    public static func patch(from image: RGBImage) throws -> TriggerKind {
        guard image.width == image.height else {
            throw TriggerError("a patch image must be square; got \(image.width)x\(image.height)")
        }
        return .patch(pixels: planar(image), size: image.width)
    }

    /// A user-supplied blend image, squashed to `size` x `size` (bicubic) like the images it is blended into.
    public static func blendImage(from image: RGBImage, size: Int = 224) throws -> TriggerKind {
        let s = image.width == size && image.height == size ? image : try resize(image, width: size, height: size, filter: .bicubic)
        return .blendImage(pixels: planar(s))
    }

    static func planar(_ image: RGBImage) -> [Float] {
        let plane = image.width * image.height
        var out = [Float](repeating: 0, count: 3 * plane)
        for p in 0..<plane { for c in 0..<3 { out[c * plane + p] = Float(image.pixels[p * 3 + c]) / 255 } }
        return out
    }
}
