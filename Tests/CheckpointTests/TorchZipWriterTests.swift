import Checkpoint
import Foundation
import Testing

/// The torch zip writer's archives read back through our own torch reader, and the half
/// converter rounds as IEEE (and Swift's `Float16`) does.
@Suite struct TorchZipWriterTests {
    @Test func nestedValuesAndTensorsReadBack() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tzw-\(getpid()).pt").path
        defer { unlink(path) }
        let f = RawTensor(floats: [1, -2.5, 3, 4, 5, 6], shape: [2, 3])
        let h = RawTensor(halvesOf: [0.1, 65504], shape: [2])
        let i = try RawTensor(dtype: .i64, shape: [], bytes: withUnsafeBytes(of: Int64(7).littleEndian) { Array($0) })
        typealias V = TorchZipWriter.Value
        try TorchZipWriter.write(.dict([
            (.string("epoch"), .int(5)), (.string("big"), .int(1 << 40)), (.string("name"), .string("héllo")),
            (.string("lr"), .float(1e-5)), (.string("flags"), .tuple([.bool(true), .bool(false), .none])),
            (.string("empty"), .list([])), (.string("nothing"), .dict([])),
            (.string("state_dict"), .dict([(.string("w"), .tensor(f)), (.string("h"), .tensor(h)), (.string("n"), .tensor(i))])),
            (.string("by_index"), .dict([(.int(0), .list([.int(-1), .int(2)]))])),
        ]), to: path)
        let root = try CheckpointReader.readTorchPickle(path: path)
        #expect(root["epoch"]?.intValue == 5)
        #expect(root["big"]?.intValue == 1 << 40)
        #expect(root["name"]?.stringValue == "héllo")
        if case .float(let d)? = root["lr"] { #expect(d == 1e-5) } else { Issue.record("lr is not a float") }
        #expect(root["flags"]?.items?.count == 3)
        #expect(root["empty"]?.items?.isEmpty == true)
        #expect(root["nothing"]?.dictPairs?.isEmpty == true)
        #expect(root["by_index"]?.dictPairs?.first?.key.intValue == 0)
        let sd = root["state_dict"]
        #expect(sd?["w"]?.tensorValue?.shape == [2, 3])
        #expect(try sd?["w"]?.tensorValue?.toFloats() == [1, -2.5, 3, 4, 5, 6])
        #expect(sd?["h"]?.tensorValue?.dtype == .f16)
        #expect(try sd?["h"]?.tensorValue?.toFloats() == [Float(Float16(0.1)), 65504])
        #expect(try sd?["n"]?.tensorValue?.toInt64s() == [7])
        // Each stored tensor's data starts on a 64-byte boundary, as PyTorch writes it.
        let archive = try CheckpointReader.read(path: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(archive.tensors["w"] != nil)
        let marker = Data([0, 0, 128, 63, 0, 0, 32, 192])  // 1.0, -2.5
        if let r = bytes.range(of: marker) { #expect(r.lowerBound % 64 == 0) } else { Issue.record("tensor data not found") }
    }

    @Test func halfConversionRoundsToNearestEven() {
        var values: [Float] = [0, -0, 1, -1, 65504, 65519.996, 65520, -65520, 1e-8, 2.98e-8, 2.99e-8, 5.96e-8, 6.1e-5,
                               6.097e-5, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
                               1 + 1 / 2048, 1 + 3 / 2048, 2049, 2051]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200_000 {
            let f = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng))
            if !f.isNaN { values.append(f) }
        }
        for _ in 0..<100_000 { values.append(Float.random(in: -70000...70000, using: &rng)) }
        for _ in 0..<100_000 { values.append(Float.random(in: -1e-4...1e-4, using: &rng)) }
        let wrong = values.filter { floatToHalf($0) != Float16($0).bitPattern }
        #expect(wrong.isEmpty, "first mismatches: \(wrong.prefix(5))")
        #expect(Float16(bitPattern: floatToHalf(.nan)).isNaN)
    }
}
