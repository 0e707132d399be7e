import CleanCLIP
import Foundation

/// What a `cleanclip_classifier *` points to: the model and the library's classifier over it.
final class ClassifierHandle {
    let model: CLIPModel
    let classifier: ZeroShotClassifier
    var classes: Int { classifier.classNames.count }

    /// The library's `ZeroShotClassifier` over prompts encoded as `cleanclip_encode_texts` does.
    init(model: CLIPModel, classnames: [String], templates: [String]) throws {
        let e = model.config.embedDim
        let classes = try ClassList(names: classnames, templates: templates)
        classifier = try ZeroShotClassifier(classes: classes) { prompts in
            let out = Tensor(zeros: [prompts.count, e])
            try encodeTexts(model, prompts, normalize: false, into: out.data)
            return out
        }
        self.model = model
    }

    static func from(_ p: OpaquePointer?) throws -> ClassifierHandle {
        let p = try nonNull(p, "classifier")
        return Unmanaged<ClassifierHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }

    /// For each of `n` image embeddings: the best class and, when `probabilities` is given,
    /// softmax(temperature * cosine similarities) (`ZeroShotClassifier.classify`), with the
    /// model's temperature as it is now.
    func classify(_ images: UnsafePointer<Float>, _ n: Int, indices: UnsafeMutablePointer<Int32>,
                  probabilities: UnsafeMutablePointer<Float>?) throws {
        let e = model.config.embedDim
        let embeddings = Tensor(Array(UnsafeBufferPointer(start: images, count: n * e)), shape: [n, e])
        let logitScale = model.logitScale.count == 1 ? model.logitScale.data[0] : 0
        let (best, p) = try classifier.classify(embeddings, logitScale: logitScale)
        for (i, c) in best.enumerated() { indices[i] = Int32(c) }
        probabilities?.update(from: p.data, count: p.count)
    }
}

@_cdecl("cleanclip_classifier_create")
public func cleanclip_classifier_create(_ model: OpaquePointer?, _ classnames: UnsafePointer<UnsafePointer<CChar>?>?, _ nClasses: Int,
                                        _ templates: UnsafePointer<UnsafePointer<CChar>?>?, _ nTemplates: Int,
                                        _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    boundary {
        let out = try nonNull(out, "out")
        out.pointee = nil
        let m = try ModelHandle.from(model).model
        let names = try strings(classnames, nClasses, "classnames")
        let templates = try strings(templates, nTemplates, "templates")
        let c = try ClassifierHandle(model: m, classnames: names, templates: templates)
        out.pointee = OpaquePointer(Unmanaged.passRetained(c).toOpaque())
    }
}

@_cdecl("cleanclip_classifier_free")
public func cleanclip_classifier_free(_ classifier: OpaquePointer?) {
    guard let classifier else { return }
    Unmanaged<ClassifierHandle>.fromOpaque(UnsafeRawPointer(classifier)).release()
}

@_cdecl("cleanclip_classifier_num_classes")
public func cleanclip_classifier_num_classes(_ classifier: OpaquePointer?) -> Int {
    (try? ClassifierHandle.from(classifier).classes) ?? 0
}

@_cdecl("cleanclip_classifier_class_embeddings")
public func cleanclip_classifier_class_embeddings(_ classifier: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?,
                                                  _ capacity: Int, _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let c = try ClassifierHandle.from(classifier)
        let embeddings = c.classifier.classEmbeddings  // classes x embedDim, unit rows
        try checkCapacity(embeddings.count, capacity, needed, "the class embeddings")
        try nonNull(out, "embeddings").update(from: embeddings.data, count: embeddings.count)
    }
}

/// Checks the outputs of a classify call: `n` indices and optionally n x classes probabilities.
private func classifyOutputs(_ c: ClassifierHandle, _ n: Int, _ indices: UnsafeMutablePointer<Int32>?,
                             _ probabilities: UnsafeMutablePointer<Float>?, _ capacity: Int,
                             _ needed: UnsafeMutablePointer<Int>?) throws -> UnsafeMutablePointer<Int32> {
    try positive(n, "the number of images")
    let indices = try nonNull(indices, "indices")
    if probabilities != nil {
        try checkCapacity(try product([n, c.classes], "the probabilities"), capacity, needed, "probabilities of \(n) images")
    } else {
        needed?.pointee = 0
    }
    return indices
}

