import Foundation

/// A small, fast, seedable generator (xoshiro256**, seeded through SplitMix64) so that every
/// random choice in the library is reproducible from a seed.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }

    /// Standard normal (Box-Muller).
    public mutating func normal() -> Float {
        let u1 = max(Double(next() >> 11) * (1.0 / Double(1 << 53)), 1e-300)
        let u2 = Double(next() >> 11) * (1.0 / Double(1 << 53))
        return Float((-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}

extension Tensor {
    /// Normal(0, std²) entries.
    package static func randomNormal(_ shape: [Int], std: Float, using rng: inout SeededRandom) -> Tensor {
        let t = Tensor(zeros: shape)
        for i in 0..<t.count { t.data[i] = rng.normal() * std }
        return t
    }

    /// Uniform entries in [-bound, bound).
    package static func randomUniform(_ shape: [Int], bound: Float, using rng: inout SeededRandom) -> Tensor {
        let t = Tensor(zeros: shape)
        for i in 0..<t.count { t.data[i] = (rng.uniform() * 2 - 1) * bound }
        return t
    }
}
