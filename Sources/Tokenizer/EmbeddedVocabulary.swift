import CVocab
import CZlib

/// The OpenAI CLIP merges file compiled into the binary (see Sources/CVocab), gunzipped.
enum EmbeddedVocabulary {
    /// The text of `bpe_simple_vocab_16e6.txt`.
    static func mergesText() throws -> String {
        let size = cvocab_size()
        guard let data = cvocab_data(), size > 0 else {
            throw TokenizerError(.malformedVocabulary, "the embedded vocabulary is missing")
        }
        let bytes = try gunzip(UnsafeBufferPointer(start: data, count: size))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Inflates a gzip stream with zlib.
    static func gunzip(_ input: UnsafeBufferPointer<UInt8>) throws -> [UInt8] {
        var stream = z_stream()
        // 15 + 16: a gzip header is expected.
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw TokenizerError(.malformedVocabulary, "zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        output.reserveCapacity(input.count * 3)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.avail_in = UInt32(input.count)
        var status: Int32 = Z_OK
        repeat {
            let produced: Int = chunk.withUnsafeMutableBufferPointer { buffer in
                stream.next_out = buffer.baseAddress
                stream.avail_out = UInt32(buffer.count)
                status = inflate(&stream, Z_NO_FLUSH)
                return buffer.count - Int(stream.avail_out)
            }
            guard status == Z_OK || status == Z_STREAM_END else {
                throw TokenizerError(.malformedVocabulary, "the vocabulary is not valid gzip (zlib status \(status))")
            }
            output += chunk[..<produced]
        } while status != Z_STREAM_END
        return output
    }
}
