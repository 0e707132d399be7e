import Foundation

/// Whether operations record how their results were made, per thread.
///
/// Recording happens only when it is enabled on the current thread *and* some input of an
/// operation requires a gradient, so inference on frozen weights never pays for it.
package enum GradMode {
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    /// Recording is on by default; `withoutGrad` turns it off for a block.
    package static var isEnabled: Bool { pthread_getspecific(key) == nil }

    /// Runs `body` with recording off on this thread (like `torch.no_grad()`).
    package static func withoutGrad<T>(_ body: () throws -> T) rethrows -> T {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(key, previous) }
        return try body()
    }
}

/// One recorded operation: where the gradients of its inputs go, and how to compute them
/// from the gradient of its output.
///
/// A node holds the graph's structure, not its values. Its edges lead to the nodes that made
/// its inputs (and to the leaf tensors that accumulate gradients); the backward closure keeps
/// only the storage its formula reads (an input, the output, saved statistics). So a
/// recorded intermediate result is freed as soon as nothing reads it any more: a BatchNorm
/// output that only a ReLU consumes goes when the ReLU has run, since ReLU's backward reads
/// its own output, as PyTorch's in-place ReLU does.
final class GradNode {
    /// Where one input's gradient goes.
    struct Edge {
        /// The recorded operation that made the input (nil for leaves and constants).
        let node: GradNode?
        /// The input itself when it accumulates a gradient (`requiresGrad`), else nil.
        let leaf: Tensor?
        /// The input's shape (gradients are reshaped to it).
        let shape: [Int]
    }

    private(set) var edges: [Edge]
    /// nil once the node has run in backward (or was passed over): it then holds nothing.
    private(set) var backward: ((Tensor) -> [Tensor?])?

    init(edges: [Edge], backward: @escaping (Tensor) -> [Tensor?]) {
        self.edges = edges
        self.backward = backward
    }

    var isLive: Bool { backward != nil }

    /// Drops the backward closure (and the storage it saved) and the edges.
    func release() {
        backward = nil
        edges = []
    }
}

extension Tensor {
    /// Whether this tensor takes part in gradient computation.
    var tracksGrad: Bool { requiresGrad || node?.isLive == true }
}

