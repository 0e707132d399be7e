/// Reads `torch.save` files — the zip format (PyTorch >= 1.6) and the legacy stream — and
/// `torch.jit.save` archives into `PickleValue` trees, resolving storages to the file's bytes.
enum TorchArchiveReader {
    typealias PV = PickleMachine.PV

    struct Loaded {
        let value: PickleValue
        let format: CheckpointFormat
    }

    static func isZip(_ b: UnsafeRawBufferPointer) -> Bool {
        b.count >= 4 && b[0] == 0x50 && b[1] == 0x4B && (b[2] == 3 && b[3] == 4 || b[2] == 5 && b[3] == 6)
    }

    static func load(_ file: MappedFile) throws -> Loaded {
        if isZip(file.bytes) { return try loadZip(file) }
        if file.bytes.count >= 2, file.bytes[0] == 0x80 { return try loadLegacy(file) }
        throw CheckpointError(path: file.path, "not a torch checkpoint (neither a zip archive nor a pickle stream)")
    }

    // MARK: zip

    static func loadZip(_ file: MappedFile) throws -> Loaded {
        let path = file.path
        let zip = try ZipArchive(file: file)
        var budget = AllocationBudget(forFileSize: file.size)
        // The archive's top folder is whatever name it was saved under: find "<prefix>/data.pkl".
        let candidates = zip.entries.filter { e in
            e.name.hasSuffix("/data.pkl") && !e.name.dropLast("/data.pkl".count).contains("/")
        }
        guard let pkl = candidates.first else {
            throw CheckpointError(path: path, "zip archive has no '<archive>/data.pkl' entry: not a torch checkpoint")
        }
        let prefix = String(pkl.name.dropLast("data.pkl".count))  // "archive/"
        if let bo = zip.entry(prefix + "byteorder") {
            let (b, owner) = try zip.data(of: bo, budget: &budget, verifyCRC: true)
            let s = withExtendedLifetime(owner) { String(decoding: b.prefix(64), as: UTF8.self).trimmingWhitespace() }
            guard s == "little" else {
                throw CheckpointError(path: path, "byteorder is '\(s)': only little-endian checkpoints are supported")
            }
        }
        let isScript = zip.entry(prefix + "constants.pkl") != nil
            || zip.entries.contains { $0.name.hasPrefix(prefix + "code/") }
        let (pklBytes, pklOwner) = try zip.data(of: pkl, budget: &budget, verifyCRC: true)

        let m = PickleMachine(path: path, what: "\(pkl.name)", budget: budget)
        defer { m.persistentLoad = nil }  // the closure captures `m`: break the cycle
        var storages: [String: PickleMachine.Storage] = [:]
        m.persistentLoad = { pid in
            // ('storage', storage_type, key, location, numel)
            guard case .tuple(let t) = pid, t.items.count >= 5, case .string("storage") = t.items[0] else {
                throw m.error("unsupported persistent id (expected ('storage', type, key, location, numel))")
            }
            guard case .global(let g) = t.items[1], let dtype = PickleAllowList.dtype(ofGlobal: g) else {
                throw m.error("persistent id names an unsupported storage type (\(t.items[1].kind))")
            }
            guard case .string(let key) = t.items[2] else { throw m.error("persistent id key is not a string") }
            guard case .int(let numel) = t.items[4], numel >= 0 else { throw m.error("storage '\(key)': element count is not a non-negative int") }
            if let s = storages[key], s.dtype == dtype { return .storage(s) }
            guard let e = zip.entry(prefix + "data/" + key) else {
                throw m.error("storage '\(key)' has no zip entry '\(prefix)data/\(key)'")
            }
            var b = m.budget
            let (bytes, owner) = try zip.data(of: e, budget: &b)
            m.budget = b
            guard let need = multiplyChecked(numel, dtype.byteSize), need <= bytes.count else {
                throw m.error("storage '\(key)' claims \(numel) \(dtype.rawValue) elements but its entry holds \(bytes.count) bytes")
            }
            let s = PickleMachine.Storage(key: key, dtype: dtype)
            s.bytes = UnsafeRawBufferPointer(rebasing: bytes[0..<need])
            s.owner = owner
            storages[key] = s
            return .storage(s)
        }
        let (root, _) = try withExtendedLifetime(pklOwner) { try m.run(pklBytes) }
        let value = try m.convert(root)
        return Loaded(value: value, format: isScript ? .torchScript : .torchZip)
    }

    // MARK: legacy (torch.save with _use_new_zipfile_serialization=False)

