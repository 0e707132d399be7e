import TensorCore
import Tokenizer

extension CLIPModel {
    /// Text embeddings (unnormalised) of raw texts, the text twin of `encodeImages(_:)`:
    /// tokenized with the standard CLIP tokenizer (truncated to the context length, as open_clip's
    /// `tokenize`), then the text tower.
    public func encodeTexts(_ texts: [String]) throws -> Tensor {
        guard !texts.isEmpty else { throw CLIPInputError("no texts to encode") }
        let tokenizer = try CLIPTokenizer.loadStandard()
        let ids = try tokenizer.tokenize(texts, contextLength: config.contextLength, truncate: true)
        return try encodeText(tokens: ids, batch: texts.count)
    }
}
