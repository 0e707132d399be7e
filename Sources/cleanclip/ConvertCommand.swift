import ArgumentParser
import CleanCLIP
import Foundation

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write any supported checkpoint as safetensors in OpenAI / open_clip naming.")

    @Argument(help: "Input checkpoint (safetensors, .pt/.bin, TorchScript, or an HF directory).")
    var input: String

    @Argument(help: "Output .safetensors path (written atomically).")
    var output: String

    @Option(help: "Activation override: quick_gelu or gelu (recorded in the output's metadata).")
    var activation: String?

    func run() throws {
        var options = CLIPLoadOptions()
        if let activation {
            guard let a = Activation(rawValue: activation) else { throw ValidationError("unknown activation '\(activation)'") }
            options.activation = a
        }
        let model = try CLIPModel.load(path: input, options: options)
        try model.save(to: output, metadata: ["source": URL(fileURLWithPath: input).lastPathComponent])
        print("wrote \(output): \(model.config.architecture), \(model.weights.count) tensors")
    }
}
