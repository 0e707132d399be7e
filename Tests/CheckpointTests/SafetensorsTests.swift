import Checkpoint
import Foundation
import Testing

/// Hand-built safetensors files: `header` is the JSON text, `data` the buffer after it.
private func safetensorsBytes(_ header: String, _ data: [UInt8], lengthOverride: UInt64? = nil) -> Data {
    var d = Data()
    var n = (lengthOverride ?? UInt64(header.utf8.count)).littleEndian
    withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
    d.append(contentsOf: Array(header.utf8))
    d.append(contentsOf: data)
    return d
}

@Suite("safetensors validation and writing")
struct SafetensorsTests {
    static let ok = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#

    /// (label, header, data, length override, expected message fragments)
    static let malformed: [(String, String, [UInt8], UInt64?, [String])] = [
        ("huge header length", ok, [UInt8](repeating: 0, count: 8), 1 << 40, ["header length", "limit"]),
        ("length past end", ok, [UInt8](repeating: 0, count: 8), 1000, ["past the end"]),
        ("not starting with {", " " + ok, [UInt8](repeating: 0, count: 8), nil, ["does not start with '{'"]),
        ("not JSON", #"{"a": nope}"#, [], nil, ["not valid JSON"]),
        ("truncated JSON", #"{"a":{"dtype":"F32""#, [], nil, ["not valid JSON"]),
        ("duplicate key", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
         [UInt8](repeating: 0, count: 8), nil, ["duplicate key 'a'"]),
        ("unknown dtype", #"{"a":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8), nil,
         ["tensor 'a'", "unsupported dtype 'F7'"]),
        ("negative dim", #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8), nil,
         ["tensor 'a'", "shape"]),
        ("fractional dim", #"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8), nil,
         ["tensor 'a'", "shape"]),
        ("missing offsets", #"{"a":{"dtype":"F32","shape":[2]}}"#, [UInt8](repeating: 0, count: 8), nil, ["tensor 'a'", "data_offsets"]),
        ("offsets outside", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, [0, 0, 0, 0], nil,
         ["tensor 'a'", "outside"]),
        ("end before begin", #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, [UInt8](repeating: 0, count: 8), nil,
         ["tensor 'a'", "end before begin"]),
        ("size mismatch", #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8), nil,
         ["tensor 'a'", "needs 12"]),
        ("overlap", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
         [UInt8](repeating: 0, count: 8), nil, ["tensor 'b'", "overlap"]),
        ("gap", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
         [UInt8](repeating: 0, count: 12), nil, ["tensor 'b'", "gap"]),
        ("trailing bytes", ok, [UInt8](repeating: 0, count: 12), nil, ["trailing"]),
        ("metadata not strings", #"{"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
         [UInt8](repeating: 0, count: 8), nil, ["__metadata__", "'k'"]),
        ("header not an object", "[1,2]", [], nil, ["does not start with '{'"]),
        ("entry not an object", #"{"a":3}"#, [], nil, ["tensor 'a'", "expected an object"]),
    ]

    @Test("malformed safetensors are refused", arguments: malformed.map(\.0))
    func malformedFile(_ label: String) throws {
        let (_, header, data, override, fragments) = Self.malformed.first { $0.0 == label }!
        let dir = try makeTemporaryDirectory()
        defer { removeTemporary(dir) }
        let path = dir + "/bad.safetensors"
        try safetensorsBytes(header, data, lengthOverride: override).write(to: URL(fileURLWithPath: path))
        expectCheckpointError(path, fragments) { _ = try CheckpointReader.read(path: path) }
        expectCheckpointError(path, fragments) { _ = try SafetensorsReader.read(path: path) }
    }

    @Test func headerPaddingAndEscapesAreAccepted() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporary(dir) }
        let path = dir + "/ok.safetensors"
        let header = #"{"a\"\u00e9":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}     "#
        var floats: [Float] = [1, -2]
        let data = floats.withUnsafeBytes { Array($0) }
        try safetensorsBytes(header, data).write(to: URL(fileURLWithPath: path))
        let a = try CheckpointReader.read(path: path)
        #expect(try a.tensors["a\"é"]?.toFloats() == [1, -2])
        floats = []
    }

    /// A header whose length has 0x80 as its low byte makes the file start like a pickle
    /// (PROTO); such a file is still safetensors.
    @Test func headerLengthStartingWith0x80IsStillSafetensors() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporary(dir) }
        let path = dir + "/x80.safetensors"
        let header = Self.ok + String(repeating: " ", count: 0x180 - Self.ok.utf8.count)
        let data = [Float](arrayLiteral: 3, 4).withUnsafeBytes { Array($0) }
        let bytes = safetensorsBytes(header, data)
        #expect(bytes.first == 0x80)
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(try CheckpointReader.read(path: path).tensors["a"]?.toFloats() == [3, 4])
        // The one detector that `cleanclip finetune --checkpoint` also asks (its own sniffing
        // sent such files to the pickle reader).
        #expect(CheckpointReader.container(path: path) == .safetensors)
        #expect(CheckpointReader.container(path: Fixtures.path("legacy.pt")) == .torch)
        #expect(CheckpointReader.container(path: Fixtures.path("bare_state_dict.pt")) == .torch)
        #expect(CheckpointReader.container(path: dir) == nil)
        expectCheckpointError(path, ["not a torch checkpoint"]) { _ = try CheckpointReader.readTorchPickle(path: path) }
    }

