import Foundation

/// A trigger that cannot be built or applied: a patch larger than the image, a warp grid of the
/// wrong size, noise of the wrong length.
public struct TriggerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Which backdoor trigger, following CleanCLIP's `backdoor/utils.py` `apply_trigger`.
public enum TriggerKind: Sendable, Equatable {
    /// BadNet, the reference's "random" patch: per-channel image mean + N(0, 1) noise,
    /// re-drawn for every image, pasted at `TriggerSpec.location`.
    case badnet
    /// A yellow patch (R = G = 1, B = 0) pasted at `TriggerSpec.location`.
    case yellow
    /// Blended: x' = (1 - alpha) x + alpha U[0, 1) noise image (alpha 0.2), re-drawn per image, clipped to [0, 1].
    case blended
    /// SIG: x' = (1 - alpha) x + alpha v, v[c, i, j] = 60/255 sin(2 pi j 6 / S) (alpha 0.2), clipped.
    /// (The reference blends the signal with the same 0.2 / 0.8 weights as "blended".)
    case sig
    /// WaNet: a fixed smooth warp (see `WarpGrid`); k is the noise grid size, s the strength.
    /// The reference ships k = 224, s = 1; the WaNet paper uses k = 4, s = 0.5.
    case wanet(k: Int, s: Float)
    /// A user-supplied patch: `pixels` is [3, size, size] CHW in [0, 1], pasted at `location`.
    case patch(pixels: [Float], size: Int)
    /// A user-supplied image [3, S, S] CHW in [0, 1] blended like `.blended` instead of noise.
    case blendImage(pixels: [Float])

    /// The reference's patch_type name, when there is one.
    public var referenceName: String {
        switch self {
        case .badnet: return "random"
        case .yellow: return "yellow"
        case .blended: return "blended"
        case .sig: return "SIG"
        case .wanet: return "warped"
        case .patch: return "custom_patch"
        case .blendImage: return "custom_blend"
        }
    }
}

/// Where a patch trigger goes. The reference's names: "random", "four_corners".
public enum PatchLocation: Sendable, Equatable {
    /// Top-left corner uniform in [0, S - 1 - size] on each axis, drawn per image (rows first).
    /// (The reference draws `random.randint(0, 223 - patch_size)`, so the last position,
    /// S - size, is never used; kept for parity.)
    case random
    /// The same patch in all four corners.
    case fourCorners
    /// One fixed corner.
    case corner(Corner)
    /// A fixed top-left position (row, column).
    case fixed(row: Int, column: Int)

    public enum Corner: String, Sendable, CaseIterable {
        case topLeft = "top_left", topRight = "top_right", bottomLeft = "bottom_left", bottomRight = "bottom_right"
    }
}

/// How triggered [0, 1] floats become bytes again.
///
/// Both modes truncate toward zero like the reference (`ToPILImage` does `mul(255).byte()`:
/// 0.5 becomes 127, not 128). They differ only for values outside [0, 1], which only the BadNet
/// noise patch produces (blended / SIG are clipped by the reference itself; a yellow patch and
/// a warp stay in range):
public enum Quantization: String, Sendable, Equatable {
    /// Clamp to [0, 1] first (the default): a patch pixel of -0.5 becomes 0, 1.5 becomes 255.
    case clamp
    /// The reference's behaviour: no clipping; the truncated value wraps modulo 256 as torch's
    /// float -> uint8 cast does on x86 (-0.5 -> -127 -> 129; 1.5 -> 382 -> 126). The BadNet patch
    /// then looks like high-contrast noise rather than a saturated one.
    case referenceWrap
}

/// A complete trigger description: kind, patch geometry, image size, byte conversion.
///
/// ```
/// let spec = TriggerSpec(kind: .badnet)                       // 16x16 noise, random place
/// let yellow = TriggerSpec(kind: .yellow, location: .corner(.bottomRight))
/// let wanet = TriggerSpec(kind: .wanet(k: 4, s: 0.5))
/// ```
public struct TriggerSpec: Sendable, Equatable {
    public var kind: TriggerKind
    /// Side of a square patch (BadNet, yellow). Reference default 16.
    public var patchSize: Int
    public var location: PatchLocation
    /// Weight of the noise / signal / image in blended, SIG and custom-blend triggers.
    public var blendAlpha: Float
    /// Images are resized (squashed) to imageSize x imageSize before the trigger, as the reference
    /// does with PIL's `image.resize((224, 224))` (bicubic).
    public var imageSize: Int
    public var quantization: Quantization

