import CleanCLIP
import Foundation
import Testing

/// Committed fixtures for these tests (made by scripts/fixtures/make_backdoor_fixtures.py).
let backdoorFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").appendingPathComponent("backdoor")

/// A fixture file's tensors by name.
struct Fixture {
    let archive: TensorArchive
    init(_ name: String) throws {
        archive = try SafetensorsReader.read(path: backdoorFixtures.appendingPathComponent(name).path)
    }
    func raw(_ key: String) throws -> RawTensor {
        guard let t = archive.tensors[key] else { throw FixtureMissing(key: key) }
        return t
    }
    func floats(_ key: String) throws -> [Float] { try raw(key).toFloats() }
    func ints(_ key: String) throws -> [Int] { try raw(key).toInt64s().map { Int($0) } }
    func bytes(_ key: String) throws -> [UInt8] { try raw(key).toFloats().map { UInt8($0) } }
    func doubles(_ key: String) throws -> [Double] {
        let r = try raw(key)
        return (0..<r.count).map { r.bytes.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self) }
    }
    func tensor(_ key: String) throws -> Tensor { Tensor(try floats(key), shape: try raw(key).shape) }
}

struct FixtureMissing: Error, CustomStringConvertible {
    let key: String
    var description: String { "fixture has no tensor '\(key)'" }
}

/// Largest |a - b| over two equally long arrays (Float).
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "lengths \(a.count) and \(b.count) differ")
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Tolerance meaning used by the score checks: |a - b| <= tol * max(1, |b|) elementwise
/// (absolute for values of order one, relative for larger ones such as the 1000 sentinel).
func closeRelative(_ a: [Float], _ b: [Float], tol: Float) -> (ok: Bool, worst: Float) {
    var worst: Float = 0
    for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) / max(1, abs(y))) }
    return (a.count == b.count && worst <= tol, worst)
}
