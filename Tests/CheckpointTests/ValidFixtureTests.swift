import Checkpoint
import Foundation
import Testing

@Suite("Valid checkpoint fixtures")
struct ValidFixtureTests {
    @Test("every valid fixture loads with the expected names, shapes and values",
          arguments: Fixtures.validFiles)
    func loadsFixture(_ file: String) throws {
        let e = Fixtures.expected[file]!
        let archive = try CheckpointReader.read(path: Fixtures.path(file))
        #expect(archive.format.rawValue == e["format"] as? String)
        let order = e["order"] as! [String]
        let tensors = e["tensors"] as! [String: [String: Any]]
        #expect(Set(archive.tensors.keys) == Set(order))
        if archive.format != .safetensors {
            #expect(archive.order == order, "pickle order")
        } else {
            #expect(archive.order == order, "data-offset order")
        }
        for name in order {
            let t = try #require(archive.tensors[name], "missing \(name)")
            try expectTensor(t, matches: tensors[name]!, name: "\(file):\(name)")
        }
        let meta = e["metadata"] as! [String: String]
        for (k, v) in meta {
            #expect(archive.metadata[k] == v, "metadata \(k)")
        }
    }

    @Test func float32DataInTorchZipsIsZeroCopy() throws {
        let a = try CheckpointReader.read(path: Fixtures.path("bare_state_dict.pt"))
        let w = try #require(a.tensors["fc.weight"])
        let p = try #require(w.float32Pointer())
        #expect(UnsafeRawPointer(p) == w.bytes.baseAddress)
        #expect(p[0] == (try w.toFloats())[0])
    }

    @Test func unalignedSafetensorsStillLoads() throws {
        let a = try CheckpointReader.read(path: Fixtures.path("unaligned.safetensors"))
        let b = try #require(a.tensors["b_f32"])
        #expect(b.float32Pointer() == nil)  // misaligned: no zero-copy pointer
        #expect(try b.toFloats() == [1.5, -2.25, 3.0, 1e-3])
        #expect(try a.tensors["a_u8"]!.toInt64s() == [1, 2, 3])
    }

    @Test func safetensorsMetadataAndIntegers() throws {
        let a = try CheckpointReader.read(path: Fixtures.path("multi_dtype.safetensors"))
        #expect(a.metadata == ["format": "pt", "note": "checkpoint fixture"])
        #expect(try a.tensors["ids_i64"]!.toInt64s() == [0, 1, -2, 1 << 40])
        #expect(a.tensors["scalar_f32"]!.shape == [])
        #expect(a.tensors["scalar_f32"]!.count == 1)
        #expect(a.tensors["empty_f32"]!.count == 0)
        #expect(try a.tensors["empty_f32"]!.toFloats() == [])
    }

