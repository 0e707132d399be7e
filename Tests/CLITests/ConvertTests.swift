import CleanCLIP
import Foundation
import Testing

/// `cleanclip convert`: the format follows the output name unless --format says, --dtype f16
/// keeps half precision, and bad flags are usage errors.
@Suite struct ConvertTests {
    @Test func formatsFollowTheOutputName() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("convert-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try CLIPModel.load(path: fixtureModel)
        for (name, format) in [("m.pt", "cleanclip-pt"), ("m_hf", "hf"), ("m.safetensors", "safetensors")] {
            let r = try runCapturing(["convert", fixtureModel, dir + "/" + name])
            #expect(r.status == 0 && r.stdout.contains("(\(format), f32)"), "\(r.stdout)\(r.stderr)")
            // The fixture does not say which activation it uses: the note names the flag.
            #expect(r.stderr.contains("--activation gelu"), "\(r.stderr)")
            let back = try CLIPModel.load(path: dir + "/" + name)
            #expect(back.config == model.config)
        }
        let r = try runCapturing(["convert", fixtureModel, dir + "/h.bin", "--format", "safetensors", "--dtype", "f16",
                                  "--activation", "quick_gelu"])
        #expect(r.status == 0 && !r.stderr.contains("note"), "\(r.stderr)")
        #expect(try SafetensorsReader.read(path: dir + "/h.bin").tensors.values.allSatisfy { $0.dtype == .f16 })
        #expect(try run(["convert", fixtureModel, dir + "/x", "--format", "onnx"]).stderr.contains("unknown --format 'onnx'"))
        #expect(try run(["convert", fixtureModel, dir + "/x", "--dtype", "bf16"]).stderr.contains("unknown --dtype 'bf16'"))
    }
}
