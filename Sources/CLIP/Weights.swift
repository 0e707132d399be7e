import ErrorKinds
import TensorCore

/// What a named tensor in a CLIP model is.
package enum WeightKind: Sendable {
    /// Trained by the optimiser.
    case parameter
    /// Running statistics (BatchNorm running_mean / running_var): saved, never trained.
    case buffer
    /// An integer counter saved as int64 (BatchNorm num_batches_tracked).
    case counter

    /// A counter's value as the int64 PyTorch stores. A file may hold NaN, a fraction or a count
    /// beyond int64 in a float tensor: anything but a whole number in 0..<2^63 is an error.
    static func count(_ value: Float, of name: String) throws -> Int64 {
        guard value >= 0, let n = Int64(exactly: value) else {
            throw WeightError("'\(name)' holds \(value); a counter must be a whole number from 0 to 2^63 - 1")
        }
        return n
    }
}

/// One entry of a model's state dict, in OpenAI / open_clip naming.
package struct NamedTensor {
    package let name: String
    package let tensor: Tensor
    package let kind: WeightKind
}

/// An error found while matching weights to a model: names the key and the shapes involved.
public struct WeightError: KindedError, Sendable {
    public let description: String
    /// `.malformedFile` unless the weights cannot be found (`.notFound`) or are not finite.
    public let errorKind: ErrorKind
    package init(_ description: String, kind: ErrorKind = .malformedFile) {
        self.description = description
        self.errorKind = kind
    }

    /// Two keys of one file that name the same weight once renamed (a stripped "module." prefix,
    /// Hugging Face naming). Keeping either one would be a silent, arbitrary choice.
    static func duplicate(_ a: String, _ b: String, name: String) -> WeightError {
        let both = [a, b].sorted()  // dictionary order varies from run to run; the message must not
        return WeightError("keys '\(both[0])' and '\(both[1])' both name the weight '\(name)'")
    }
}

/// Where a model's tensors come from while it is being built.
package protocol WeightSource {
    /// The tensor for `name`, which must have exactly `shape`.
    func tensor(_ name: String, shape: [Int], kind: WeightKind) throws -> Tensor
    /// Called once every tensor has been taken: reports keys nobody asked for.
    func finish() throws
}

/// Collects the tensors a model takes, in order, so the model can list its state dict.
final class WeightBuilder {
    let source: WeightSource
    private(set) var entries: [NamedTensor] = []

    init(_ source: WeightSource) { self.source = source }

    func callAsFunction(_ name: String, _ shape: [Int], kind: WeightKind = .parameter) throws -> Tensor {
        let t = try source.tensor(name, shape: shape, kind: kind)
        entries.append(NamedTensor(name: name, tensor: t, kind: kind))
        return t
    }
}

/// Tensors already in memory under OpenAI names, checked strictly: every key must be taken with
/// the shape the model expects, and no key may be left over.
package final class StateDict: WeightSource {
    package private(set) var tensors: [String: Tensor]
    private var taken = Set<String>()
    /// Keys that carry no weights and are dropped silently: JIT metadata and the causal masks
    /// TorchScript archives keep as attributes (`attn_mask`, recomputed here).
    static func isIgnorable(_ key: String) -> Bool {
        ["input_resolution", "context_length", "vocab_size"].contains(key) || key == "attn_mask" || key.hasSuffix(".attn_mask")
    }

    package init(_ tensors: [String: Tensor]) { self.tensors = tensors }

    package func has(_ name: String) -> Bool { tensors[name] != nil }
    package func shape(_ name: String) -> [Int]? { tensors[name]?.shape }
    package var keys: Dictionary<String, Tensor>.Keys { tensors.keys }

    package func tensor(_ name: String, shape: [Int], kind: WeightKind) throws -> Tensor {
        guard let t = tensors[name] else {
            if kind == .counter { taken.insert(name); return Tensor(zeros: shape) }
            throw WeightError("missing key '\(name)' (expected shape \(shape))")
        }
        // A 0-d scalar and a 1-element vector are the same thing for a counter or logit_scale.
        let sameCount = t.count == shape.reduce(1, *) && (t.rank <= 1 && shape.count <= 1)
        guard t.shape == shape || sameCount else {
            throw WeightError("shape mismatch for '\(name)': checkpoint has \(t.shape), model expects \(shape)")
        }
        if kind == .counter { for v in t.array { _ = try WeightKind.count(v, of: name) } }
        taken.insert(name)
        return t.shape == shape ? t : t.reshaped(shape)
    }

    package func finish() throws {
        let extra = tensors.keys.filter { !taken.contains($0) && !Self.isIgnorable($0) }.sorted()
        if !extra.isEmpty {
            let shown = extra.prefix(5).map { "'\($0)' \(tensors[$0]!.shape)" }.joined(separator: ", ")
            throw WeightError("unexpected key\(extra.count > 1 ? "s" : "") \(shown)\(extra.count > 5 ? " and \(extra.count - 5) more" : "")")
        }
    }
}
