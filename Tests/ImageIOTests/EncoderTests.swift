import Foundation
import ImageIO
import Testing

@Suite struct EncoderTests {
    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("imageio-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func pngRoundTripIsExact() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for file in ["chelsea_q85.jpg", "strip_1x500.png", "tiny_3x3.png"] {
            let image = try ImageDecoder.decode(path: Manifest.path(file))
            let path = directory + "/\(file).png"
            try ImageEncoder.writePNG(image, to: path)
            #expect(try ImageDecoder.decode(path: path) == image)
            // Writing again replaces the file and leaves no temporary behind.
            try ImageEncoder.writePNG(image, to: path)
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test func jpegRoundTripIsClose() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let image = try ImageDecoder.decode(path: Manifest.path("coffee_320x240.png"))
        var previousSize = 0
        for quality in [50, 95] {
            let path = directory + "/q\(quality).jpg"
            try ImageEncoder.writeJPEG(image, to: path, quality: quality)
            let decoded = try ImageDecoder.decode(path: path)
            try #require(decoded.width == image.width && decoded.height == image.height)
            var total = 0
            for (a, b) in zip(decoded.pixels, image.pixels) { total += abs(Int(a) - Int(b)) }
            let meanError = Double(total) / Double(image.pixels.count)
            #expect(meanError < (quality == 95 ? 2.5 : 6), "quality \(quality): mean error \(meanError)")
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
            #expect(size > previousSize)
            previousSize = size
        }
    }

    @Test func badArgumentsAndUnwritablePathsThrow() throws {
        let image = try RGBImage(width: 4, height: 4)
        #expect(throws: ImageError.self) { try ImageEncoder.encodeJPEG(image, quality: 0) }
        #expect(throws: ImageError.self) { try ImageEncoder.encodeJPEG(image, quality: 101) }
        do {
            try ImageEncoder.writePNG(image, to: "/nonexistent-directory/x.png")
            Issue.record("writing into a missing directory succeeded")
        } catch let error as ImageError {
            #expect(error.kind == .writeFailed)
            #expect(error.description.hasPrefix("/nonexistent-directory/x.png: "))
        }
    }
}