    @Test func writerRoundTripsEveryDtype() throws {
        let source = try CheckpointReader.read(path: Fixtures.path("multi_dtype.safetensors"))
        let dir = try makeTemporaryDirectory()
        defer { removeTemporary(dir) }
        let out = dir + "/copy.safetensors"
        var list = source.order.map { (name: $0, tensor: source.tensors[$0]!) }
        list.append((name: "made_here", tensor: RawTensor(floats: [0.5, 1.5, -3], shape: [3, 1])))
        list.append((name: "i64_here", tensor: try RawTensor(dtype: .i64, shape: [1], bytes: [7, 0, 0, 0, 0, 0, 0, 0])))
        try SafetensorsWriter.write(list, metadata: ["format": "pt", "who": "swift \"writer\""], to: out)

        let back = try CheckpointReader.read(path: out)
        #expect(back.metadata == ["format": "pt", "who": "swift \"writer\""])
        #expect(Set(back.tensors.keys) == Set(list.map(\.name)))
        for (name, t) in list {
            let b = try #require(back.tensors[name])
            #expect(b.dtype == t.dtype && b.shape == t.shape, "\(name)")
            #expect(Array(b.bytes) == Array(t.bytes), "\(name) bytes")
            if b.dtype == .f32 { #expect(b.float32Pointer() != nil, "\(name) aligned") }
        }
        // Header padded to 8 bytes, like the reference writer.
        let raw = try Data(contentsOf: URL(fileURLWithPath: out))
        let n = raw.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect(n % 8 == 0)
        // Same bytes as the Python-written fixture's tensor data for an identical input.
        let entries = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(entries == ["copy.safetensors"], "temporary files left behind: \(entries)")
    }

    @Test func failedWriteLeavesExistingFileAndNoTemporary() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporary(dir) }
        let path = dir + "/model.safetensors"
        let original = Data("precious".utf8)
        try original.write(to: URL(fileURLWithPath: path))
        let t = RawTensor(floats: [1, 2], shape: [2])
        // Duplicate names: refused before anything is written.
        expectCheckpointError(path, ["duplicate tensor name 'x'"]) {
            try SafetensorsWriter.write([(name: "x", tensor: t), (name: "x", tensor: t)], metadata: [:], to: path)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == original)
        // A rename that fails after the data was written (the target is a non-empty directory).
        let blocker = dir + "/blocked.safetensors"
        try FileManager.default.createDirectory(atPath: blocker + "/inside", withIntermediateDirectories: true)
        expectCheckpointError(blocker, ["rename"]) {
            try SafetensorsWriter.write([(name: "x", tensor: t)], metadata: [:], to: blocker)
        }
        let entries = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(entries == ["blocked.safetensors", "model.safetensors"], "temporary files left behind: \(entries)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == original)
        // And a successful write replaces the file atomically.
        try SafetensorsWriter.write([(name: "x", tensor: t)], metadata: [:], to: path)
        #expect(try CheckpointReader.read(path: path).tensors["x"]?.toFloats() == [1, 2])
    }

    @Test func rawTensorConversions() throws {
        // F16: 1.0, -2.0, smallest subnormal, +inf; BF16: 1.0, -0.5
        let h = try RawTensor(dtype: .f16, shape: [4], bytes: [0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x7C])
        #expect(try h.toFloats() == [1, -2, Float(bitPattern: 0x3380_0000), .infinity])
        let b = try RawTensor(dtype: .bf16, shape: [2], bytes: [0x80, 0x3F, 0x00, 0xBF])
        #expect(try b.toFloats() == [1, -0.5])
        let bools = try RawTensor(dtype: .bool, shape: [2], bytes: [1, 0])
        #expect(try bools.toFloats() == [1, 0])
        #expect(throws: CheckpointError.self) { try RawTensor(dtype: .f32, shape: [2], bytes: [0, 0, 0]) }
        #expect(throws: CheckpointError.self) { try RawTensor(floats: [1], shape: [1]).toInt64s() }
    }
}
