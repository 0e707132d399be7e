import Foundation
import ImageIO
import Testing

/// A benchmark, not a timed assertion: prints figures, and runs only when
/// IMAGEIO_BENCHMARK=1, e.g.
/// `IMAGEIO_BENCHMARK=1 swift test -c release --scratch-path .build-img --filter ImageIOTests.Benchmark`
@Suite(.enabled(if: ProcessInfo.processInfo.environment["IMAGEIO_BENCHMARK"] == "1"))
struct Benchmark {
    @Test func preprocessA1000x750Image() throws {
        let photo = try ImageDecoder.decode(path: Manifest.path("retina_1500x1000_q70.jpg"))
        let image = try resize(photo, width: 1000, height: 750, filter: .bicubic)
        let jpeg = try ImageEncoder.encodeJPEG(image, quality: 90)
        let preprocess = CLIPPreprocessor(size: 224)

        func seconds(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
            try body()  // warm up
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<repeats { try body() }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(repeats)
        }
        let full = try seconds(50) { _ = try resize(image, width: 298, height: 224, filter: .bicubic) }
        let preprocessing = seconds(50) { _ = preprocess(image) }
        let decoding = try seconds(50) { _ = try ImageDecoder.decode(data: jpeg, name: "bench.jpg") }
        print(String(format: "1000x750 -> 298x224 bicubic resize: %.2f ms", full * 1e3))
        print(String(format: "1000x750 CLIP preprocess (resize + crop + normalise): %.2f ms", preprocessing * 1e3))
        print(String(format: "1000x750 JPEG q90 decode: %.2f ms", decoding * 1e3))
    }
}
