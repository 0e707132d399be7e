import CLIP
import Checkpoint
import Foundation
import TensorCore
import Testing

/// Where committed fixtures live.
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

/// Reads a fixture safetensors file into Float32 tensors by name.
func loadTensors(_ path: String) throws -> [String: Tensor] {
    let archive = try SafetensorsReader.read(path: path)
    var out: [String: Tensor] = [:]
    for (name, raw) in archive.tensors { out[name] = try CLIPModel.tensor(from: raw) }
    return out
}

/// The largest absolute difference between two tensors of the same shape.
func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape) differ")
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a.data[i] - b.data[i])) }
    return m
}

/// Approximate equality as used by every parity check: shapes equal, and
/// max |a - b| <= atol * max(1, max |b|), i.e. `atol` is absolute for outputs of scale ~1 and
/// relative for larger ones.
func expectClose(_ a: Tensor, _ b: Tensor, atol: Float, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.shape == b.shape, "\(what): shape \(a.shape) vs expected \(b.shape)", sourceLocation: sourceLocation)
    guard a.shape == b.shape else { return }
    let scale = max(1, b.array.map(abs).max() ?? 0)
    let err = maxAbsDiff(a, b)
    #expect(err <= atol * scale, "\(what): max abs error \(err) > \(atol) x scale \(scale)", sourceLocation: sourceLocation)
}

extension Tensor {
    /// The elements as Int32 (token-id fixtures are stored as int32 and widened on load).
    var int32s: [Int32] { array.map { Int32($0) } }
}
