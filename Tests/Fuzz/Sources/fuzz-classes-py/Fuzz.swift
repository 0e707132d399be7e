import CleanCLIP
import FuzzSupport

/// CleanCLIP's classes.py (`evaluate --classes classes.py`), parsed without being run: any input
/// gives a class list or an error, never a crash, a hang or deep recursion.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClassesPy(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let path = Scratch.write(bytes(data, size), as: "classes.py")
    guard let list = try? ClassList.load(classesFile: path) else { Tally.count("refused"); return 0 }
    Tally.count("read")
    precondition(!list.names.isEmpty && !list.templates.isEmpty)
    for t in list.templates { precondition(t.contains("{}"), "template without a placeholder: \(t)") }
    return 0
}
