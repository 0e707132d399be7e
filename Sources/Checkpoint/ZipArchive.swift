import CZlib

/// A read-only view of a zip archive held in memory (`MappedFile`): the central directory is parsed
/// (zip64 included), entries are located through their local headers, stored entries are
/// returned zero-copy and deflated ones are inflated with zlib into an owned buffer.
/// Every offset and size is checked against the file before use.
struct ZipArchive {
    struct Entry {
        let name: String
        let method: UInt16
        let flags: UInt16
        let crc32: UInt32
        let compressedSize: Int
        let uncompressedSize: Int
        let localHeaderOffset: Int
    }

    let file: MappedFile
    /// Entries in central-directory order.
    let entries: [Entry]
    let byName: [String: Int]

    private static let maxEntries = 1_000_000

    init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        func err(_ m: String) -> CheckpointError { CheckpointError(path: path, "zip: " + m) }
        let b = file.bytes
        let size = b.count
        func u16(_ o: Int) -> Int { Int(b.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian) }
        func u32(_ o: Int) -> Int { Int(b.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian) }
        func u64(_ o: Int) throws -> Int {
            let v = b.loadUnaligned(fromByteOffset: o, as: UInt64.self).littleEndian
            guard v <= UInt64(Int.max / 2) else { throw err("64-bit field at byte \(o) is out of range (\(v))") }
            return Int(v)
        }

        // End of central directory: last 22..65557 bytes.
        guard size >= 22 else { throw err("file too short (\(size) bytes) for a zip archive") }
        var eocd = -1
        var p = size - 22
        let lowest = max(0, size - 22 - 65535)
        while p >= lowest {
            if u32(p) == 0x0605_4B50 { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else { throw err("end of central directory record not found") }
        var count = u16(eocd + 10)
        var cdSize = u32(eocd + 12)
        var cdOffset = u32(eocd + 16)
        // zip64 locator sits just before the EOCD.
        if eocd >= 20, u32(eocd - 20) == 0x0706_4B50 {
            let z64 = try u64(eocd - 20 + 8)
            guard z64 <= size - 56, u32(z64) == 0x0606_4B50 else {
                throw err("zip64 end of central directory record offset \(z64) is invalid")
            }
            count = try u64(z64 + 32)
            cdSize = try u64(z64 + 40)
            cdOffset = try u64(z64 + 48)
        }
        guard count <= Self.maxEntries else { throw err("claims \(count) entries (limit \(Self.maxEntries))") }
        guard cdOffset <= size, cdSize <= size - cdOffset else {
            throw err("central directory [\(cdOffset), +\(cdSize)) lies outside the \(size)-byte file")
        }

        var entries: [Entry] = []
        var byName: [String: Int] = [:]
        entries.reserveCapacity(count)
        var q = cdOffset
        let cdEnd = cdOffset + cdSize
        for k in 0..<count {
            guard q + 46 <= cdEnd, u32(q) == 0x0201_4B50 else {
                throw err("central directory entry \(k) at byte \(q) is missing or truncated")
            }
            let flags = UInt16(u16(q + 8))
            let method = UInt16(u16(q + 10))
            let crc = UInt32(u32(q + 16))
            var csize = u32(q + 20)
            var usize = u32(q + 24)
            let nameLen = u16(q + 28), extraLen = u16(q + 30), commentLen = u16(q + 32)
            var local = u32(q + 42)
            let recEnd = q + 46 + nameLen + extraLen + commentLen
            guard recEnd <= cdEnd else { throw err("central directory entry \(k) runs past the directory") }
            let nameBytes = UnsafeRawBufferPointer(rebasing: b[(q + 46)..<(q + 46 + nameLen)])
            let name = String(decoding: nameBytes, as: UTF8.self)
            // zip64 extended information: only the fields whose 32-bit value is saturated, in order.
            var e = q + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = u16(e), len = u16(e + 2)
                guard e + 4 + len <= extraEnd else { throw err("entry '\(name)': extra field runs past its record") }
                if id == 0x0001 {
                    var f = e + 4
                    func next() throws -> Int {
                        guard f + 8 <= e + 4 + len else { throw err("entry '\(name)': zip64 extra field is too short") }
                        defer { f += 8 }
                        return try u64(f)
                    }
                    if usize == 0xFFFF_FFFF { usize = try next() }
                    if csize == 0xFFFF_FFFF { csize = try next() }
                    if local == 0xFFFF_FFFF { local = try next() }
                }
                e += 4 + len
            }
            guard local <= size - 30 else {
                throw err("entry '\(name)': local header offset \(local) lies outside the \(size)-byte file")
            }
            if byName[name] == nil { byName[name] = entries.count }
            entries.append(Entry(name: name, method: method, flags: flags, crc32: crc,
                                 compressedSize: csize, uncompressedSize: usize, localHeaderOffset: local))
            q = recEnd
        }
        self.entries = entries
        self.byName = byName
    }

    func entry(_ name: String) -> Entry? { byName[name].map { entries[$0] } }

