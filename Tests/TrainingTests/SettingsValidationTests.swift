import CleanCLIP
import Foundation
import Testing

/// Issue 13, item 1: one validation of the finetuning settings. Each bad value is rejected by
/// `validate(naming:)`, which names that setting and no other, once; `Finetuner` and
/// `SupervisedFinetuner` refuse it through the same call (the C ABI and the CLI call it with
/// their own field names).
@Suite struct SettingsValidationTests {
    /// A setting, a bad value for it, and how to put it into either config.
    struct Bad: Sendable, CustomTestStringConvertible {
        let setting: FinetuneSetting
        let value: Double
        var testDescription: String { "\(setting) = \(value)" }

        func apply(_ c: inout FinetuneConfig) {
            let f = Float(value)
            switch setting {
            case .batchSize: c.batchSize = Int(value)
            case .epochs: c.epochs = Int(value)
            case .warmupSteps: c.warmupSteps = Int(value)
            case .lr: c.lr = f
            case .weightDecay: c.weightDecay = f
            case .beta1: c.beta1 = f
            case .beta2: c.beta2 = f
            case .eps: c.eps = f
            case .maxGradNorm: c.maxGradNorm = f
            case .clipWeight: c.clipWeight = f
            case .inmodalWeight: c.inmodalWeight = f
            case .classes: break
            }
        }

        func apply(_ c: inout SupervisedFinetuneConfig) {
            let f = Float(value)
            switch setting {
            case .batchSize: c.batchSize = Int(value)
            case .epochs: c.epochs = Int(value)
            case .warmupSteps: c.warmupSteps = Int(value)
            case .lr: c.lr = f
            case .weightDecay: c.weightDecay = f
            case .beta1: c.beta1 = f
            case .beta2: c.beta2 = f
            case .eps: c.eps = f
            case .maxGradNorm: c.maxGradNorm = f
            case .classes: c.classes = Int(value)
            case .clipWeight, .inmodalWeight: break
            }
        }
    }

    static let shared: [Bad] = [
        Bad(setting: .batchSize, value: 0), Bad(setting: .epochs, value: 0), Bad(setting: .epochs, value: 1_073_741_824),
        Bad(setting: .warmupSteps, value: -1), Bad(setting: .lr, value: 0), Bad(setting: .lr, value: .infinity),
        Bad(setting: .lr, value: .nan), Bad(setting: .weightDecay, value: -0.1), Bad(setting: .weightDecay, value: .nan),
        Bad(setting: .beta1, value: 1), Bad(setting: .beta1, value: -0.5), Bad(setting: .beta1, value: .nan),
        Bad(setting: .beta2, value: 1.5), Bad(setting: .beta2, value: .nan), Bad(setting: .eps, value: 0),
        Bad(setting: .eps, value: .infinity), Bad(setting: .maxGradNorm, value: 0), Bad(setting: .maxGradNorm, value: -1),
        Bad(setting: .maxGradNorm, value: .nan),
    ]
    static let contrastiveOnly: [Bad] = [
        Bad(setting: .clipWeight, value: -1), Bad(setting: .clipWeight, value: .nan),
        Bad(setting: .inmodalWeight, value: -1), Bad(setting: .inmodalWeight, value: .infinity),
    ]
    static let supervisedOnly: [Bad] = [Bad(setting: .classes, value: 1), Bad(setting: .classes, value: 1_048_576)]

    /// Runs `validate` with a naming function that records every name it is asked for.
    func rejection(_ validate: ((FinetuneSetting) -> String) throws -> Void) -> (FinetuneError?, [FinetuneSetting]) {
        var asked: [FinetuneSetting] = []
        do {
            try validate { asked.append($0); return "<\($0)>" }
            return (nil, asked)
        } catch {
            return (error as? FinetuneError, asked)
        }
    }

    @Test(arguments: shared + contrastiveOnly)
    func contrastiveRejectsTheBadSettingOnce(_ bad: Bad) throws {
        var c = FinetuneConfig()
        bad.apply(&c)
        let (error, asked) = rejection { try c.validate(naming: $0) }
        let e = try #require(error, "\(bad) was accepted")
        #expect(e.setting == bad.setting && asked == [bad.setting])
        #expect(e.description.hasPrefix("<\(bad.setting)> must be "), "\(e)")
        // The library's own names by default, and the finetuner refuses it through the same call.
        #expect(throws: FinetuneError.self) { try c.validate() }
    }

    @Test(arguments: shared + supervisedOnly)
    func supervisedRejectsTheBadSettingOnce(_ bad: Bad) throws {
        var c = SupervisedFinetuneConfig()
        bad.apply(&c)
        let (error, asked) = rejection { try c.validate(naming: $0) }
        let e = try #require(error, "\(bad) was accepted")
        #expect(e.setting == bad.setting && asked == [bad.setting])
        #expect(e.description.hasPrefix("<\(bad.setting)> must be "), "\(e)")
    }

    @Test func defaultsAndEdgesAreAccepted() throws {
        try FinetuneConfig().validate()
        try SupervisedFinetuneConfig().validate()
        var c = FinetuneConfig()
        c.beta1 = 0; c.beta2 = 0; c.weightDecay = 0; c.clipWeight = 0; c.inmodalWeight = 0; c.warmupSteps = 0
        c.maxGradNorm = 1e-3
        try c.validate()
    }

    @Test func finetunersUseTheSameValidation() throws {
        let dir = tempDir("validation")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let csv = try makeCSV(count: 8, in: dir)
        var c = tinyFinetuneConfig
        c.inmodal = false
        c.beta2 = 1
        do {
            _ = try Finetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: try ImageCaptionDataset(csvPath: csv), config: c)
            Issue.record("beta2 = 1 was accepted")
        } catch let e as FinetuneError {
            #expect(e.setting == .beta2 && e.description == "beta2 must be in [0, 1), got 1.0", "\(e)")
        }
        var s = SupervisedFinetuneConfig()
        s.batchSize = 4
        s.eps = -1
        do {
            _ = try SupervisedFinetuner(model: CLIPModel(randomWith: tinyConfig, seed: 1), dataset: try ImageLabelDataset(csvPath: csv), config: s)
            Issue.record("eps = -1 was accepted")
        } catch let e as FinetuneError {
            #expect(e.setting == .eps && e.description == "eps must be positive and finite, got -1.0", "\(e)")
        }
    }
}
