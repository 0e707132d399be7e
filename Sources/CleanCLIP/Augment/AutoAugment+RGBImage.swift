import Foundation

extension AutoAugment {
    /// Applies the policy to an `RGBImage` with choices drawn from `rng`.
    package func apply(_ image: RGBImage, using rng: inout SeededRandom) -> RGBImage {
        apply(image, choice: choose(using: &rng))
    }

    /// Applies the policy to an `RGBImage` with the given choices.
    package func apply(_ image: RGBImage, choice: Choice) -> RGBImage {
        let pixels = apply(image.pixels, width: image.width, height: image.height, choice: choice)
        // Every operation keeps the size, so this cannot fail; keep the input if it ever did.
        return (try? RGBImage(width: image.width, height: image.height, pixels: pixels)) ?? image
    }

    /// Applies one operation at a signed magnitude to an `RGBImage` (torchvision's `_apply_op`).
    package static func apply(_ operation: Operation, magnitude: Double, to image: RGBImage) -> RGBImage {
        let pixels = apply(operation, magnitude: magnitude, to: image.pixels, width: image.width, height: image.height)
        return (try? RGBImage(width: image.width, height: image.height, pixels: pixels)) ?? image
    }
}
