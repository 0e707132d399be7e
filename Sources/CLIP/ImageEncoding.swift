import Foundation
import ImageIO
import TensorCore

extension CLIPModel {
    /// The preprocessing this model expects: PIL-exact bicubic resize of the short side to the
    /// input size, torchvision centre crop, CLIP mean/std (as open_clip and OpenAI `_transform`).
    public var preprocessor: CLIPPreprocessor { CLIPPreprocessor(size: config.imageResolution) }

    /// Preprocesses decoded images into one pixel batch [N, 3, S, S].
    public func pixels(for images: [RGBImage]) -> Tensor {
        pixelBatch(images) { $0.preprocess($1, into: $2) }
    }

    /// Image embeddings (unnormalised) of decoded images of any size.
    public func encodeImages(_ images: [RGBImage]) throws -> Tensor {
        guard !images.isEmpty else { throw CLIPInputError("no images to encode") }
        return try encodeImage(pixels(for: images))
    }

    /// Image embeddings (unnormalised) of image files (JPEG or PNG), each resized in the mode
    /// Pillow opens it in, as open_clip's `transform(Image.open(path))`. Errors name the file.
    public func encodeImages(paths: [String]) throws -> Tensor {
        let images = try paths.map { try ImageDecoder.decodeForPreprocessing(path: $0) }
        guard !images.isEmpty else { throw CLIPInputError("no images to encode") }
        return try encodeImage(pixelBatch(images) { $0.preprocess($1, into: $2) })
    }

    /// One pixel batch [N, 3, S, S], the images preprocessed in parallel.
    private func pixelBatch<Image>(_ images: [Image],
                                   _ preprocess: (CLIPPreprocessor, Image, UnsafeMutableBufferPointer<Float>) -> Void) -> Tensor {
        let p = preprocessor, s = config.imageResolution, per = 3 * s * s
        let out = Tensor(uninitialized: [images.count, 3, s, s])
        withoutActuallyEscaping(preprocess) { preprocess in
            DispatchQueue.concurrentPerform(iterations: images.count) { i in
                preprocess(p, images[i], UnsafeMutableBufferPointer(start: out.data + i * per, count: per))
            }
        }
        return out
    }
}