    /// Layout: pickle(magic 0x1950a86a20f9469cfc6c), pickle(protocol 1001), pickle(sys_info),
    /// pickle(object), pickle(list of storage keys), then per key: u64 element count + raw data.
    static func loadLegacy(_ file: MappedFile) throws -> Loaded {
        let path = file.path
        let data = file.bytes
        var budget = AllocationBudget(forFileSize: file.size)
        func small(_ start: Int, _ what: String) throws -> (PickleValue, Int) {
            let m = PickleMachine(path: path, what: what, budget: budget)
            let (v, end) = try m.run(data, from: start)
            budget = m.budget
            return (try m.convert(v), end)
        }
        let (magic, p1) = try small(0, "legacy header")
        guard isLegacyMagic(magic) else {
            throw CheckpointError(path: path, "not a torch checkpoint (pickle stream without the torch.save magic number)")
        }
        let (proto, p2) = try small(p1, "legacy header")
        guard case .int(1001) = proto else { throw CheckpointError(path: path, "unsupported legacy torch protocol \(proto)") }
        let (sysInfo, p3) = try small(p2, "legacy sys_info")
        if case .bool(false)? = sysInfo["little_endian"] {
            throw CheckpointError(path: path, "saved on a big-endian machine: only little-endian checkpoints are supported")
        }

        let m = PickleMachine(path: path, what: "legacy pickle", budget: budget)
        defer { m.persistentLoad = nil }  // the closure captures `m`: break the cycle
        var storages: [String: PickleMachine.Storage] = [:]
        var views: [(PickleMachine.Storage, root: PickleMachine.Storage, offset: Int)] = []
        m.persistentLoad = { pid in
            // ('storage', storage_type, root_key, location, numel, view_metadata)
            guard case .tuple(let t) = pid, t.items.count >= 5, case .string("storage") = t.items[0] else {
                throw m.error("unsupported persistent id")
            }
            guard case .global(let g) = t.items[1], let dtype = PickleAllowList.dtype(ofGlobal: g) else {
                throw m.error("persistent id names an unsupported storage type")
            }
            guard case .string(let key) = t.items[2] else { throw m.error("persistent id key is not a string") }
            let root: PickleMachine.Storage
            if let s = storages[key] { root = s } else {
                root = PickleMachine.Storage(key: key, dtype: dtype)
                storages[key] = root
            }
            if t.items.count >= 6, case .tuple(let view) = t.items[5], view.items.count >= 3 {
                guard case .string(let vkey) = view.items[0], case .int(let off) = view.items[1], off >= 0 else {
                    throw m.error("bad storage view metadata")
                }
                let v = PickleMachine.Storage(key: vkey, dtype: dtype)
                views.append((v, root, off))
                return .storage(v)
            }
            return .storage(root)
        }
        let (rootV, p4) = try m.run(data, from: p3)
        let km = PickleMachine(path: path, what: "legacy storage keys", budget: m.budget)
        let (keysV, p5) = try km.run(data, from: p4)
        let keys = try km.convert(keysV)
        guard let keyList = keys.items else { throw CheckpointError(path: path, "legacy storage key list is not a list") }
        var pos = p5
        for k in keyList {
            guard let key = k.stringValue else { throw CheckpointError(path: path, "legacy storage key is not a string") }
            guard pos <= data.count - 8 else { throw CheckpointError(path: path, "truncated: storage '\(key)' size is missing") }
            let n = data.loadUnaligned(fromByteOffset: pos, as: UInt64.self).littleEndian
            pos += 8
            guard let s = storages[key] else { throw CheckpointError(path: path, "storage '\(key)' is listed but never referenced") }
            guard n <= UInt64(data.count - pos), let nb = multiplyChecked(Int(n), s.dtype.byteSize), nb <= data.count - pos else {
                throw CheckpointError(path: path, "truncated: storage '\(key)' claims \(n) elements beyond the end of the file")
            }
            s.bytes = UnsafeRawBufferPointer(rebasing: data[pos..<(pos + nb)])
            s.owner = file
            pos += nb
        }
        for (v, root, off) in views {
            guard let rb = root.bytes, let start = multiplyChecked(off, root.dtype.byteSize), start <= rb.count else {
                throw CheckpointError(path: path, "storage view '\(v.key)' lies outside storage '\(root.key)'")
            }
            v.bytes = UnsafeRawBufferPointer(rebasing: rb[start...])
            v.owner = file
        }
        return Loaded(value: try m.convert(rootV), format: .torchLegacy)
    }

    private static func isLegacyMagic(_ v: PickleValue) -> Bool {
        if case .bigInt(let b) = v {
            // 0x1950a86a20f9469cfc6c little-endian
            return b == [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
        }
        return false
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let ws: Set<Character> = [" ", "\n", "\r", "\t"]
        var s = Substring(self)
        while let f = s.first, ws.contains(f) { s = s.dropFirst() }
        while let l = s.last, ws.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
