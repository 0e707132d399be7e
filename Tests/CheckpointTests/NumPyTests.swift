import Checkpoint
import Foundation
import Testing

@Suite struct NumPyTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("npy-\(getpid())").path

    init() throws { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }

    @Test func roundTripsFloatsAndInts() throws {
        let f = dir + "/f.npy", i = dir + "/i.npy"
        try NumPy.write([Float](arrayLiteral: 1, -2.5, 3, 4, 5, 6), shape: [2, 3], to: f)
        let a = try NumPy.read(path: f)
        #expect(a.shape == [2, 3] && a.descr == "<f4")
        #expect(try NumPy.floats(a, path: f) == [1, -2.5, 3, 4, 5, 6])
        try NumPy.write([Int32](arrayLiteral: 49406, 7, 49407), shape: [3], to: i)
        let b = try NumPy.read(path: i)
        #expect(b.shape == [3])
        #expect(try NumPy.int32s(b, path: i) == [49406, 7, 49407])
        // The header is 64-byte aligned as numpy writes it.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: f))
        #expect((10 + Int(bytes[8]) + Int(bytes[9]) << 8) % 64 == 0)
    }

    @Test func rejectsMalformedFiles() throws {
        func expectError(_ bytes: [UInt8], _ fragment: String) throws {
            let p = dir + "/bad.npy"
            try Data(bytes).write(to: URL(fileURLWithPath: p))
            do {
                let a = try NumPy.read(path: p)
                _ = try NumPy.floats(a, path: p)
                Issue.record("accepted a malformed file (\(fragment))")
            } catch let e as CheckpointError {
                #expect(e.description.contains(fragment), "\(e)")
            }
        }
        func npy(_ header: String, body: [UInt8]) -> [UInt8] {
            var h = Array(header.utf8)
            h += [UInt8](repeating: 32, count: (64 - (10 + h.count + 1) % 64) % 64) + [10]
            return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.count & 0xFF), UInt8(h.count >> 8)] + h + body
        }
        try expectError(Array("not numpy".utf8), "bad magic")
        try expectError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", body: [0, 0, 0, 0]), "needs 8")
        try expectError(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", body: [0, 0, 0, 0]), "unsupported .npy dtype")
        try expectError(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", body: [0, 0, 0, 0]), "Fortran")
        try expectError(npy("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", body: [0, 0, 0, 0]), "expected float32")
        // Found by fuzzing: a ')' before the '(' made the shape's range run backwards (a trap).
        try expectError(npy("{'descr': '|u1', 'shape': ), (2, }", body: [0, 0]), "no shape")
        #expect(throws: CheckpointError.self) { try NumPy.read(path: dir + "/missing.npy") }
    }

    /// Shape products that overflow used to wrap (to 0 here, so a 128-byte file passed as an
    /// array of 2^64 elements and `embed` crashed slicing it); they are errors now.
    @Test(arguments: ["(4294967296, 4294967296)", "(4611686018427387904, 4)", "(2305843009213693952,)"])
    func shapeProductsThatOverflowAreRefused(_ shape: String) throws {
        let p = dir + "/overflow-\(UUID().uuidString).npy"
        var h = Array("{'descr': '<f8', 'fortran_order': False, 'shape': \(shape), }".utf8)
        h += [UInt8](repeating: 32, count: (64 - (10 + h.count + 1) % 64) % 64) + [10]
        try Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.count & 0xFF), UInt8(h.count >> 8)] + h)
            .write(to: URL(fileURLWithPath: p))
        do {
            let a = try NumPy.read(path: p)
            Issue.record("accepted shape \(a.shape) with no data")
        } catch let e as CheckpointError {
            #expect(e.description.contains("is too large"), "\(e)")
        }
    }
}
