import ArgumentParser
import CleanCLIP
import Foundation

@main
struct CleanCLIPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanclip",
        abstract: "Load CLIP checkpoints, compute embeddings, and clean backdoored models (CleanCLIP).",
        subcommands: [DemoCommand.self, FinetuneCommand.self, EvaluateCommand.self, ScoreTriggerCommand.self, PoisonCommand.self,
                      ScoreSamplesCommand.self, EmbedCommand.self, TokenizeCommand.self, PreprocessCommand.self,
                      ConvertCommand.self, InfoCommand.self, BenchCommand.self]
    )

    static func main() {
        // Log lines appear as they happen even when the output goes to a pipe or a file.
        setvbuf(stdout, nil, _IOLBF, 0)
        // As ParsableCommand.main, with CleanCLIP's options that have no equivalent explained.
        var command = CleanCLIPFlags.parse(Array(CommandLine.arguments.dropFirst()))
        do {
            try command.run()
            Communicators.made?.finalize()
        } catch {
            // A data-parallel rank that fails ends the whole job: the other ranks would wait in
            // their next collective forever.
            if let world = Communicators.made, world.size > 1 {
                FileHandle.standardError.write(Data("cleanclip (rank \(world.rank) of \(world.size)): error: \(error)\n".utf8))
                world.abort(code: 1)
            }
            exit(withError: error)
        }
    }
}

/// Options shared by commands that load a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Checkpoint: .safetensors, .pt/.bin (torch.save or TorchScript), or an HF directory.")
    var model: String

    @Option(name: .long, help: "Activation override: quick_gelu (OpenAI weights) or gelu (laion/DataComp open_clip weights).")
    var activation: String?

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int?

    init() {}
    init(model: String, activation: String?, threads: Int?) {
        self.model = model
        self.activation = activation
        self.threads = threads
    }

    func validate() throws {
        try Bounds.checkThreads(threads)
    }

    func load() throws -> CLIPModel {
        if let threads { Threads.count = threads }
        var options = CLIPLoadOptions()
        if let activation {
            guard let a = Activation(rawValue: activation) else {
                throw ValidationError("unknown activation '\(activation)' (quick_gelu or gelu)")
            }
            options.activation = a
        }
        let loaded = try CLIPModel.load(path: model, options: options)
        if loaded.activationAssumed {
            FileHandle.standardError.write(Data(("note: \(model) does not say which activation it uses; assuming quick_gelu "
                + "(OpenAI and CleanCLIP weights). open_clip's laion2b / DataComp weights use GELU: "
                + "pass --activation gelu for those.\n").utf8))
        }
        return loaded
    }
}

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print the BLAS kernel in use and its measured speed, and a checkpoint's architecture.")

    @Option(name: .long, help: "Checkpoint: .safetensors, .pt/.bin (torch.save or TorchScript), or an HF directory.")
    var model: String?

    @Option(name: .long, help: "Activation override: quick_gelu (OpenAI weights) or gelu (laion/DataComp open_clip weights).")
    var activation: String?

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        try Bounds.checkThreads(threads)
    }

    func run() throws {
        if let threads { Threads.count = threads }
        printBLAS()
        guard let model else { return }
        let m = try ModelOptions(model: model, activation: activation, threads: threads).load()
        let c = m.config
        print("architecture:   \(c.architecture)")
        print("embed dim:      \(c.embedDim)")
        print("image size:     \(c.imageResolution)")
        print("context length: \(c.contextLength)")
        print("vocabulary:     \(c.vocabSize)")
        print("activation:     \(c.activation.rawValue)")
        print("logit scale:    \(m.logitScale.scalar) (temperature \(m.temperature))")
        print("parameters:     \(m.parameters.reduce(0) { $0 + $1.tensor.count })")
    }
}

/// The BLAS lines of `info`: kernel, how it was chosen, measured sgemm and arithmetic peaks.
func printBLAS() {
    let status = BLASBackend.status
    print("blas:           \(status)")
    print("cpu:            \(BLASBackend.cpuFeatures.summary)")
    let peak = BLASBackend.measurePeak()
    print(String(format: "sgemm:          %.1f GFLOP/s (800x3072x768, %d threads)", BLASBackend.measureSGEMM(), Threads.count))
    print(String(format: "cores' limit:   %.1f GFLOP/s (%@ in registers, %d threads)", peak.gflops,
                 peak.instructions as NSString, Threads.count))
}
