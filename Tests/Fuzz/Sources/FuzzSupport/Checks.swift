import CleanCLIP

/// What every tensor a reader returns must satisfy: its bytes are exactly its shape's worth,
/// and converting them gives one value per element.
public func checkTensor(_ t: RawTensor) {
    precondition(t.shape.allSatisfy { $0 >= 0 }, "negative dimension in \(t.shape)")
    precondition(t.byteCount == t.count * t.dtype.byteSize, "\(t.byteCount) bytes for \(t.shape) of \(t.dtype)")
    if let values = try? t.toFloats() { precondition(values.count == t.count) }
}

/// Reads a torch file both ways the library does: the state dict, and the whole pickle.
public func readTorch(path: String) {
    if let archive = try? CheckpointReader.read(path: path) {
        Tally.count("read")
        for t in archive.tensors.values { checkTensor(t) }
    } else {
        Tally.count("refused")
    }
    _ = try? CheckpointReader.readTorchPickle(path: path)
}
