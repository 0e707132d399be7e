import Foundation

/// torchvision 0.29's `transforms.AutoAugment()` with its defaults (ImageNet policy, nearest
/// interpolation, no fill) on RGB8 images, every random choice drawn from a `SeededRandom`.
///
/// A call picks one of the 25 sub-policies uniformly, then applies each of its two operations
/// with the operation's probability; signed magnitudes get a random sign (negative with
/// probability 1/2). Magnitudes come from 10 bins computed as torch computes them
/// (`torch.linspace` in Float32). The reference applies it to the full-resolution image, before
/// CLIP's resize and centre crop.
///
/// ```swift
/// var rng = SeededRandom(seed: 7)
/// let augmented = AutoAugment().apply(pixels, width: w, height: h, using: &rng)
/// ```
package struct AutoAugment: Sendable {
    package enum Operation: String, CaseIterable, Sendable {
        case shearX = "ShearX", shearY = "ShearY", translateX = "TranslateX", translateY = "TranslateY"
        case rotate = "Rotate", brightness = "Brightness", color = "Color", contrast = "Contrast"
        case sharpness = "Sharpness", posterize = "Posterize", solarize = "Solarize"
        case autoContrast = "AutoContrast", equalize = "Equalize", invert = "Invert"
    }

    /// One operation of a sub-policy: applied with `probability`, at magnitude bin `bin` (nil for
    /// operations without a magnitude).
    package struct Step: Sendable, Equatable {
        package let operation: Operation
        package let probability: Double
        package let bin: Int?
        package init(_ operation: Operation, _ probability: Double, _ bin: Int?) {
            self.operation = operation; self.probability = probability; self.bin = bin
        }
    }

    /// The random draws of one call, in the order they are taken from the generator.
    package struct Choice: Sendable, Equatable {
        /// Index of the sub-policy (0..<25).
        package let policyIndex: Int
        /// Uniform [0, 1) draws; step k is applied when `draws[k] <= probability`.
        package let draws: [Float]
        /// Sign of step k's magnitude for signed operations.
        package let negative: [Bool]
        package init(policyIndex: Int, draws: [Float], negative: [Bool]) {
            self.policyIndex = policyIndex; self.draws = draws; self.negative = negative
        }
    }

    /// The sub-policies (pairs of steps).
    package let policy: [[Step]]
    /// Number of magnitude bins (torchvision uses 10).
    package let bins = 10

    package init(policy: [[Step]] = AutoAugment.imageNetPolicy) { self.policy = policy }

    /// torchvision's `AutoAugmentPolicy.IMAGENET`, in its order.
    package static let imageNetPolicy: [[Step]] = [
        [Step(.posterize, 0.4, 8), Step(.rotate, 0.6, 9)],
        [Step(.solarize, 0.6, 5), Step(.autoContrast, 0.6, nil)],
        [Step(.equalize, 0.8, nil), Step(.equalize, 0.6, nil)],
        [Step(.posterize, 0.6, 7), Step(.posterize, 0.6, 6)],
        [Step(.equalize, 0.4, nil), Step(.solarize, 0.2, 4)],
        [Step(.equalize, 0.4, nil), Step(.rotate, 0.8, 8)],
        [Step(.solarize, 0.6, 3), Step(.equalize, 0.6, nil)],
        [Step(.posterize, 0.8, 5), Step(.equalize, 1.0, nil)],
        [Step(.rotate, 0.2, 3), Step(.solarize, 0.6, 8)],
        [Step(.equalize, 0.6, nil), Step(.posterize, 0.4, 6)],
        [Step(.rotate, 0.8, 8), Step(.color, 0.4, 0)],
        [Step(.rotate, 0.4, 9), Step(.equalize, 0.6, nil)],
        [Step(.equalize, 0.0, nil), Step(.equalize, 0.8, nil)],
        [Step(.invert, 0.6, nil), Step(.equalize, 1.0, nil)],
        [Step(.color, 0.6, 4), Step(.contrast, 1.0, 8)],
        [Step(.rotate, 0.8, 8), Step(.color, 1.0, 2)],
        [Step(.color, 0.8, 8), Step(.solarize, 0.8, 7)],
        [Step(.sharpness, 0.4, 7), Step(.invert, 0.6, nil)],
        [Step(.shearX, 0.6, 5), Step(.equalize, 1.0, nil)],
        [Step(.color, 0.4, 0), Step(.equalize, 0.6, nil)],
        [Step(.equalize, 0.4, nil), Step(.solarize, 0.2, 4)],
        [Step(.solarize, 0.6, 5), Step(.autoContrast, 0.6, nil)],
        [Step(.invert, 0.6, nil), Step(.equalize, 1.0, nil)],
        [Step(.color, 0.6, 4), Step(.contrast, 1.0, 8)],
        [Step(.equalize, 0.8, nil), Step(.equalize, 0.6, nil)],
    ]

    /// `torch.linspace(start, end, steps)` for float32 on CPU (scalar path, used for short
    /// outputs): `step = (end - start) / (steps - 1)`; the first half counts up from `start`,
    /// the second half down from `end`, each value one fused multiply-add (the compiled kernel
    /// contracts them; verified against torch 2.15 on 1,600 tables).
    package static func linspace(_ start: Float, _ end: Float, _ steps: Int) -> [Float] {
        if steps == 1 { return [start] }
        let step = (end - start) / Float(steps - 1)
        return (0..<steps).map { i in
            i < steps / 2 ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(steps - i - 1))
        }
    }

    /// The magnitude table of `operation` for an image of the given size and whether its
    /// magnitudes are signed: torchvision's `_augmentation_space(num_bins, (height, width))`.
    package static func magnitudes(_ operation: Operation, bins: Int = 10, width: Int, height: Int) -> (values: [Float], signed: Bool) {
        switch operation {
        case .shearX, .shearY: return (linspace(0, 0.3, bins), true)
        case .translateX: return (linspace(0, Float(150.0 / 331.0 * Double(width)), bins), true)
        case .translateY: return (linspace(0, Float(150.0 / 331.0 * Double(height)), bins), true)
        case .rotate: return (linspace(0, 30, bins), true)
        case .brightness, .color, .contrast, .sharpness: return (linspace(0, 0.9, bins), true)
        case .posterize:
            // 8 - round(arange(bins) / ((bins - 1) / 4)), division in Float32, round half to even.
            let d = Float(Double(bins - 1) / 4)
            return ((0..<bins).map { 8 - (Float($0) / d).rounded(.toNearestOrEven) }, false)
        case .solarize: return (linspace(255, 0, bins), false)
        case .autoContrast, .equalize, .invert: return ([0], false)
        }
    }

    /// Applies one operation at a signed magnitude, as torchvision's `_apply_op`.
    package static func apply(_ operation: Operation, magnitude: Double, to pixels: [UInt8],
                             width: Int, height: Int) -> [UInt8] {
        switch operation {
        case .shearX: return PixelOps.shearX(pixels, width: width, height: height, magnitude: magnitude)
        case .shearY: return PixelOps.shearY(pixels, width: width, height: height, magnitude: magnitude)
        case .translateX: return PixelOps.translate(pixels, width: width, height: height, dx: magnitude, dy: 0)
        case .translateY: return PixelOps.translate(pixels, width: width, height: height, dx: 0, dy: magnitude)
        case .rotate: return PixelOps.rotate(pixels, width: width, height: height, angle: magnitude)
        case .brightness: return PixelOps.brightness(pixels, factor: 1.0 + magnitude)
        case .color: return PixelOps.saturation(pixels, factor: 1.0 + magnitude)
        case .contrast: return PixelOps.contrast(pixels, factor: 1.0 + magnitude)
        case .sharpness: return PixelOps.sharpness(pixels, width: width, height: height, factor: 1.0 + magnitude)
        case .posterize: return PixelOps.posterize(pixels, bits: Int(magnitude))
        case .solarize: return PixelOps.solarize(pixels, threshold: magnitude)
        case .autoContrast: return PixelOps.autocontrast(pixels)
        case .equalize: return PixelOps.equalize(pixels)
        case .invert: return PixelOps.invert(pixels)
        }
    }

    /// Draws the random choices of one call: sub-policy index, two uniforms, two signs (always
    /// five draws, so the generator advances the same way whatever is applied).
    package func choose(using rng: inout SeededRandom) -> Choice {
        let index = AutoAugment.uniformIndex(policy.count, &rng)
        let draws = [rng.uniform(), rng.uniform()]
        let negative = [rng.next() & 1 == 0, rng.next() & 1 == 0]
        return Choice(policyIndex: index, draws: draws, negative: negative)
    }

    /// Applies the policy with the given choices.
    package func apply(_ pixels: [UInt8], width: Int, height: Int, choice: Choice) -> [UInt8] {
        var image = pixels
        for (k, step) in policy[choice.policyIndex].enumerated() where choice.draws[k] <= Float(step.probability) {
            let (values, signed) = AutoAugment.magnitudes(step.operation, bins: bins, width: width, height: height)
            var magnitude = step.bin.map { Double(values[$0]) } ?? 0
            if signed && choice.negative[k] { magnitude = -magnitude }
            image = AutoAugment.apply(step.operation, magnitude: magnitude, to: image, width: width, height: height)
        }
        return image
    }

    /// Draws the choices from `rng` and applies them.
    package func apply(_ pixels: [UInt8], width: Int, height: Int, using rng: inout SeededRandom) -> [UInt8] {
        apply(pixels, width: width, height: height, choice: choose(using: &rng))
    }

    /// A uniform integer in `0..<n` (multiply-shift; bias below 2^-50 for small n), defined here
    /// rather than via `Int.random(in:using:)` so the stream is fixed by this library alone.
    static func uniformIndex(_ n: Int, _ rng: inout SeededRandom) -> Int {
        precondition(n > 0)
        return Int(rng.next().multipliedFullWidth(by: UInt64(n)).high)
    }
}
