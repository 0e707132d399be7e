import CleanCLIP

/// Runs both towers of a model that loaded, on inputs it must accept: two images of its
/// resolution and two captions of ids inside its vocabulary. Embeddings must have the
/// configured width; NaN values are allowed (hostile weights may hold them).
public func encodeBoth(_ model: CLIPModel) {
    let c = model.config
    let s = c.imageResolution
    let pixels = Tensor((0..<(2 * 3 * s * s)).map { Float($0 % 11) / 5 - 1 }, shape: [2, 3, s, s])
    let image = try! model.encodeImage(pixels)
    precondition(image.shape == [2, c.embedDim], "image embeddings \(image.shape)")
    var ids = [Int32](repeating: 0, count: 2 * c.contextLength)
    for j in 0..<min(c.contextLength, 5) { ids[j] = Int32(j % c.vocabSize) }
    ids[c.contextLength] = Int32(c.vocabSize - 1)
    let text = try! model.encodeText(tokens: ids, batch: 2)
    precondition(text.shape == [2, c.embedDim], "text embeddings \(text.shape)")
}
