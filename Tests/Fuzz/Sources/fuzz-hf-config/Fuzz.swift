import CleanCLIP
import Foundation
import FuzzSupport

/// The fixture's weights, next to which each fuzzed config.json is placed.
let fixtureDirectory: String = {
    let dir = Scratch.directory + "/hf"
    let weights = URL(fileURLWithPath: #filePath).deletingLastPathComponent()  // Tests/Fuzz/Sources/fuzz-hf-config
        .appendingPathComponent("../../../Fixtures/models/hf_vit/model.safetensors").standardized.path
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try? FileManager.default.createSymbolicLink(atPath: dir + "/model.safetensors", withDestinationPath: weights)
    return dir
}()

/// Hugging Face config.json: JSON, then every hyperparameter. A config that loads must encode.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHFConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let directory = fixtureDirectory  // made first: the config goes inside
    Scratch.write(bytes(data, size), as: "hf/config.json")
    guard let model = try? CLIPModel.load(path: directory) else { Tally.count("refused"); return 0 }
    Tally.count("loaded")
    encodeBoth(model)
    return 0
}
