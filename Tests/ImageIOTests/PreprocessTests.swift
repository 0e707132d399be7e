import ImageIO
import Testing

@Suite struct PreprocessTests {
    static let preprocess = CLIPPreprocessor(size: 224)

    /// Acceptance: open_clip's `transform(Image.open(path))`, exactly, for
    /// every fixture — whatever mode Pillow opens the file in.
    @Test("resize + centre crop matches open_clip's transform of Image.open(path)", arguments: Manifest.shared.images)
    func matchesOpenCLIP(_ fixture: Manifest.Image) throws {
        let image = try ImageDecoder.decodeForPreprocessing(path: Manifest.path(fixture.file))
        let cropped = Self.preprocess.resizedAndCropped(image)
        try #require(cropped.width == 224 && cropped.height == 224)
        let agreement = ByteAgreement(cropped.pixels, try Manifest.bytes(fixture.clip224))
        #expect(agreement.exactFraction == 1, "\(fixture.file) (\(fixture.pil_mode)): \(agreement)")
    }

    /// An `RGBImage` is preprocessed as mode "RGB": `transform(img.convert("RGB"))`.
    /// That equals open_clip's result for RGB and grey files, and differs for
    /// the others (the fixture records by how much, for the record).
    @Test("an RGBImage is preprocessed as transform(img.convert(\"RGB\"))", arguments: Manifest.shared.images)
    func rgbImagePath(_ fixture: Manifest.Image) throws {
        let cropped = Self.preprocess.resizedAndCropped(try ImageDecoder.decode(path: Manifest.path(fixture.file)))
        if let hash = fixture.clip224_rgb_first_fnv1a64 {
            #expect(fnv1a64(cropped.pixels) == hash, "\(fixture.file) (\(fixture.pil_mode))")
            #expect((cropped.pixels != (try Manifest.bytes(fixture.clip224))) == fixture.rgb_first_differs)
        } else {
            #expect(cropped.pixels == (try Manifest.bytes(fixture.clip224)), "\(fixture.file)")
        }
    }

    @Test("decodeForPreprocessing keeps the mode Pillow opens the file in", arguments: Manifest.shared.images)
    func keepsPillowsMode(_ fixture: Manifest.Image) throws {
        let image = try ImageDecoder.decodeForPreprocessing(path: Manifest.path(fixture.file))
        // Pillow opens 16-bit grey+alpha as RGBA with R = G = B; we keep it as LA,
        // which resizes and converts identically.
        let expected = fixture.file == "camera_grey_alpha16.png" ? "LA" : fixture.pil_mode
        #expect(image.mode.rawValue == expected, "\(fixture.file)")
        #expect(image.width == fixture.width && image.height == fixture.height)
        #expect(fnv1a64(image.convertedToRGB().pixels) == fixture.decoded_fnv1a64)
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

    /// The tensor from a `DecodedImage` is the table lookup of open_clip's crop.
    @Test func decodedImageTensorMatchesTorch() throws {
        let table = try Manifest.floats(Manifest.shared.normalize_table)
        for file in ["chelsea_rgba_alpha.png", "camera_grey16_mid_232x481.png", "chelsea_cmyk.jpg"] {
            let fixture = try #require(Manifest.shared.images.first { $0.file == file })
            let expected = try Manifest.bytes(fixture.clip224)
            let tensor = Self.preprocess(try ImageDecoder.decodeForPreprocessing(path: Manifest.path(file)))
            var mismatches = 0
            for channel in 0..<3 {
                for i in 0..<(224 * 224) where tensor[channel * 224 * 224 + i].bitPattern
                    != table[channel * 256 + Int(expected[3 * i + channel])].bitPattern {
                    mismatches += 1
                }
            }
            #expect(mismatches == 0, "\(file)")
        }
    }

    @Test func writesIntoACallerBuffer() throws {
        let image = try ImageDecoder.decode(path: Manifest.path("chelsea_q85.jpg"))
        var batch = [Float](repeating: .nan, count: 2 * 3 * 224 * 224)
        batch.withUnsafeMutableBufferPointer { buffer in
            Self.preprocess.preprocess(image, into: UnsafeMutableBufferPointer(rebasing: buffer[(3 * 224 * 224)...]))
        }
        #expect(Array(batch[(3 * 224 * 224)...]) == Self.preprocess(image))
        #expect(batch[0].isNaN)

        let decoded = try ImageDecoder.decodeForPreprocessing(path: Manifest.path("chelsea_rgba_alpha.png"))
        batch.withUnsafeMutableBufferPointer { buffer in
            Self.preprocess.preprocess(decoded, into: UnsafeMutableBufferPointer(rebasing: buffer[..<(3 * 224 * 224)]))
        }
        #expect(Array(batch[..<(3 * 224 * 224)]) == Self.preprocess(decoded))
        // An RGB file gives the same tensor through either API.
        #expect(Self.preprocess(DecodedImage(image)) == Self.preprocess(image))
    }

    @Test func resizedSizeTruncatesTheLongSideLikeTorchvision() {
        #expect(CLIPPreprocessor.resizedSize(width: 1000, height: 750, shortSide: 224) == (298, 224))
        #expect(CLIPPreprocessor.resizedSize(width: 225, height: 1000, shortSide: 224) == (224, 995))
        #expect(CLIPPreprocessor.resizedSize(width: 1, height: 500, shortSide: 224) == (224, 112_000))
        #expect(CLIPPreprocessor.resizedSize(width: 224, height: 224, shortSide: 224) == (224, 224))
    }

    /// Preprocessing resamples only the crop window; that must equal resizing
    /// the whole image and cropping it, in every mode.
    @Test func windowedResizeEqualsResizeThenCrop() throws {
        for file in ["rocket_q75.jpg", "retina_225x1000_q90.jpg", "tiny_3x3.png", "chelsea_rgba_alpha.png",
                     "camera_grey_alpha.png", "camera_grey16_mid_232x481.png", "chelsea_cmyk.jpg",
                     "chelsea_palette.png", "horse_1bit.png", "coins_grey.png"] {
            let image = try ImageDecoder.decodeForPreprocessing(path: Manifest.path(file))
            for size in [224, 97] {
                let preprocess = CLIPPreprocessor(size: size)
                let (width, height) = CLIPPreprocessor.resizedSize(width: image.width, height: image.height, shortSide: size)
                let full = try resize(image, width: width, height: height, filter: .bicubic).convertedToRGB()
                let x = Int((Double(width - size) / 2).rounded(.toNearestOrEven))
                let y = Int((Double(height - size) / 2).rounded(.toNearestOrEven))
                #expect(preprocess.resizedAndCropped(image) == (try full.cropped(x: x, y: y, width: size, height: size)), "\(file) at \(size)")
                if image.mode == .rgb {
                    #expect(preprocess.resizedAndCropped(image.convertedToRGB()) == preprocess.resizedAndCropped(image))
                }
            }
        }
    }
}
