import CleanCLIP
import FuzzSupport

/// safetensors: header length, JSON header, dtypes, shapes, data offsets, metadata.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let path = Scratch.write(bytes(data, size), as: "input.safetensors")
    guard let archive = try? SafetensorsReader.read(path: path) else { Tally.count("refused"); return 0 }
    Tally.count("read")
    for t in archive.tensors.values { checkTensor(t) }
    return 0
}