@_cdecl("cleanclip_classifier_classify_embeddings")
public func cleanclip_classifier_classify_embeddings(_ classifier: OpaquePointer?, _ images: UnsafePointer<Float>?, _ n: Int,
                                                     _ indices: UnsafeMutablePointer<Int32>?, _ probabilities: UnsafeMutablePointer<Float>?,
                                                     _ capacity: Int, _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let c = try ClassifierHandle.from(classifier)
        let images = try nonNull(images, "image_embeddings")
        let indices = try classifyOutputs(c, n, indices, probabilities, capacity, needed)
        _ = try product([n, c.model.config.embedDim], "the image embeddings")
        try c.classify(images, n, indices: indices, probabilities: probabilities)
    }
}

/// Encodes images with `encode` in chunks and classifies them.
private func classifyImages(_ c: ClassifierHandle, _ n: Int, _ indices: UnsafeMutablePointer<Int32>,
                            _ probabilities: UnsafeMutablePointer<Float>?,
                            _ load: (Int, UnsafeMutablePointer<Float>) throws -> Void) throws {
    let e = c.model.config.embedDim
    var embeddings = [Float](repeating: 0, count: try product([n, e], "the image embeddings"))
    try embeddings.withUnsafeMutableBufferPointer {
        try encodeImages(c.model, count: n, normalize: true, into: $0.baseAddress!, load)
    }
    try embeddings.withUnsafeBufferPointer { try c.classify($0.baseAddress!, n, indices: indices, probabilities: probabilities) }
}

@_cdecl("cleanclip_classifier_classify_files")
public func cleanclip_classifier_classify_files(_ classifier: OpaquePointer?, _ paths: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int,
                                                _ indices: UnsafeMutablePointer<Int32>?, _ probabilities: UnsafeMutablePointer<Float>?,
                                                _ capacity: Int, _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let c = try ClassifierHandle.from(classifier)
        let indices = try classifyOutputs(c, n, indices, probabilities, capacity, needed)
        let paths = try strings(paths, n, "paths")
        let size = c.model.config.imageResolution
        try classifyImages(c, n, indices, probabilities) { i, dst in
            try Frontend.preprocess(try Frontend.decode(path: paths[i]), size: size, into: dst)
        }
    }
}

@_cdecl("cleanclip_classifier_classify_rgb8")
public func cleanclip_classifier_classify_rgb8(_ classifier: OpaquePointer?, _ rgb: UnsafePointer<UInt8>?, _ n: Int,
                                               _ width: Int, _ height: Int,
                                               _ indices: UnsafeMutablePointer<Int32>?, _ probabilities: UnsafeMutablePointer<Float>?,
                                               _ capacity: Int, _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let c = try ClassifierHandle.from(classifier)
        let rgb = try nonNull(rgb, "rgb")
        let indices = try classifyOutputs(c, n, indices, probabilities, capacity, needed)
        let per = try rgbImageBytes(width: width, height: height)
        _ = try product([n, per], "the RGB buffer")
        let size = c.model.config.imageResolution
        try classifyImages(c, n, indices, probabilities) { i, dst in
            try Frontend.preprocess(try Frontend.image(rgb + i * per, width: width, height: height), size: size, into: dst)
        }
    }
}

@_cdecl("cleanclip_zero_shot_files")
public func cleanclip_zero_shot_files(_ model: OpaquePointer?, _ paths: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int,
                                      _ classnames: UnsafePointer<UnsafePointer<CChar>?>?, _ nClasses: Int,
                                      _ templates: UnsafePointer<UnsafePointer<CChar>?>?, _ nTemplates: Int,
                                      _ indices: UnsafeMutablePointer<Int32>?, _ probabilities: UnsafeMutablePointer<Float>?,
                                      _ capacity: Int, _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let m = try ModelHandle.from(model).model
        let names = try strings(classnames, nClasses, "classnames")
        let temps = try strings(templates, nTemplates, "templates")
        try positive(n, "the number of images")
        let indicesOut = try nonNull(indices, "indices")
        if probabilities != nil {
            try checkCapacity(try product([n, nClasses], "the probabilities"), capacity, needed, "probabilities of \(n) images")
        }
        let paths = try strings(paths, n, "paths")
        let c = try ClassifierHandle(model: m, classnames: names, templates: temps)
        try classifyImages(c, n, indicesOut, probabilities) { i, dst in
            try Frontend.preprocess(try Frontend.decode(path: paths[i]), size: m.config.imageResolution, into: dst)
        }
    }
}
