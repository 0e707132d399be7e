import CKernels
import Foundation
import TensorCore
import Testing

/// The vectorised exp and erf (CKernels) against libm, over the ranges the towers use.
@Suite("Vectorised exp and erf")
struct KernelAccuracyTests {
    /// Evenly spaced points plus the ends.
    static func points(_ lo: Float, _ hi: Float, _ n: Int) -> [Float] {
        (0...n).map { lo + (hi - lo) * Float($0) / Float(n) }
    }

    @Test("exp: relative error within 4e-7 on [-87, 88]")
    func exp() {
        let x = Self.points(-87, 88, 200_001)
        var y = [Float](repeating: 0, count: x.count)
        ck_exp(x, &y, x.count)
        var worst: Double = 0
        for i in x.indices {
            let reference = Foundation.exp(Double(x[i]))
            worst = max(worst, abs(Double(y[i]) - reference) / reference)
        }
        #expect(worst < 4e-7, "worst relative error \(worst)")
    }

    @Test("erf: absolute error within 4e-7 (a few float ulps near 1)")
    func erf() {
        let x = Self.points(-6, 6, 120_001)
        var y = [Float](repeating: 0, count: x.count)
        ck_erf(x, &y, x.count)
        var worst: Double = 0
        for i in x.indices { worst = max(worst, abs(Double(y[i]) - Foundation.erf(Double(x[i])))) }
        #expect(worst < 4e-7, "worst absolute error \(worst)")
    }

    @Test("activations equal their formulas in double within float rounding")
    func activations() {
        let x = Self.points(-12, 12, 24_001)
        for (activation, formula) in [
            (Activation.quickGELU, { (v: Double) in v / (1 + Foundation.exp(-1.702 * v)) }),
            (.gelu, { (v: Double) in 0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot())) }),
            (.relu, { (v: Double) in max(v, 0) }),
        ] {
            let y = Tensor(x, shape: [x.count]).activated(activation)
            var worst: Double = 0
            for i in x.indices { worst = max(worst, abs(Double(y.data[i]) - formula(Double(x[i]))) / max(1, abs(Double(x[i])))) }
            #expect(worst < 1e-6, "\(activation): worst error \(worst)")
        }
    }

    @Test("softmax rows: sums to one, causal rows end in zeros, a fully masked row is zeros")
    func softmax() {
        let rows = 5, cols = 7
        var rng = SeededRandom(seed: 9)
        let x = Tensor.randomNormal([rows, cols], std: 30, using: &rng)
        var y = [Float](repeating: .nan, count: rows * cols)
        ck_softmax_rows(x.data, &y, rows, cols, 1)
        for r in 0..<rows {
            let valid = min(cols, r + 2)
            let row = Array(y[(r * cols)..<((r + 1) * cols)])
            #expect(abs(row.prefix(valid).reduce(0, +) - 1) < 1e-6)
            #expect(row.dropFirst(valid).allSatisfy { $0 == 0 })
            let m = (0..<valid).map { x.data[r * cols + $0] }.max()!
            let z = (0..<valid).map { Foundation.exp(Double(x.data[r * cols + $0] - m)) }.reduce(0, +)
            for j in 0..<valid {
                #expect(abs(Double(row[j]) - Foundation.exp(Double(x.data[r * cols + j] - m)) / z) < 1e-6)
            }
        }
        var masked: [Float] = [-.infinity, -.infinity], out: [Float] = [.nan, .nan]
        ck_softmax_rows(&masked, &out, 1, 2, -1)
        #expect(out == [0, 0])
    }
}