    /// The entry's bytes: a zero-copy slice of the map for stored entries, an inflated owned
    /// buffer for deflated ones (`budget` is charged for the inflated size). `verifyCRC` checks
    /// the CRC-32 (always done for inflated data).
    func data(of e: Entry, budget: inout AllocationBudget, verifyCRC: Bool = false)
        throws -> (bytes: UnsafeRawBufferPointer, owner: AnyObject)
    {
        let path = file.path
        func err(_ m: String) -> CheckpointError { CheckpointError(path: path, "zip entry '\(e.name)': " + m) }
        let b = file.bytes
        let o = e.localHeaderOffset
        guard b.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian == 0x0403_4B50 else {
            throw err("no local file header at byte \(o)")
        }
        if e.flags & 1 != 0 { throw err("is encrypted") }
        let nameLen = Int(b.loadUnaligned(fromByteOffset: o + 26, as: UInt16.self).littleEndian)
        let extraLen = Int(b.loadUnaligned(fromByteOffset: o + 28, as: UInt16.self).littleEndian)
        let start = o + 30 + nameLen + extraLen
        guard start <= b.count, e.compressedSize <= b.count - start else {
            throw err("data [\(start), +\(e.compressedSize)) runs past the end of the \(b.count)-byte file (truncated archive?)")
        }
        let raw = UnsafeRawBufferPointer(rebasing: b[start..<(start + e.compressedSize)])
        switch e.method {
        case 0:
            guard e.compressedSize == e.uncompressedSize else {
                throw err("stored entry has compressed size \(e.compressedSize) != uncompressed size \(e.uncompressedSize)")
            }
            if verifyCRC, zipCRC32(raw) != e.crc32 { throw err("CRC-32 mismatch (corrupted data)") }
            return (raw, file)
        case 8:
            try budget.charge(e.uncompressedSize, path: path, what: "inflating zip entry '\(e.name)'")
            let out = OwnedBuffer(count: e.uncompressedSize)
            var stream = z_stream()
            guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw err("zlib inflateInit failed")
            }
            defer { inflateEnd(&stream) }
            var inPos = 0, outPos = 0
            var status: Int32 = Z_OK
            // Feed in chunks so sizes always fit zlib's 32-bit counters.
            while status != Z_STREAM_END {
                let inChunk = min(raw.count - inPos, 1 << 30)
                let outChunk = min(out.count - outPos, 1 << 30)
                stream.next_in = UnsafeMutablePointer(mutating: raw.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) + inPos })
                stream.avail_in = UInt32(inChunk)
                stream.next_out = (out.pointer + outPos).assumingMemoryBound(to: UInt8.self)
                stream.avail_out = UInt32(outChunk)
                status = inflate(&stream, Z_NO_FLUSH)
                inPos += inChunk - Int(stream.avail_in)
                outPos += outChunk - Int(stream.avail_out)
                if status == Z_STREAM_END { break }
                if status == Z_BUF_ERROR || status == Z_OK {
                    if outPos == out.count { throw err("inflates to more than the declared \(e.uncompressedSize) bytes") }
                    if inPos == raw.count { throw err("deflate stream is truncated") }
                    continue
                }
                throw err("deflate stream is corrupt (zlib status \(status))")
            }
            guard outPos == e.uncompressedSize else {
                throw err("inflated to \(outPos) bytes, declared \(e.uncompressedSize)")
            }
            if zipCRC32(out.bytes) != e.crc32 { throw err("CRC-32 mismatch after inflating (corrupted data)") }
            return (out.bytes, out)
        default:
            throw err("unsupported compression method \(e.method)")
        }
    }

}

/// The CRC-32 of a zip entry's bytes (zlib's, in chunks that fit its 32-bit length), for
/// reading (`ZipArchive`) and writing (`TorchZipWriter`) alike.
func zipCRC32(_ b: UnsafeRawBufferPointer) -> UInt32 {
    var c: uLong = crc32(0, nil, 0)
    var pos = 0
    while pos < b.count {
        let n = min(b.count - pos, 1 << 30)
        c = crc32(c, b.baseAddress!.assumingMemoryBound(to: UInt8.self) + pos, uInt(n))
        pos += n
    }
    return UInt32(truncatingIfNeeded: c)
}

/// A cap on the bytes a loader may allocate beyond the file's own bytes (inflated entries,
/// non-contiguous tensor copies, pickle strings), so hostile files cannot claim huge buffers.
struct AllocationBudget {
    private(set) var remaining: Int

    init(limit: Int) { remaining = limit }

    /// Default for a file: three times its size plus 64 MiB.
    init(forFileSize size: Int) { remaining = size.multipliedReportingOverflow(by: 3).partialValue &+ (64 << 20) }

    mutating func charge(_ n: Int, path: String, what: String) throws {
        guard n >= 0, n <= remaining else {
            throw CheckpointError(path: path, "\(what) would allocate \(n) bytes, over the loader's allocation limit (\(remaining) bytes left)")
        }
        remaining -= n
    }
}
