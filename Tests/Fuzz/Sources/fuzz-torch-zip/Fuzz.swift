import CleanCLIP
import FuzzSupport

/// Whole torch files: the zip container (central directory, zip64, deflate, CRCs) and the
/// legacy `torch.save` stream, as CheckpointReader detects and reads them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTorchZip(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let path = Scratch.write(bytes(data, size), as: "input.pt")
    readTorch(path: path)
    return 0
}
