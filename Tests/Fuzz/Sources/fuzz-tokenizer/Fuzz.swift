import CleanCLIP
import FuzzSupport

let tokenizer = CLIPTokenizer.standard

/// Captions: ftfy-style repair, HTML unescaping, pre-tokenisation and BPE of any UTF-8
/// (invalid sequences become U+FFFD, as Python decodes them).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: bytes(data, size), as: UTF8.self)
    let ids = tokenizer.encode(text)
    precondition(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabSize }, "id outside the vocabulary")
    let rows = try! tokenizer.tokenize([text, text], contextLength: 16)  // truncates, so cannot throw
    precondition(rows.count == 32 && rows[0] == tokenizer.sot && rows[15] != tokenizer.sot)
    _ = tokenizer.decode(ids)
    return 0
}