/// Records `output = op(inputs)` when recording is on and any input tracks gradients.
/// `backward` maps the output gradient to one gradient per input (nil: no gradient).
///
/// The node keeps no input alive: `backward` must capture whatever it reads (a tensor, a
/// `detached()` view, a storage), and nothing else. Capturing `output` itself would make a
/// cycle (output -> node -> closure -> output); capture `output.storage` instead.
func record(_ output: Tensor, _ inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
    guard GradMode.isEnabled, inputs.contains(where: { $0.tracksGrad }) else { return }
    let edges = inputs.map { input in
        GradNode.Edge(node: input.node?.isLive == true ? input.node : nil,
                      leaf: input.requiresGrad ? input : nil, shape: input.shape)
    }
    output.node = GradNode(edges: edges, backward: backward)
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
    package func backward(gradient: Tensor? = nil) {
        let seed = gradient ?? Tensor(repeating: 1, shape: shape)
        precondition(seed.shape == shape, "gradient shape \(seed.shape) does not match \(shape)")
        let root = GradNode.Edge(node: node?.isLive == true ? node : nil, leaf: requiresGrad ? self : nil, shape: shape)
        GradMode.withoutGrad { Tensor.propagate(from: root, seed: seed) }
    }

    private static func propagate(from root: GradNode.Edge, seed: Tensor) {
        // A leaf's gradient is summed over its uses, then added to `grad` once every use has
        // delivered (a use whose backward gives no gradient delivers nil). Completed sums wait
        // in `done` until the graph is gone: a sum that nothing else holds then becomes `grad`
        // as it is, without a copy (a full model's worth of fresh memory every step otherwise).
        var leafGrads: [ObjectIdentifier: Tensor] = [:]
        var pendingUses: [ObjectIdentifier: Int] = [:]
        var done: [(leaf: Tensor, total: Tensor)] = []
        func arrive(_ g: Tensor?, at leaf: Tensor) {
            let key = ObjectIdentifier(leaf)
            let previous = leafGrads.removeValue(forKey: key)
            let total = g.map { g in previous.map { $0.adding(g) } ?? g } ?? previous
            let left = (pendingUses[key] ?? 1) - 1
            guard left == 0 else { leafGrads[key] = total; pendingUses[key] = left; return }
            pendingUses[key] = nil
            if let total { done.append((leaf, total)) }
        }
        defer {
            // Backward closures may return one tensor for several inputs, or a tensor that is
            // still held elsewhere: only a sum held by nothing but `done` is adopted.
            while case (let leaf, var total)? = done.popLast() {
                if let existing = leaf.grad {
                    existing.addInPlace(total)
                } else if isKnownUniquelyReferenced(&total), total.ownsStorageAlone() {
                    leaf.grad = total
                } else {
                    leaf.grad = total.copy()
                }
            }
        }
        // A node whose output is itself a leaf (`requiresGrad` on a computed tensor) passes its
        // whole gradient to that tensor as well.
        var outputLeaves: [ObjectIdentifier: Tensor] = [:]
        func countUse(_ e: GradNode.Edge) {
            guard let leaf = e.leaf else { return }
            if let n = e.node, n.isLive { outputLeaves[ObjectIdentifier(n)] = leaf } else { pendingUses[ObjectIdentifier(leaf), default: 0] += 1 }
        }
        countUse(root)
        guard let rootNode = root.node else {
            if let leaf = root.leaf { arrive(seed, at: leaf) }
            return
        }

        // Topological order by iterative depth-first search (post-order).
        var order: [GradNode?] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(GradNode, Bool)] = [(rootNode, false)]
        while let (n, expanded) = stack.popLast() {
            if expanded { order.append(n); continue }
            guard visited.insert(ObjectIdentifier(n)).inserted else { continue }
            stack.append((n, true))
            for e in n.edges {
                countUse(e)
                if let input = e.node, input.isLive, !visited.contains(ObjectIdentifier(input)) { stack.append((input, false)) }
            }
        }
        visited.removeAll()
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(rootNode): seed]
        var i = order.count - 1
        while i >= 0 {
            guard let n = order[i] else { i -= 1; continue }
            order[i] = nil
            i -= 1
            let key = ObjectIdentifier(n)
            let g = grads.removeValue(forKey: key)
            let inputGrads = g.map { g in n.backward.map { $0(g) } ?? [] } ?? []
            precondition(g == nil || inputGrads.count == n.edges.count,
                         "backward returned \(inputGrads.count) gradients for \(n.edges.count) inputs")
            for (j, e) in n.edges.enumerated() {
                let ig = j < inputGrads.count ? inputGrads[j] : nil
                if let ig { precondition(ig.count == e.shape.reduce(1, *), "gradient \(ig.shape) for tensor \(e.shape)") }
                let shaped = ig.map { $0.shape == e.shape ? $0 : $0.reshaped(e.shape) }
                if let input = e.node, input.isLive {
                    guard let shaped else { continue }
                    let k = ObjectIdentifier(input)
                    if let existing = grads[k] { grads[k] = existing.adding(shaped) } else { grads[k] = shaped }
                } else if let leaf = e.leaf {
                    arrive(shaped, at: leaf)
                }
            }
            n.release()  // free the graph behind us
            guard let g else { outputLeaves[key] = nil; continue }
            if let leaf = outputLeaves.removeValue(forKey: key) {
                if let existing = leaf.grad { existing.addInPlace(g) } else { leaf.grad = g.copy() }
            }
        }
    }

    /// Sets `grad` to nil (what `optimizer.zero_grad(set_to_none=True)` does).
    package func zeroGrad() { grad = nil }
}
