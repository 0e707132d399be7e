import Foundation

/// The learning rate for each optimizer step.
///
/// `warmupCosine` is CleanCLIP's schedule, with `step` the 0-based global step index
/// (batches done so far across all epochs):
/// ```
/// step <  W:  lr * (step + 1) / W
/// step >= W:  0.5 * (1 + cos(pi * (step - W) / (T - W))) * lr,   T = batches per epoch * epochs
/// ```
/// The reference (`src/scheduler.py` driven from `src/train.py`) passes a step that is already
/// one epoch ahead (`num_batches * epoch + index` with epochs counted from 1), so its first
/// epoch starts past the warmup. Here the first step of training is step 0 and gets
/// lr / W. Steps at or after T get 0 (the cosine is not continued past its end).
package enum LRSchedule: Sendable, Equatable {
    case constant(Float)
    case warmupCosine(baseLR: Float, warmupSteps: Int, totalSteps: Int)

    package func lr(at step: Int) -> Float {
        switch self {
        case .constant(let lr):
            return lr
        case let .warmupCosine(base, warmup, total):
            if step < warmup { return base * Float(step + 1) / Float(warmup) }
            if step >= total { return 0 }
            let e = Double(step - warmup), es = Double(max(total - warmup, 1))
            return Float(0.5 * (1 + cos(Double.pi * e / es)) * Double(base))
        }
    }
}
