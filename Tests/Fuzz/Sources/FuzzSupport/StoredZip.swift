/// Builds zip archives with stored (uncompressed) entries, the way `torch.save` writes them,
/// so that a fuzzed pickle can reach the pickle machine inside a valid archive (a mutated
/// archive mostly fails its CRC checks instead).
public enum StoredZip {
    public static func archive(_ entries: [(name: String, data: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = [], directory: [UInt8] = []
        func u16(_ v: Int, _ to: inout [UInt8]) { to += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: Int, _ to: inout [UInt8]) { u16(v & 0xFFFF, &to); u16(v >> 16 & 0xFFFF, &to) }
        for (name, data) in entries {
            let offset = out.count, crc = Int(crc32(data)), nameBytes = Array(name.utf8)
            u32(0x0403_4B50, &out); u16(20, &out); u16(0, &out); u16(0, &out); u32(0, &out)
            u32(crc, &out); u32(data.count, &out); u32(data.count, &out); u16(nameBytes.count, &out); u16(0, &out)
            out += nameBytes + data
            u32(0x0201_4B50, &directory); u16(20, &directory); u16(20, &directory); u16(0, &directory); u16(0, &directory)
            u32(0, &directory); u32(crc, &directory); u32(data.count, &directory); u32(data.count, &directory)
            u16(nameBytes.count, &directory); u16(0, &directory); u16(0, &directory); u16(0, &directory); u16(0, &directory)
            u32(0, &directory); u32(offset, &directory)
            directory += nameBytes
        }
        let directoryOffset = out.count
        out += directory
        u32(0x0605_4B50, &out); u16(0, &out); u16(0, &out); u16(entries.count, &out); u16(entries.count, &out)
        u32(directory.count, &out); u32(directoryOffset, &out); u16(0, &out)
        return out
    }

    /// The torch zip layout around a fuzzed `data.pkl`: storages "0" to "7" of 1 KiB each
    /// (enough for the seeds' tensors), and for TorchScript a `constants.pkl`.
    public static func torchArchive(pickle: [UInt8], torchScript: Bool) -> [UInt8] {
        var entries: [(name: String, data: [UInt8])] = [
            ("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8)), ("archive/version", Array("3\n".utf8)),
        ]
        for key in 0..<8 { entries.append(("archive/data/\(key)", (0..<1024).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ key) })) }
        if torchScript { entries.append(("archive/constants.pkl", [0x80, 0x02, 0x29, 0x2E])) }  // PROTO 2, EMPTY_TUPLE, STOP
        return archive(entries)
    }

    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in data { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
