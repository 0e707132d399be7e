import ImageIO
import Testing

@Suite struct ResizeTests {
    static let filters: [String: ResampleFilter] = [
        "nearest": .nearest, "box": .box, "bilinear": .bilinear,
        "hamming": .hamming, "bicubic": .bicubic, "lanczos": .lanczos,
    ]

    @Test("resize matches Pillow's Image.resize", arguments: Manifest.shared.resize)
    func matchesPillow(_ fixture: Manifest.Resize) throws {
        let filter = try #require(Self.filters[fixture.filter])
        let expected = try Manifest.bytes(fixture.expected)
        guard let mode = fixture.mode else {
            let source = try ImageDecoder.decode(path: Manifest.path(fixture.source))
            let resized = try resize(source, width: fixture.width, height: fixture.height, filter: filter)
            try #require(resized.width == fixture.width && resized.height == fixture.height)
            let agreement = ByteAgreement(resized.pixels, expected)
            #expect(agreement.exactFraction == 1, "\(fixture.testDescription): \(agreement)")
            return
        }
        // In the source's own mode.
        let source = try ImageDecoder.decodeForPreprocessing(path: Manifest.path(fixture.source))
        let resized = try resize(source, width: fixture.width, height: fixture.height, filter: filter)
        try #require(resized.width == fixture.width && resized.height == fixture.height)
        #expect(resized.mode == source.mode)
        #expect(mode == source.mode.rawValue || (mode == "RGBA" && source.mode == .greyAlpha))
        var samples = resized.mode == .grey16
            ? resized.samples16.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
            : resized.samples
        if mode == "RGBA" && source.mode == .greyAlpha {
            // Pillow's RGBA with R = G = B = L.
            samples = stride(from: 0, to: samples.count, by: 2).flatMap { [samples[$0], samples[$0], samples[$0], samples[$0 + 1]] }
        }
        let agreement = ByteAgreement(samples, expected)
        #expect(agreement.exactFraction == 1, "\(fixture.testDescription): \(agreement)")
    }

    /// RGBA and LA are resized premultiplied: a transparent pixel's colour does
    /// not bleed into its neighbours, and where the resized alpha is 0 the
    /// colour is 0 — unlike resizing the RGB conversion.
    @Test func premultipliedAlpha() throws {
        // Red opaque | green transparent, 2x1 -> 3x1 bilinear.
        let image = try DecodedImage(mode: .rgba, width: 2, height: 1, samples: [255, 0, 0, 255, 0, 255, 0, 0])
        let resized = try resize(image, width: 3, height: 1, filter: .bilinear)
        let rgbFirst = try resize(image.convertedToRGB(), width: 3, height: 1, filter: .bilinear)
        #expect(stride(from: 0, to: 12, by: 4).allSatisfy { resized.samples[$0 + 1] == 0 })  // no green
        #expect(rgbFirst.pixels[4] > 0)  // the RGB conversion lets green in
        #expect(resized.samples[8...] == [0, 0, 0, 0])
    }

    @Test func decodedImageChecksItsBuffer() throws {
        #expect(throws: ImageError.self) { try DecodedImage(mode: .rgba, width: 2, height: 1, samples: [1, 2, 3]) }
        #expect(throws: ImageError.self) { try DecodedImage(mode: .grey16, width: 1, height: 1, samples: [1, 2]) }
        #expect(throws: ImageError.self) { try DecodedImage(width: 2, height: 2, grey16: [1]) }
        let grey16 = try DecodedImage(width: 3, height: 1, grey16: [0, 255, 256])
        #expect(grey16.convertedToRGB().pixels == [0, 0, 0, 255, 255, 255, 255, 255, 255])
        // Pillow's cmyk2rgb: (0, 0, 0, 0) is white; K = 255 is black; C = 255 removes red.
        let cmyk = try DecodedImage(mode: .cmyk, width: 3, height: 1, samples: [0, 0, 0, 0, 9, 9, 9, 255, 255, 0, 0, 0])
        #expect(cmyk.convertedToRGB().pixels == [255, 255, 255, 0, 0, 0, 0, 255, 255])
    }

    @Test func sameSizeIsACopy() throws {
        let image = try ImageDecoder.decode(path: Manifest.path("tiny_3x3.png"))
        for filter in ResampleFilter.allCases {
            #expect(try resize(image, width: 3, height: 3, filter: filter) == image)
        }
        // Pillow returns a copy before its premultiplying branch: no RGBa round trip.
        let rgba = try DecodedImage(mode: .rgba, width: 1, height: 2, samples: [200, 100, 50, 3, 1, 2, 3, 4])
        #expect(try resize(rgba, width: 1, height: 2) == rgba)
    }

    @Test func rejectsEmptyTargets() throws {
        let image = try RGBImage(width: 2, height: 2)
        #expect(throws: ImageError.self) { try resize(image, width: 0, height: 5) }
        #expect(throws: ImageError.self) { try resize(image, width: 5, height: -1) }
    }

    @Test func cropTakesTheRegionAndChecksBounds() throws {
        let image = try RGBImage(width: 3, height: 2, pixels: Array(0..<18))
        let crop = try image.cropped(x: 1, y: 1, width: 2, height: 1)
        #expect(crop.pixels == [12, 13, 14, 15, 16, 17])
        #expect(throws: ImageError.self) { try image.cropped(x: 2, y: 0, width: 2, height: 1) }
    }
}
