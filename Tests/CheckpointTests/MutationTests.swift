import Checkpoint
import Foundation
import Testing

/// Corrupted copies of valid fixtures (seeded byte flips and truncations) must either load or
/// throw `CheckpointError` — never crash, hang or throw anything else.
@Suite("Corrupted files never crash the readers")
struct MutationTests {
    /// Deterministic xorshift generator so failures reproduce.
    struct XorShift {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let sources = ["bare_state_dict.pt", "multi_dtype.safetensors", "legacy.pt", "zip64.pt", "deflated.pt"]

    @Test(arguments: sources)
    func mutatedCopiesFailCleanly(_ file: String) throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(file)))
        let dir = try makeTemporaryDirectory()
        defer { removeTemporary(dir) }
        let path = dir + "/mutant"
        var rng = XorShift(state: 0x9E37_79B9_7F4A_7C15 ^ UInt64(original.count))
        var loaded = 0, refused = 0
        for round in 0..<100 {
            var bytes = [UInt8](original)
            if round % 5 == 0 {
                bytes.removeLast(1 + rng.below(bytes.count - 1))  // truncation
            } else {
                for _ in 0..<(1 + rng.below(4)) {
                    let i = rng.below(bytes.count)
                    bytes[i] = round % 2 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : bytes[i] ^ 0xFF
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let a = try CheckpointReader.read(path: path)
                for t in a.tensors.values { _ = try t.toFloats() }
                loaded += 1
            } catch is CheckpointError {
                refused += 1
            } catch {
                Issue.record("round \(round): unexpected error type \(type(of: error)): \(error)")
            }
        }
        #expect(loaded + refused == 100)
        #expect(refused > 0)
    }
}
