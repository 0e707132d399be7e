import Foundation
import TensorCore
import Testing

/// Finite-difference gradient checking for the tensor core's backward passes.
///
/// For an operation y = f(x1, ..., xk) and a fixed random cotangent R with the shape of y,
/// backward(gradient: R) gives the analytic vector-Jacobian product dL/dxi of L = sum(R * y).
/// The reference is the central difference (L(x + h e) - L(x - h e)) / (h+ + h-) per element,
/// with the Float op run on perturbed Float inputs and L summed in Double. h+ and h- are the
/// perturbations actually representable in Float (fl(x + h) - x), not the nominal h.
///
/// Tolerance, for inputs and cotangents of scale ~1: with h = 1e-2 the truncation error is
/// about h²/6 |f'''| ~ 2e-5, and Float rounding of y (relative 6e-8 per element, random) adds
/// about sqrt(N) * 6e-8 / 2h ~ 3e-6 sqrt(N) for N outputs, i.e. ~1e-4 for the sizes here. So a
/// check passes when |analytic - numeric| <= 2e-3 * scale + 2e-4, scale being the largest
/// analytic gradient magnitude of that input (at least 1e-2): an order of magnitude above the
/// noise, and far below the error of any real mistake (a wrong sign, a missing term, a
/// transposed index gives errors of the order of the gradient itself).
struct GradCase: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable (inout SeededRandom) -> [Tensor]
    let f: @Sendable ([Tensor]) -> Tensor
    /// Inputs that take no gradient (indices into the input list).
    var frozen: Set<Int> = []
    var h: Float = 1e-2

    init(_ name: String, frozen: Set<Int> = [], h: Float = 1e-2,
         _ make: @escaping @Sendable (inout SeededRandom) -> [Tensor], _ f: @escaping @Sendable ([Tensor]) -> Tensor) {
        self.name = name; self.make = make; self.f = f; self.frozen = frozen; self.h = h
    }

    var testDescription: String { name }
}

/// Random normal tensor, entries N(0, std²).
func randn(_ shape: [Int], _ rng: inout SeededRandom, std: Float = 1) -> Tensor {
    Tensor.randomNormal(shape, std: std, using: &rng)
}

/// Runs the check; returns a list of failures (empty when all pass).
func gradCheck(_ c: GradCase, seed: UInt64 = 7, maxElements: Int = 48) -> [String] {
    var rng = SeededRandom(seed: seed)
    let inputs = c.make(&rng)
    for (i, x) in inputs.enumerated() where !c.frozen.contains(i) { x.requiresGrad = true; x.grad = nil }
    let y = c.f(inputs)
    let r = randn(y.shape, &rng)
    y.backward(gradient: r)
    func loss() -> Double {
        GradMode.withoutGrad {
            let out = c.f(inputs)
            var s: Double = 0
            for i in 0..<out.count { s += Double(out.data[i]) * Double(r.data[i]) }
            return s
        }
    }
    var failures: [String] = []
    for (k, x) in inputs.enumerated() where !c.frozen.contains(k) {
        guard let g = x.grad else { failures.append("\(c.name): input \(k) got no gradient"); continue }
        guard g.shape == x.shape else { failures.append("\(c.name): input \(k) gradient \(g.shape) vs \(x.shape)"); continue }
        let scale = max(g.array.map(abs).max() ?? 0, 1e-2)
        // Every element of small inputs; an even spread of elements of larger ones.
        let step = max(1, x.count / maxElements)
        for idx in stride(from: 0, to: x.count, by: step) {
            let v = x.data[idx]
            x.data[idx] = v + c.h; let hp = x.data[idx] - v; let lp = loss()
            x.data[idx] = v - c.h; let hm = v - x.data[idx]; let lm = loss()
            x.data[idx] = v
            let numeric = Float((lp - lm) / Double(hp + hm))
            let err = abs(numeric - g.data[idx])
            if err > 2e-3 * scale + 2e-4 {
                failures.append("\(c.name): input \(k)\(x.shape) element \(idx): analytic \(g.data[idx]), numeric \(numeric) (scale \(scale))")
                break
            }
        }
    }
    return failures
}
