import CleanCLIP
import Foundation
import Testing

@Suite struct OptimizerTests {
    @Test func warmupThenCosine() {
        let s = LRSchedule.warmupCosine(baseLR: 1, warmupSteps: 4, totalSteps: 12)
        #expect(s.lr(at: 0) == 0.25)   // the first step gets lr / W (the reference skips warmup)
        #expect(s.lr(at: 3) == 1)
        #expect(s.lr(at: 4) == 1)      // cosine starts at its top
        #expect(abs(s.lr(at: 8) - 0.5) < 1e-6)
        #expect(abs(s.lr(at: 11) - Float(0.5 * (1 + cos(Double.pi * 7 / 8)))) < 1e-6)
        #expect(s.lr(at: 12) == 0 && s.lr(at: 100) == 0)
        #expect(LRSchedule.constant(0.3).lr(at: 7) == 0.3)
    }

    @Test func parameterGroupsFollowCleanCLIP() {
        for name in ["visual.bn1.weight", "visual.ln_pre.weight", "transformer.resblocks.0.ln_1.bias",
                     "visual.transformer.resblocks.0.attn.in_proj_bias", "logit_scale", "head.bias"] {
            #expect(!AdamWConfig.takesWeightDecay(name), "\(name)")
        }
        for name in ["visual.conv1.weight", "text_projection", "token_embedding.weight", "visual.proj",
                     "visual.class_embedding", "visual.layer1.0.downsample.1.weight"] {
            #expect(AdamWConfig.takesWeightDecay(name), "\(name)")
        }
    }

    @Test func adamWMatchesTheFormula() {
        let w = Tensor([1, -2], shape: [2]), b = Tensor([0.5], shape: [1])
        let opt = AdamW(parameters: [("w", w), ("b.bias", b)], config: AdamWConfig(weightDecay: 0.1))
        for step in 1...3 {
            w.grad = Tensor([0.3, -0.1 * Float(step)], shape: [2])
            b.grad = nil  // no gradient: untouched, as PyTorch
            opt.step(lr: 0.01)
        }
        // Reference computed in Double with the same recurrences.
        var x: [Double] = [1, -2], m: [Double] = [0, 0], v: [Double] = [0, 0]
        for step in 1...3 {
            let g: [Double] = [Double(Float(0.3)), Double(-0.1 * Float(step))]
            for i in 0..<2 {
                x[i] *= 1 - 0.01 * 0.1
                m[i] = 0.9 * m[i] + 0.1 * g[i]; v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i]
                let mhat = m[i] / (1 - pow(0.9, Double(step))), vhat = v[i] / (1 - pow(0.999, Double(step)))
                x[i] -= 0.01 * mhat / (vhat.squareRoot() + 1e-8)
            }
        }
        #expect(abs(Double(w.data[0]) - x[0]) < 1e-6 && abs(Double(w.data[1]) - x[1]) < 1e-6)
        #expect(b.data[0] == 0.5)
        #expect(opt.stepCount == 3)
    }

    @Test func gradientClippingBoundsTheUpdate() {
        // With clipping, m/sqrt(v) is scale-invariant, so compare the reported norm and that a
        // huge gradient and a clipped one give the same first step.
        let a = Tensor([1, 1], shape: [2]), b = Tensor([1, 1], shape: [2])
        let clipped = AdamW(parameters: [("a", a)], config: AdamWConfig(weightDecay: 0, maxGradNorm: 1))
        let plain = AdamW(parameters: [("b", b)], config: AdamWConfig(weightDecay: 0))
        a.grad = Tensor([300, 400], shape: [2]); b.grad = Tensor([300, 400].map { $0 / 500 * Float(1 / (1 + 1e-6 / 500)) }, shape: [2])
        #expect(abs(clipped.step(lr: 0.1) - 500) < 1e-3)
        plain.step(lr: 0.1)
        #expect(abs(a.data[0] - b.data[0]) < 1e-6 && abs(a.data[1] - b.data[1]) < 1e-6)
    }

    @Test func stateRoundTripResumesIdentically() throws {
        func run(_ resumeAt: Int?) throws -> [Float] {
            var w = Tensor([1, -2, 3], shape: [3])
            var opt = AdamW(parameters: [("w", w)], config: AdamWConfig(weightDecay: 0.1))
            for step in 0..<6 {
                if step == resumeAt {
                    // Simulate a checkpoint: copy weights and optimizer state into fresh objects.
                    let saved = opt.state(), savedW = w.copy()
                    w = savedW
                    opt = AdamW(parameters: [("w", w)], config: AdamWConfig(weightDecay: 0.1))
                    try opt.load(state: saved)
                    #expect(opt.stepCount == step)
                }
                w.grad = Tensor([0.1 * Float(step), -0.2, 0.3 / Float(step + 1)], shape: [3])
                opt.step(lr: 0.01)
            }
            return w.array
        }
        #expect(try run(nil) == run(3))
        let opt = AdamW(parameters: [("w", Tensor(zeros: [3]))])
        #expect(opt.state().map(\.0) == ["step", "exp_avg.w", "exp_avg_sq.w"])
        #expect(throws: OptimizerStateError.self) { try opt.load(state: [("step", Tensor([1], shape: []))]) }
        #expect(throws: OptimizerStateError.self) {
            try opt.load(state: [("step", Tensor([1], shape: [])), ("exp_avg.w", Tensor(zeros: [2])), ("exp_avg_sq.w", Tensor(zeros: [3]))])
        }
    }
}
