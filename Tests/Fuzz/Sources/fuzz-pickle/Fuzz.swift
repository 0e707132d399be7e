import CleanCLIP
import FuzzSupport

/// The pickle machine: the input is `data.pkl` of an otherwise valid torch zip (storages
/// "0" to "7" present), so mutations reach the opcodes instead of failing a CRC.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPickle(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let archive = StoredZip.torchArchive(pickle: bytes(data, size), torchScript: false)
    readTorch(path: Scratch.write(archive, as: "pickle.pt"))
    return 0
}