    public init(kind: TriggerKind, patchSize: Int = 16, location: PatchLocation = .random,
                blendAlpha: Float = 0.2, imageSize: Int = 224, quantization: Quantization = .clamp) {
        self.kind = kind
        self.patchSize = patchSize
        self.location = location
        self.blendAlpha = blendAlpha
        self.imageSize = imageSize
        self.quantization = quantization
    }

    /// The side of the pasted patch, or nil for whole-image triggers.
    var effectivePatchSize: Int? {
        switch kind {
        case .badnet, .yellow: return patchSize
        case .patch(_, let size): return size
        default: return nil
        }
    }

    /// Checks the geometry; throws with the offending value.
    public func validate() throws {
        guard imageSize >= 2 else { throw TriggerError("image size must be at least 2; got \(imageSize)") }
        guard blendAlpha.isFinite, blendAlpha >= 0, blendAlpha <= 1 else {
            throw TriggerError("blend alpha must be in [0, 1]; got \(blendAlpha)")
        }
        if let p = effectivePatchSize {
            guard p >= 1, p < imageSize else { throw TriggerError("patch size \(p) must be in 1..<\(imageSize)") }
            if case .fixed(let r, let c) = location, r < 0 || c < 0 || r + p > imageSize || c + p > imageSize {
                throw TriggerError("a \(p)x\(p) patch at row \(r), column \(c) does not fit a \(imageSize)x\(imageSize) image")
            }
        }
        switch kind {
        case .patch(let pixels, let size):
            guard pixels.count == 3 * size * size else {
                throw TriggerError("custom patch has \(pixels.count) values; expected 3 x \(size) x \(size)")
            }
        case .blendImage(let pixels):
            guard pixels.count == 3 * imageSize * imageSize else {
                throw TriggerError("blend image has \(pixels.count) values; expected 3 x \(imageSize) x \(imageSize)")
            }
        case .wanet(let k, let s):
            guard k >= 2 else { throw TriggerError("WaNet grid size k must be at least 2; got \(k)") }
            guard s.isFinite else { throw TriggerError("WaNet strength must be finite") }
        default: break
        }
    }
}

extension TriggerSpec {
    /// Parses a trigger from its reference names: patch type "random" (BadNet), "yellow",
    /// "blended", "SIG", "warped" (k = 224, s = 1, the reference's), "wanet" (k = 4, s = 0.5,
    /// the paper's); location "random", "four_corners", "blended" (whole-image kinds), or a
    /// corner name ("top_left", ...).
    public init(name: String, location: String = "random", patchSize: Int = 16) throws {
        let kind: TriggerKind
        switch name.lowercased() {
        case "random", "badnet", "badnets": kind = .badnet
        case "yellow": kind = .yellow
        case "blended", "blend": kind = .blended
        case "sig": kind = .sig
        case "warped": kind = .wanet(k: 224, s: 1)
        case "wanet": kind = .wanet(k: 4, s: 0.5)
        default:
            throw TriggerError("unknown trigger '\(name)'; expected one of random (badnet), yellow, blended, SIG, warped, wanet")
        }
        let loc: PatchLocation
        switch location.lowercased() {
        case "random", "blended": loc = .random
        case "four_corners": loc = .fourCorners
        default:
            guard let c = PatchLocation.Corner(rawValue: location.lowercased()) else {
                throw TriggerError("unknown patch location '\(location)'; expected random, four_corners, blended, top_left, top_right, bottom_left or bottom_right")
            }
            loc = .corner(c)
        }
        self.init(kind: kind, patchSize: patchSize, location: loc)
        try validate()
    }
}
