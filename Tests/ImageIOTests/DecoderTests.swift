import Foundation
import ImageIO
import Testing

@Suite struct DecoderTests {
    @Test("decoding matches Pillow's convert(\"RGB\") byte for byte", arguments: Manifest.shared.images)
    func decodeMatchesPillow(_ fixture: Manifest.Image) throws {
        let image = try ImageDecoder.decode(path: Manifest.path(fixture.file))
        #expect(image.width == fixture.width && image.height == fixture.height)
        #expect(image.pixels.count == fixture.width * fixture.height * 3)
        if let decoded = fixture.decoded {
            let agreement = ByteAgreement(image.pixels, try Manifest.bytes(decoded))
            #expect(agreement.exactFraction == 1, "\(fixture.file) (\(fixture.pil_mode)): \(agreement)")
        }
        #expect(fnv1a64(image.pixels) == fixture.decoded_fnv1a64, "\(fixture.file) (\(fixture.pil_mode))")
    }

    @Test func decodingBytesEqualsDecodingTheFile() throws {
        for file in ["chelsea_q85.jpg", "coins_grey.png"] {
            let path = Manifest.path(file)
            let fromData = try ImageDecoder.decode(data: Manifest.bytes(file), name: file)
            #expect(fromData == (try ImageDecoder.decode(path: path)))
        }
    }

    @Test func rawBuffersAreChecked() throws {
        let image = try RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 4, 5, 6])
        let pixel = image[1, 0]
        #expect(pixel.r == 4 && pixel.g == 5 && pixel.b == 6)
        #expect(throws: ImageError.self) { try RGBImage(width: 2, height: 2, pixels: [1, 2, 3]) }
        #expect(throws: ImageError.self) { try RGBImage(width: 0, height: 2, pixels: []) }
    }

    /// Each bad file: the error kind and words its message must contain.
    static let badFiles: [(file: String, kind: ImageError.Kind, words: String)] = [
        ("truncated.jpg", .truncated, "truncated"),
        ("truncated_header.jpg", .truncated, "truncated"),
        ("truncated.png", .truncated, "truncated"),
        ("corrupt.png", .corrupt, "PNG: IDAT"),
        ("corrupt.jpg", .corrupt, "JPEG:"),
        ("empty.jpg", .empty, "empty"),
        ("not_an_image.jpg", .unsupportedFormat, "not a JPEG or PNG"),
        ("bomb.png", .tooLarge, "100000x100000 = 10000000000 pixels, above the limit of 178956970"),
        ("bomb.jpg", .tooLarge, "60000x60000 = 3600000000 pixels, above the limit of 178956970"),
        ("does_not_exist.png", .unreadable, "No such file or directory"),
    ]

    @Test("bad files give a clear error naming the file", arguments: badFiles)
    func badFileErrors(_ bad: (file: String, kind: ImageError.Kind, words: String)) {
        let path = Manifest.path("bad/\(bad.file)")
        do {
            let image = try ImageDecoder.decode(path: path)
            Issue.record("\(bad.file) decoded to \(image.width)x\(image.height) instead of failing")
        } catch let error as ImageError {
            #expect(error.kind == bad.kind, "\(error)")
            #expect(error.source == path)
            #expect(error.description.hasPrefix(path + ": "))
            #expect(error.description.contains(bad.words), "\(error)")
        } catch {
            Issue.record("unexpected error type: \(error)")
        }
    }

    @Test func pixelLimitIsConfigurable() throws {
        let path = Manifest.path("coffee_q90.jpg")  // 600x400
        #expect(throws: ImageError.self) { try ImageDecoder.decode(path: path, maxPixels: 239_999) }
        #expect(try ImageDecoder.decode(path: path, maxPixels: 240_000).width == 600)
    }

    @Test func aDirectoryIsNotAnImage() {
        let path = Manifest.directory.path
        #expect(throws: ImageError(.unreadable, source: path, detail: "not a regular file (a directory)")) {
            try ImageDecoder.decode(path: path)
        }
    }

    /// Prefixes of a JPEG and a PNG throw; none crashes or exits the process
    /// (libjpeg's default error handler would). A file missing only its end
    /// marker (JPEG EOI, PNG IEND: the last 12 bytes at most) still decodes,
    /// as in Pillow, so those prefixes are not tried.
    @Test func everyPrefixFailsCleanly() throws {
        for file in ["astronaut_256_q30.jpg", "astronaut_rgb16.png"] {
            let bytes = try Manifest.bytes(file)
            for length in stride(from: 0, to: bytes.count - 12, by: max(1, bytes.count / 97)) {
                #expect(throws: ImageError.self) {
                    try ImageDecoder.decode(data: Array(bytes[..<length]), name: "\(file)[..<\(length)]")
                }
            }
        }
    }

    @Test func randomCorruptionNeverCrashes() throws {
        var generator = SplitMix64(seed: 7)
        for file in ["chelsea_q85.jpg", "chelsea_palette.png"] {
            let original = try Manifest.bytes(file)
            for _ in 0..<40 {
                var bytes = original
                for _ in 0..<8 {
                    let index = Int(generator.next() % UInt64(bytes.count - 16)) + 16
                    bytes[index] = UInt8(truncatingIfNeeded: generator.next())
                }
                // Either outcome is fine; reaching the next line is the test.
                _ = try? ImageDecoder.decode(data: bytes, name: file)
            }
        }
    }
}

/// A small deterministic generator for fuzz-style tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