    @Test func cleanCLIPPrefixIsStrippedAndOptimizerIsReachable() throws {
        let path = Fixtures.path("cleanclip_style.pt")
        let a = try CheckpointReader.read(path: path)
        #expect(a.tensors.keys.allSatisfy { !$0.hasPrefix("module.") })
        #expect(a.metadata["epoch"] == "5")

        let root = try CheckpointReader.readTorchPickle(path: path)
        #expect(root["epoch"]?.intValue == 5)
        #expect(root["name"]?.stringValue == "cleanclip-fixture")
        let sd = try #require(root["state_dict"]?.dictPairs)
        #expect(sd.allSatisfy { $0.key.stringValue?.hasPrefix("module.") == true })

        let e = Fixtures.expected["cleanclip_style.pt"]!
        let expectedOpt = e["optimizer"] as! [String: [String: [String: Any]]]
        let opt = try #require(root["optimizer"])
        let state = try #require(opt["state"]?.dictPairs)
        #expect(state.count == expectedOpt.count)
        for (k, v) in state {
            let index = try #require(k.intValue, "optimizer state keyed by param index")
            let want = try #require(expectedOpt[String(index)])
            for field in ["step", "exp_avg", "exp_avg_sq"] {
                let t = try #require(v[field]?.tensorValue, "state[\(index)].\(field)")
                try expectTensor(t, matches: want[field]!, name: "optimizer.state[\(index)].\(field)")
            }
        }
        let groups = try #require(opt["param_groups"]?.items)
        let params = try #require(groups.first?["params"]?.items).compactMap(\.intValue)
        #expect(params == (e["optimizer_params"] as! [NSNumber]).map(\.intValue))
        if case .float(let lr)? = groups.first?["lr"] { #expect(lr == 1e-3) } else { Issue.record("lr is not a float") }
        if case .tuple(let betas)? = groups.first?["betas"] { #expect(betas.count == 2) } else { Issue.record("betas") }
    }

    @Test func nonContiguousViewsBecomeContiguousCopies() throws {
        let a = try CheckpointReader.read(path: Fixtures.path("noncontiguous.pt"))
        let base = try a.tensors["base"]!.toFloats()  // 4x6
        let t = try a.tensors["transposed"]!.toFloats()  // 6x4
        #expect(a.tensors["transposed"]!.shape == [6, 4])
        for i in 0..<6 { for j in 0..<4 { #expect(t[i * 4 + j] == base[j * 6 + i]) } }
        // A contiguous slice with an offset shares the file mapping (zero copy).
        let rows = a.tensors["rows_1_3"]!
        #expect(try rows.toFloats() == Array(base[6..<18]))
        #expect(rows.bytes.baseAddress == a.tensors["base"]!.bytes.baseAddress! + 6 * 4)
        #expect(try a.tensors["expanded"]!.toFloats() == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
        #expect(try a.tensors["scalar_view"]!.toFloats() == [base[2 * 6 + 3]])
    }

    @Test func fp16WidensExactly() throws {
        let a = try CheckpointReader.read(path: Fixtures.path("fp16.pt"))
        let w = try #require(a.tensors["fc.weight"])
        #expect(w.dtype == .f16)
        #expect(w.float32Pointer() == nil)
        var out = [Float](repeating: .nan, count: w.count)
        try out.withUnsafeMutableBufferPointer { try w.copyFloats(into: $0.baseAddress!) }
        #expect(out == (try w.toFloats()))
        #expect(a.tensors["bn1.num_batches_tracked"]?.dtype == .i64)
    }

    @Test func tensorsOutliveTheirArchive() throws {
        var t: RawTensor?
        do {
            let a = try CheckpointReader.read(path: Fixtures.path("bare_state_dict.pt"))
            t = a.tensors["fc.bias"]
        }
        let e = Fixtures.expected["bare_state_dict.pt"]!["tensors"] as! [String: [String: Any]]
        try expectTensor(t!, matches: e["fc.bias"]!, name: "fc.bias")
    }

    @Test func torchScriptArchiveIsWalkedIntoDottedNames() throws {
        let a = try CheckpointReader.read(path: Fixtures.path("torchscript.pt"))
        #expect(a.format == .torchScript)
        for name in ["visual.conv1.weight", "visual.transformer.resblocks.0.attn.in_proj_weight",
                     "visual.transformer.resblocks.0.attn.out_proj.weight", "transformer.resblocks.0.mlp.c_fc.weight",
                     "ln_final.weight", "logit_scale", "token_embedding.weight"] {
            #expect(a.tensors[name] != nil, "missing \(name)")
        }
        #expect(a.tensors.keys.allSatisfy { !$0.contains("training") })
        #expect(a.metadata["input_resolution"] == "8")
        #expect(a.metadata["context_length"] == "5")
        #expect(a.metadata["vocab_size"] == "11")
        #expect(try a.tensors["logit_scale"]!.toFloats() == [2.6592])
        let root = try CheckpointReader.readTorchPickle(path: Fixtures.path("torchscript.pt"))
        guard case .object(let cls, _, _) = root else { Issue.record("root is not an object"); return }
        #expect(cls.hasPrefix("__torch__."))
    }
}

@Suite("Checkpoint memory lifetime")
struct MappingLifetimeTests {
    /// Whether /proc/self/maps lists `path` (Linux only).
    static func isMapped(_ path: String) -> Bool {
        // procfs files report size 0, so read them with stdio rather than Foundation.
        guard let f = fopen("/proc/self/maps", "r") else { return false }
        defer { fclose(f) }
        var line: UnsafeMutablePointer<CChar>?
        var cap = 0
        defer { free(line) }
        while getline(&line, &cap, f) > 0 {
            if String(cString: line!).contains(path) { return true }
        }
        return false
    }

    /// The file is read into memory, never mapped: a mapping of the file kills the process with
    /// SIGBUS when the file is truncated while a tensor uses it (issue 12, item 9). So truncating
    /// it changes nothing, and the memory goes once no tensor refers to it.
    @Test(arguments: ["bare_state_dict.pt", "multi_dtype.safetensors", "torchscript.pt", "cleanclip_style.pt"])
    func fileIsCopiedAndReleasedWhenTheLastTensorDies(_ file: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporary(dir) }
        let copy = dir + "/" + file
        try FileManager.default.copyItem(atPath: Fixtures.path(file), toPath: copy)
        var kept: RawTensor?
        do {
            let a = try CheckpointReader.read(path: copy)
            kept = a.tensors[a.order[0]]
            _ = try CheckpointReader.readTorchPickle(path: copy)
        } catch let e as CheckpointError where file.hasSuffix(".safetensors") {
            #expect(e.reason.contains("not a torch checkpoint"))
        }
        weak var memory: AnyObject?
        do {
            let tensor = try #require(kept)
            let before = Array(tensor.bytes)
            #expect(!Self.isMapped(copy), "the file itself is mapped")
            #expect(truncate(copy, 0) == 0)
            #expect(Array(tensor.bytes) == before, "truncating the file changed a loaded tensor")
            memory = tensor.owner
        }
        #expect(memory != nil, "a live tensor keeps its memory")
        kept = nil
        #expect(memory == nil, "memory released once no tensor refers to it")
    }
}
