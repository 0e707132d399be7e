/// GPT-2's reversible byte -> Unicode mapping (`bytes_to_unicode` in CLIP's tokenizer):
/// printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100, U+0101, ...
/// so that every UTF-8 byte becomes a visible character in the vocabulary.
enum ByteEncoder {
    /// `byteToScalar[b]` is the vocabulary character for byte `b`.
    static let byteToScalar: [Unicode.Scalar] = {
        let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        for b in printable { table[b] = Unicode.Scalar(UInt32(b))! }
        var next: UInt32 = 256
        for b in 0..<256 where !printable.contains(b) {
            table[b] = Unicode.Scalar(next)!
            next += 1
        }
        return table
    }()

    /// The byte order of CLIP's base vocabulary: printable bytes first, then the others.
    static let vocabularyOrder: [UInt8] = {
        let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        return (printable + (0..<256).filter { !printable.contains($0) }).map { UInt8($0) }
    }()

    static let scalarToByte: [UInt32: UInt8] = {
        var table: [UInt32: UInt8] = [:]
        for (b, scalar) in byteToScalar.enumerated() { table[scalar.value] = UInt8(b) }
        return table
    }()
}
