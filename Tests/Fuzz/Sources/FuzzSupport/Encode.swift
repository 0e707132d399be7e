import CleanCLIP

/// Runs both towers of a model that loaded, on inputs it must accept: two images of its
/// resolution and two captions of ids inside its vocabulary. Embeddings must have the
/// configured width. Hostile weights may make them NaN or infinite: at inference that is a
/// `NonFiniteError` naming the input (the library's choice, see CLIPModel); in training mode the
/// values come back as they are. Any other error fails the target.
public func encodeBoth(_ model: CLIPModel) {
    let c = model.config
    let s = c.imageResolution
    let pixels = Tensor((0..<(2 * 3 * s * s)).map { Float($0 % 11) / 5 - 1 }, shape: [2, 3, s, s])
    if let image = allowingNonFinite({ try model.encodeImage(pixels) }) {
        precondition(image.shape == [2, c.embedDim], "image embeddings \(image.shape)")
    }
    var ids = [Int32](repeating: 0, count: 2 * c.contextLength)
    for j in 0..<min(c.contextLength, 5) { ids[j] = Int32(j % c.vocabSize) }
    ids[c.contextLength] = Int32(c.vocabSize - 1)
    if let text = allowingNonFinite({ try model.encodeText(tokens: ids, batch: 2) }) {
        precondition(text.shape == [2, c.embedDim], "text embeddings \(text.shape)")
    }
}

/// `body`'s result; nil when it threw a `NonFiniteError`; a trap for any other error.
private func allowingNonFinite(_ body: () throws -> Tensor) -> Tensor? {
    do {
        return try body()
    } catch is NonFiniteError {
        Tally.count("non-finite embedding")
        return nil
    } catch {
        preconditionFailure("encoding a model that loaded threw \(error)")
    }
}
