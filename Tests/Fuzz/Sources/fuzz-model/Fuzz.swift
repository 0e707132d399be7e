import CleanCLIP
import FuzzSupport

/// Structure-aware: a tiny valid model (ViT or ModifiedResNet, random weights) whose tensors'
/// shapes, dtypes, names and values and whose metadata (head counts, activation) the input
/// edits; the result is written as safetensors and loaded. Whatever loads must encode both
/// ways and save, and what it saves must load back as the same configuration. Errors are fine.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModel(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var choices = Choices(bytes(data, size))
    var model = baseModels[choices.below(baseModels.count)]
    while !choices.exhausted { model.edit(&choices) }
    let path = Scratch.directory + "/model.safetensors"
    do {
        try SafetensorsWriter.write(model.tensors.sorted { $0.key < $1.key }.map { (name: $0.key, tensor: $0.value) },
                                    metadata: model.metadata, to: path)
    } catch {
        return 0  // e.g. a tensor renamed to "__metadata__"
    }
    guard let loaded = try? CLIPModel.load(path: path) else { Tally.count("refused"); return 0 }
    Tally.count("loaded")
    encodeBoth(loaded)
    loaded.isTraining = true  // BatchNorm on batch statistics (ResNet), counters incremented
    encodeBoth(loaded)
    let copy = Scratch.directory + "/saved.safetensors"
    guard (try? loaded.save(to: copy)) != nil else { Tally.count("not saved"); return 0 }
    let again = try! CLIPModel.load(path: copy)  // a model we saved must load
    precondition(again.config == loaded.config, "saved \(loaded.config), loaded \(again.config)")
    return 0
}
