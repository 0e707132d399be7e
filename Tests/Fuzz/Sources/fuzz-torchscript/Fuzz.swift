import CleanCLIP
import FuzzSupport

/// TorchScript archives: the input is `data.pkl` of a `torch.jit.save` layout (with
/// `constants.pkl`); its seeds are module trees, which the TorchScript walker collects.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTorchScript(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let archive = StoredZip.torchArchive(pickle: bytes(data, size), torchScript: true)
    readTorch(path: Scratch.write(archive, as: "script.pt"))
    return 0
}
