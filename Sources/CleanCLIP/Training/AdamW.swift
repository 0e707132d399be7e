import Foundation
import TensorCore

/// Hyperparameters of AdamW (`torch.optim.AdamW`) with CleanCLIP's parameter groups.
package struct AdamWConfig: Sendable, Equatable {
    package var beta1: Float
    package var beta2: Float
    package var eps: Float
    /// Decoupled weight decay for the parameters that take it (see `noDecay`).
    package var weightDecay: Float
    /// When set, gradients are rescaled so that their global L2 norm is at most this
    /// (`torch.nn.utils.clip_grad_norm_`) before the update.
    package var maxGradNorm: Float?
    /// Which parameters are exempt from weight decay.
    package var noDecay: NoDecayRule

    /// Parameter-name rules for the no-weight-decay group.
    package enum NoDecayRule: Sendable, Equatable {
        /// CleanCLIP's `src/main.py`: names containing "bn", "ln", "bias" or "logit_scale".
        case cleanCLIP
        /// The reference's supervised finetuning and linear probe (`src/evaluate.py`): names
        /// containing "bias" only.
        case biasOnly

        package func takesWeightDecay(_ name: String) -> Bool {
            switch self {
            case .cleanCLIP: return AdamWConfig.takesWeightDecay(name)
            case .biasOnly: return !name.contains("bias")
            }
        }
    }

    /// CleanCLIP's defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.1, no clipping.
    package init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0.1,
                maxGradNorm: Float? = nil, noDecay: NoDecayRule = .cleanCLIP) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.maxGradNorm = maxGradNorm
        self.noDecay = noDecay
    }

    /// CleanCLIP's grouping: no weight decay for parameters whose name contains "bn", "ln",
    /// "bias" or "logit_scale"; every other parameter decays. (As in the reference this is a
    /// substring rule on OpenAI names, so e.g. `downsample.1.weight`, a BatchNorm weight whose
    /// name lacks "bn", does decay.)
    package static func takesWeightDecay(_ name: String) -> Bool {
        !["bn", "ln", "bias", "logit_scale"].contains { name.contains($0) }
    }
}

