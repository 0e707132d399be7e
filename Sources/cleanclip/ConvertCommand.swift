import ArgumentParser
import CleanCLIP
import Foundation

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write any supported checkpoint as safetensors, a CleanCLIP .pt, or a Hugging Face CLIPModel directory.",
        discussion: """
        Formats (--format; by default inferred from OUTPUT: .pt/.pth -> cleanclip-pt, an existing directory or a name without an extension -> hf, anything else -> safetensors):

        safetensors: one file in OpenAI / open_clip naming, with the architecture and activation in its metadata.

        cleanclip-pt: CleanCLIP's checkpoint, {"epoch", "name", "state_dict", "optimizer"} saved as torch.save does (torch.load(weights_only=True) reads it; CleanCLIP's --checkpoint resumes from it). When INPUT is a `cleanclip finetune` checkpoint, the AdamW state written beside it (<stem>.optimizer.safetensors) and its finished epochs go in; otherwise the optimizer entry holds an empty state, which AdamW starts from afresh.

        hf: a directory with config.json and model.safetensors that transformers.CLIPModel.from_pretrained loads (ViT models only). An existing directory is replaced only when it is empty or holds just those two files.

        Every output is written atomically.
        """)

    @Argument(help: "Input checkpoint (safetensors, .pt/.bin, TorchScript, an HF or open_clip directory).")
    var input: String

    @Argument(help: "Output file or directory.")
    var output: String

    @Option(help: "safetensors, cleanclip-pt or hf (default: inferred from OUTPUT).")
    var format: String?

    @Option(help: "Floating-point type of the written weights: f32 (default) or f16 (rounded to nearest even).")
    var dtype = "f32"

    @Option(help: "Activation override: quick_gelu or gelu (recorded in the output).")
    var activation: String?

    func validate() throws {
        _ = try Self.parseFormat(format)
        _ = try Self.parseDType(dtype)
    }

    static func parseFormat(_ name: String?) throws -> ModelFormat? {
        guard let name else { return nil }
        guard let f = ModelFormat(rawValue: name) else {
            throw ValidationError("unknown --format '\(name)' (safetensors, cleanclip-pt or hf)")
        }
        return f
    }

    static func parseDType(_ name: String) throws -> DType {
        switch name {
        case "f32": return .f32
        case "f16": return .f16
        default: throw ValidationError("unknown --dtype '\(name)' (f32 or f16)")
        }
    }

    func run() throws {
        let model = try ModelOptions(model: input, activation: activation, threads: nil).load()
        let format = try Self.parseFormat(self.format) ?? ModelFormat.inferred(fromOutput: output)
        let optimizer = format == .cleanclipPT ? try FinetuneOptimizerState.beside(input, model: model) : nil
        try model.export(to: output, format: format, dtype: try Self.parseDType(dtype),
                         metadata: ["source": URL(fileURLWithPath: input).lastPathComponent], optimizer: optimizer)
        print("wrote \(output) (\(format.rawValue), \(dtype)): \(model.config.architecture), \(model.weights.count) tensors"
              + (optimizer != nil ? ", with the AdamW state of \(Finetuner.optimizerPath(for: input))" : ""))
    }
}
