import CleanCLIP
import Foundation
import Testing

/// Tests/Fixtures/models (scripts/fixtures/make_model_fixtures.py).
private let modelFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/models")

/// The expected moments written next to a `.cleanclip.pt` fixture.
private struct ExpectedMoments: Decodable {
    let step: Int
    let groups: [[String]]
    /// name -> [sum exp_avg, sum exp_avg_sq, exp_avg[0], exp_avg_sq[0]]
    let moments: [String: [Double]]
}

private func close(_ a: Double, _ b: Double, rel: Double = 1e-4, abs tol: Double = 1e-9) -> Bool {
    Swift.abs(a - b) <= max(tol, rel * max(Swift.abs(a), Swift.abs(b)))
}

@Suite struct OptimizerImportTests {
    /// The two-group CleanCLIP AdamW state maps back to the right parameters with the right moments.
    @Test(arguments: ["vit_quickgelu", "resnet"])
    func importsCleanCLIPMoments(name: String) throws {
        let path = modelFixtures.appendingPathComponent("\(name).cleanclip.pt").path
        let json = try Data(contentsOf: modelFixtures.appendingPathComponent("\(name).cleanclip.optimizer.json"))
        let expected = try JSONDecoder().decode(ExpectedMoments.self, from: json)
        let model = try CLIPModel.load(path: path)
        let state = try cleanCLIPOptimizerState(fromTorchCheckpoint: path, model: model)
        let byName = Dictionary(state, uniquingKeysWith: { a, _ in a })
        #expect(byName["step"]?.scalar == Float(expected.step))
        #expect(state.count == 1 + 2 * model.parameters.count)
        #expect(Set(expected.moments.keys) == Set(model.parameters.map(\.name)))
        // The fixture really has CleanCLIP's two groups, the no-decay one first.
        #expect(expected.groups.count == 2 && expected.groups[0].allSatisfy { !AdamWConfig.takesWeightDecay($0) })
        for (param, values) in expected.moments {
            guard let m = byName["exp_avg.\(param)"], let v = byName["exp_avg_sq.\(param)"] else {
                Issue.record("no moments for \(param)"); continue
            }
            let sm = m.array.reduce(0.0) { $0 + Double($1) }, sv = v.array.reduce(0.0) { $0 + Double($1) }
            #expect(close(sm, values[0], rel: 1e-4, abs: 1e-7), "\(param) sum exp_avg \(sm) vs \(values[0])")
            #expect(close(sv, values[1], rel: 1e-4, abs: 1e-10), "\(param) sum exp_avg_sq \(sv) vs \(values[1])")
            #expect(Double(m.array[0]) == Double(Float(values[2])), "\(param) exp_avg[0]")
            #expect(Double(v.array[0]) == Double(Float(values[3])), "\(param) exp_avg_sq[0]")
        }
        // Loads into a contrastive trainer's AdamW.
        let trainer = Trainer(model: model, loss: CleanCLIPLoss(), schedule: .constant(1e-5))
        try trainer.optimizer.load(state: state)
        #expect(trainer.stepCount == expected.step)
        let roundTrip = Dictionary(trainer.optimizer.state(), uniquingKeysWith: { a, _ in a })
        #expect(roundTrip["exp_avg.logit_scale"]?.array == byName["exp_avg.logit_scale"]?.array)
    }

    /// A model whose shapes differ gets an error naming the parameter and both shapes.
    @Test func shapeMismatchNamesTheParameter() throws {
        let path = modelFixtures.appendingPathComponent("vit_quickgelu.cleanclip.pt").path
        var config = try CLIPModel.load(path: path).config
        config.embedDim = 8
        let other = CLIPModel(randomWith: config, seed: 1)
        do {
            _ = try cleanCLIPOptimizerState(fromTorchCheckpoint: path, model: other)
            Issue.record("a state for embedDim 32 loaded into an embedDim 8 model")
        } catch let e as OptimizerStateError {
            let text = e.description
            #expect(text.contains("has shape") && (text.contains("text_projection") || text.contains("visual.proj")), "\(text)")
        }
    }

    /// A state dict of another architecture is refused by name.
    @Test func otherArchitectureIsRefused() throws {
        let vit = modelFixtures.appendingPathComponent("vit_quickgelu.cleanclip.pt").path
        let resnet = try CLIPModel.load(path: modelFixtures.appendingPathComponent("resnet.cleanclip.pt").path)
        #expect(throws: OptimizerStateError.self) { try cleanCLIPOptimizerState(fromTorchCheckpoint: vit, model: resnet) }
        // A file without an optimizer entry says so.
        let plain = modelFixtures.appendingPathComponent("vit_quickgelu.openclip.pt").path
        let model = try CLIPModel.load(path: plain)
        do {
            _ = try cleanCLIPOptimizerState(fromTorchCheckpoint: plain, model: model)
            Issue.record("no error for a checkpoint without optimizer state")
        } catch let e as OptimizerStateError {
            #expect(e.description.contains("no optimizer state"), "\(e)")
        }
    }
}

/// The supervised reference exempts only biases from weight decay.
@Test func biasOnlyNoDecayRule() {
    let ln = Tensor([1, 1], shape: [2]), bias = Tensor([1, 1], shape: [2])
    let opt = AdamW(parameters: [("visual.ln_post.weight", ln), ("head.bias", bias)],
                    config: AdamWConfig(weightDecay: 0.5, noDecay: .biasOnly))
    ln.grad = Tensor(zeros: [2]); bias.grad = Tensor(zeros: [2])
    opt.step(lr: 0.1)
    #expect(ln.array == [0.95, 0.95] && bias.array == [1, 1])
    #expect(AdamWConfig.NoDecayRule.cleanCLIP.takesWeightDecay("visual.ln_post.weight") == false)
}