/// An error importing optimizer state.
public struct OptimizerStateError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// AdamW exactly as `torch.optim.AdamW` (non-amsgrad) updates each parameter p with gradient g
/// at step t (counted from 1):
/// ```
/// p -= lr * wd * p                        (decoupled weight decay; wd = 0 outside the decay group)
/// m = m + (1 - beta1) (g - m)
/// v = beta2 v + (1 - beta2) g²
/// p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// ```
/// Parameters whose `grad` is nil are skipped (no decay, no moment update), as in PyTorch.
/// The step count is shared by all parameters (they are all stepped together in CleanCLIP).
package final class AdamW {
    package let config: AdamWConfig
    /// The parameters, in order, with their names.
    package let parameters: [(name: String, tensor: Tensor)]
    /// Steps taken so far.
    package private(set) var stepCount = 0
    private var expAvg: [Tensor]
    private var expAvgSq: [Tensor]
    private let decays: [Bool]

    package init(parameters: [(name: String, tensor: Tensor)], config: AdamWConfig = AdamWConfig()) {
        self.parameters = parameters
        self.config = config
        expAvg = parameters.map { Tensor(zeros: $0.tensor.shape) }
        expAvgSq = parameters.map { Tensor(zeros: $0.tensor.shape) }
        decays = parameters.map { config.noDecay.takesWeightDecay($0.name) }
    }

    /// Sets every parameter's gradient to nil.
    package func zeroGrad() { for p in parameters { p.tensor.grad = nil } }

    /// The global L2 norm of all gradients.
    package func gradientNorm() -> Float {
        Float(OptimizerKernels.sumOfSquares(parameters.compactMap(\.tensor.grad)).squareRoot())
    }

    /// One update with learning rate `lr`. Returns the gradient norm before any clipping.
    @discardableResult
    package func step(lr: Float) -> Float {
        let norm = gradientNorm()
        var clip: Float = 1
        if let maxNorm = config.maxGradNorm {
            clip = min(1, maxNorm / (norm + 1e-6))  // as clip_grad_norm_
        }
        stepCount += 1
        let t = Double(stepCount)
        let (b1, b2, eps) = (config.beta1, config.beta2, config.eps)
        let bc1 = 1 - pow(Double(b1), t), bc2Sqrt = (1 - pow(Double(b2), t)).squareRoot()
        let stepSize = Float(Double(lr) / bc1)
        let invBc2Sqrt = Float(1 / bc2Sqrt)
        var slots: [OptimizerKernels.AdamWSlot] = []
        for (k, p) in parameters.enumerated() {
            guard let grad = p.tensor.grad else { continue }  // as PyTorch: no gradient, no update
            precondition(grad.shape == p.tensor.shape, "AdamW: gradient \(grad.shape) for \(p.name) \(p.tensor.shape)")
            slots.append(.init(parameter: p.tensor, gradient: grad, expAvg: expAvg[k], expAvgSq: expAvgSq[k],
                               decay: decays[k] ? 1 - lr * config.weightDecay : 1))
        }
        OptimizerKernels.adamW(slots, clip: clip, beta1: b1, beta2: b2, stepSize: stepSize, invBias2Sqrt: invBc2Sqrt, eps: eps)
        return norm
    }

    /// The optimizer state as named tensors, for checkpoints: "step" (a one-element tensor
    /// holding the step count), then "exp_avg.<name>" and "exp_avg_sq.<name>" per parameter.
    package func state() -> [(String, Tensor)] {
        var out: [(String, Tensor)] = [("step", Tensor([Float(stepCount)], shape: []))]
        for (k, p) in parameters.enumerated() {
            out.append(("exp_avg.\(p.name)", expAvg[k].copy()))
            out.append(("exp_avg_sq.\(p.name)", expAvgSq[k].copy()))
        }
        return out
    }

    /// The most steps a state can record: "step" is saved as a float32 (as PyTorch does), which
    /// holds every integer up to 2^24 exactly.
    package static let maxStepCount = 1 << 24

    /// The step count of state written by `state()`: its "step" entry, which must be a whole
    /// number in 0...maxStepCount.
    package static func stepCount(in state: [(String, Tensor)]) throws -> Int {
        guard let step = state.first(where: { $0.0 == "step" })?.1, step.count == 1 else {
            throw OptimizerStateError("optimizer state has no 'step' entry")
        }
        let s = step.data[0]
        guard s >= 0, s <= Float(maxStepCount), s == s.rounded() else {  // NaN fails every comparison
            throw OptimizerStateError("optimizer state has step \(s); a step count is a whole number from 0 to \(maxStepCount)")
        }
        return Int(s)
    }

    /// Restores state written by `state()`. Every parameter's moments must be present with
    /// the parameter's shape; nothing is changed when a check fails.
    package func load(state: [(String, Tensor)]) throws {
        let steps = try Self.stepCount(in: state)
        let byName = Dictionary(state, uniquingKeysWith: { a, _ in a })
        var m: [Tensor] = [], v: [Tensor] = []
        for p in parameters {
            for (prefix, list) in [("exp_avg", 0), ("exp_avg_sq", 1)] {
                let key = "\(prefix).\(p.name)"
                guard let t = byName[key] else { throw OptimizerStateError("optimizer state is missing '\(key)'") }
                guard t.count == p.tensor.count else {
                    throw OptimizerStateError("optimizer state '\(key)' has shape \(t.shape); parameter has \(p.tensor.shape)")
                }
                let c = Tensor(zeros: p.tensor.shape)
                c.data.update(from: t.data, count: t.count)
                if list == 0 { m.append(c) } else { v.append(c) }
            }
        }
        let known = Set(parameters.flatMap { ["exp_avg.\($0.name)", "exp_avg_sq.\($0.name)"] } + ["step"])
        if let extra = byName.keys.sorted().first(where: { !known.contains($0) }) {
            throw OptimizerStateError("optimizer state has an entry for an unknown parameter: '\(extra)'")
        }
        expAvg = m
        expAvgSq = v
        stepCount = steps
    }
}
