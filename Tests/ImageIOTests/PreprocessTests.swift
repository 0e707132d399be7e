import ImageIO
import Testing

@Suite struct PreprocessTests {
    static let preprocess = CLIPPreprocessor(size: 224)

    /// Acceptance: within 1/255 of open_clip after de-normalising, at least 99%
    /// of elements exactly equal. What is achieved is 100% exact, so that is
    /// what the test holds us to.
    @Test("resize + centre crop matches open_clip's transform", arguments: Manifest.shared.images)
    func matchesOpenCLIP(_ fixture: Manifest.Image) throws {
        let image = try ImageDecoder.decode(path: Manifest.path(fixture.file))
        let cropped = Self.preprocess.resizedAndCropped(image)
        try #require(cropped.width == 224 && cropped.height == 224)
        let agreement = ByteAgreement(cropped.pixels, try Manifest.bytes(fixture.clip224))
        #expect(agreement.maxDifference <= 1 && agreement.exactFraction >= 0.99, "\(fixture.file): \(agreement)")
        #expect(agreement.exactFraction == 1, "\(fixture.file): \(agreement)")
    }

    @Test("floor rounding matches Hugging Face's centre crop",
          arguments: Manifest.shared.images.filter { $0.clip224_floor != nil })
    func floorCrop(_ fixture: Manifest.Image) throws {
        let image = try ImageDecoder.decode(path: Manifest.path(fixture.file))
        let floor = CLIPPreprocessor(size: 224, cropRounding: .floor).resizedAndCropped(image)
        #expect(floor.pixels == (try Manifest.bytes(fixture.clip224_floor!)))
        #expect(floor != Self.preprocess.resizedAndCropped(image))
    }

    /// The normalised tensor equals torchvision's ToTensor + Normalize bit for
    /// bit: the fixture table is torch's output for every uint8 value.
    @Test func normalisationMatchesTorch() throws {
        let table = try Manifest.floats(Manifest.shared.normalize_table)
        try #require(table.count == 3 * 256)
        let image = try ImageDecoder.decode(path: Manifest.path("astronaut_q95.jpg"))
        let cropped = Self.preprocess.resizedAndCropped(image)
        let tensor = Self.preprocess(image)
        try #require(tensor.count == 3 * 224 * 224)
        var mismatches = 0
        for channel in 0..<3 {
            for i in 0..<(224 * 224) {
                let expected = table[channel * 256 + Int(cropped.pixels[3 * i + channel])]
                if tensor[channel * 224 * 224 + i].bitPattern != expected.bitPattern { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func writesIntoACallerBuffer() throws {
        let image = try ImageDecoder.decode(path: Manifest.path("chelsea_q85.jpg"))
        var batch = [Float](repeating: .nan, count: 2 * 3 * 224 * 224)
        batch.withUnsafeMutableBufferPointer { buffer in
            Self.preprocess.preprocess(image, into: UnsafeMutableBufferPointer(rebasing: buffer[(3 * 224 * 224)...]))
        }
        #expect(Array(batch[(3 * 224 * 224)...]) == Self.preprocess(image))
        #expect(batch[0].isNaN)
    }

    @Test func resizedSizeTruncatesTheLongSideLikeTorchvision() {
        #expect(CLIPPreprocessor.resizedSize(width: 1000, height: 750, shortSide: 224) == (298, 224))
        #expect(CLIPPreprocessor.resizedSize(width: 225, height: 1000, shortSide: 224) == (224, 995))
        #expect(CLIPPreprocessor.resizedSize(width: 1, height: 500, shortSide: 224) == (224, 112_000))
        #expect(CLIPPreprocessor.resizedSize(width: 224, height: 224, shortSide: 224) == (224, 224))
    }

    /// Preprocessing resamples only the crop window; that must equal resizing
    /// the whole image and cropping it.
    @Test func windowedResizeEqualsResizeThenCrop() throws {
        for file in ["rocket_q75.jpg", "retina_225x1000_q90.jpg", "tiny_3x3.png"] {
            let image = try ImageDecoder.decode(path: Manifest.path(file))
            for size in [224, 97] {
                let preprocess = CLIPPreprocessor(size: size)
                let (width, height) = CLIPPreprocessor.resizedSize(width: image.width, height: image.height, shortSide: size)
                let full = try resize(image, width: width, height: height, filter: .bicubic)
                let x = Int((Double(width - size) / 2).rounded(.toNearestOrEven))
                let y = Int((Double(height - size) / 2).rounded(.toNearestOrEven))
                #expect(preprocess.resizedAndCropped(image) == (try full.cropped(x: x, y: y, width: size, height: size)), "\(file) at \(size)")
            }
        }
    }
}
