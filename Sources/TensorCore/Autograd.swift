import Foundation

/// Whether operations record how their results were made, per thread.
///
/// Recording happens only when it is enabled on the current thread *and* some input of an
/// operation requires a gradient, so inference on frozen weights never pays for it.
public enum GradMode {
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    /// Recording is on by default; `withoutGrad` turns it off for a block.
    public static var isEnabled: Bool { pthread_getspecific(key) == nil }

    /// Runs `body` with recording off on this thread (like `torch.no_grad()`).
    public static func withoutGrad<T>(_ body: () throws -> T) rethrows -> T {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(key, previous) }
        return try body()
    }
}

/// One recorded operation: its inputs and how to turn the gradient of its output into
/// gradients of those inputs.
final class GradNode {
    var inputs: [Tensor]
    var backward: ((Tensor) -> [Tensor?])?
    let id: Int

    private static var counter = 0
    private static let lock = NSLock()

    init(inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.inputs = inputs
        self.backward = backward
        GradNode.lock.lock()
        GradNode.counter += 1
        id = GradNode.counter
        GradNode.lock.unlock()
    }
}

extension Tensor {
    /// Whether this tensor takes part in gradient computation.
    var tracksGrad: Bool { requiresGrad || node != nil }
}

/// Records `output = op(inputs)` when recording is on and any input tracks gradients.
/// `backward` maps the output gradient to one gradient per input (nil: no gradient).
func record(_ output: Tensor, _ inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
    guard GradMode.isEnabled, inputs.contains(where: { $0.tracksGrad }) else { return }
    output.node = GradNode(inputs: inputs, backward: backward)
}

func recordUnary(_ output: Tensor, _ input: Tensor, backward: @escaping (Tensor) -> Tensor) {
    record(output, [input]) { [backward($0)] }
}

extension Tensor {
    /// Back-propagates from this tensor (a scalar loss unless `gradient` is given), adding into
    /// `grad` of every leaf with `requiresGrad`.
    ///
    /// Gradients of a tensor used several times are summed before they flow further. The
    /// recorded graph is released as it is consumed: each node's backward closure (and with it
    /// the activations it saved) is dropped as soon as it has run, so intermediate results are
    /// freed as backward proceeds. Backward closures run with recording off, so gradients never
    /// record a graph of their own.
    public func backward(gradient: Tensor? = nil) {
        let seed = gradient ?? Tensor(repeating: 1, shape: shape)
        precondition(seed.shape == shape, "gradient shape \(seed.shape) does not match \(shape)")
        GradMode.withoutGrad { Tensor.propagate(from: self, seed: seed) }
    }

    private static func propagate(from root: Tensor, seed: Tensor) {
        // Topological order by iterative depth-first search (post-order).
        var order: [Tensor?] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(root, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            guard visited.insert(ObjectIdentifier(t)).inserted else { continue }
            stack.append((t, true))
            for input in t.node?.inputs ?? [] where input.tracksGrad {
                if !visited.contains(ObjectIdentifier(input)) { stack.append((input, false)) }
            }
        }
        visited.removeAll()
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
        var i = order.count - 1
        while i >= 0 {
            guard let t = order[i] else { i -= 1; continue }
            order[i] = nil  // our reference goes; the tensor lives on only if someone else holds it
            i -= 1
            guard let g = grads.removeValue(forKey: ObjectIdentifier(t)) else { t.node = nil; continue }
            if let node = t.node, let fn = node.backward {
                let inputGrads = fn(g)
                precondition(inputGrads.count == node.inputs.count, "backward returned \(inputGrads.count) gradients for \(node.inputs.count) inputs")
                for (input, ig) in zip(node.inputs, inputGrads) {
                    guard let ig, input.tracksGrad else { continue }
                    precondition(ig.count == input.count, "gradient \(ig.shape) for tensor \(input.shape)")
                    let key = ObjectIdentifier(input)
                    let shaped = ig.shape == input.shape ? ig : ig.reshaped(input.shape)
                    if let existing = grads[key] { grads[key] = existing.adding(shaped) } else { grads[key] = shaped }
                }
            }
            t.node = nil  // free the graph behind us
            if t.requiresGrad {
                if let existing = t.grad { existing.addInPlace(g) } else { t.grad = g.copy() }
            }
        }
    }

    /// Sets `grad` to nil (what `optimizer.zero_grad(set_to_none=True)` does).
    public func zeroGrad() { grad = nil }
}
