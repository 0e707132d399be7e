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
        let source = try ImageDecoder.decode(path: Manifest.path(fixture.source))
        let resized = try resize(source, width: fixture.width, height: fixture.height, filter: filter)
        try #require(resized.width == fixture.width && resized.height == fixture.height)
        let agreement = ByteAgreement(resized.pixels, try Manifest.bytes(fixture.expected))
        #expect(agreement.exactFraction == 1, "\(fixture.testDescription): \(agreement)")
    }

    @Test func sameSizeIsACopy() throws {
        let image = try ImageDecoder.decode(path: Manifest.path("tiny_3x3.png"))
        for filter in ResampleFilter.allCases {
            #expect(try resize(image, width: 3, height: 3, filter: filter) == image)
        }
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
