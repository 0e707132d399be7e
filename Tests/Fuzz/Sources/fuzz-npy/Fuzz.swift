import CleanCLIP
import FuzzSupport

/// NumPy .npy files, as `embed --tokens/--pixels` and warp grids read them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNpy(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let path = Scratch.write(bytes(data, size), as: "input.npy")
    guard let a = try? NumPy.read(path: path) else { Tally.count("refused"); return 0 }
    Tally.count("read")
    // The element count must be what the shape says: `embed` slices by the shape.
    let count = a.shape.reduce(1, *)
    if let f = try? NumPy.floats(a, path: path) { precondition(f.count == count, "\(f.count) floats for shape \(a.shape)") }
    if let i = try? NumPy.int32s(a, path: path) { precondition(i.count == count, "\(i.count) ints for shape \(a.shape)") }
    _ = try? WarpGrid.load(path: path)
    return 0
}
