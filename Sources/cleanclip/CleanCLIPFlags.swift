import ArgumentParser
import CleanCLIP
import Foundation

/// CleanCLIP's own command-line spellings (`src/parser.py`, `backdoor/create_backdoor_data.py`).
///
/// Those with a meaning here are aliases declared beside our flags (`--train_data` is
/// `--train-data`, `--num_warmup_steps` is `--warmup-steps`, ...; `--help` lists both names).
/// Those without one are listed here with the reason, so that `finetune --wandb` is an error
/// that says why instead of an unknown option, and nothing is silently ignored.
enum CleanCLIPFlags {
    /// CleanCLIP option -> why it has no equivalent in the command it was given to (and what to
    /// use instead). An option mapped by some commands only is listed with where it works.
    static let withoutEquivalent: [String: String] = [
        "name": "there are no experiment folders here; the result goes to --out",
        "logs": "there are no log folders here; the result goes to --out and progress to the terminal",
        "model_name": "the architecture comes from the checkpoint given with --model (or --checkpoint)",
        "pretrained": "OpenAI weights are a file here: give --model ViT-B-32.safetensors (or any checkpoint)",
        "validation_data": "no validation loss is computed; run `cleanclip evaluate` on the checkpoint",
        "device": "this tool runs on the CPU; --threads sets the worker threads",
        "device_id": "this tool runs on the CPU; --threads sets the worker threads",
        "device_ids": "this tool runs on the CPU; --threads sets the worker threads",
        "distributed": "this tool runs in one process; --threads sets the worker threads",
        "distributed_backend": "this tool runs in one process; --threads sets the worker threads",
        "distributed_init_method": "this tool runs in one process; --threads sets the worker threads",
        "num_workers": "images are decoded by the same thread pool as the model; --threads sets its size",
        "wandb": "there is no Weights & Biases logging; losses are printed per epoch",
        "notes": "there are no experiment records here",
        "checkpoint_finetune": "the supervised head is saved beside the model by `cleanclip finetune --supervised`",
        "linear_probe_batch_size": "it only sets the reference's feature-extraction batch: use --batch-size",
        "defense": "the reference's --defense (train on the least suspicious pairs) is not here; "
            + "`cleanclip score-samples` scores pairs so that they can be filtered",
        "defense_epoch": "the reference's --defense is not here",
        "crop_size": "the reference's --defense is not here",
        "unlearn": "unlearning is not here",
        "unlearn_target": "unlearning is not here",
        "constraint_weight": "unlearning is not here",
        "progressive": "progressive removal is not here; `cleanclip score-samples` scores pairs",
        "remove_fraction": "progressive removal is not here; `cleanclip score-samples` scores pairs",
        "progressive_epochs": "progressive removal is not here",
        "stop_epoch": "set the number of epochs with --epochs",
        "backdoor_sufi": "the reference's --backdoor_sufi is not here",
        // Mapped in some commands only.
        "eval_data_type": "`cleanclip evaluate` takes it (zero-shot evaluation is a separate command here)",
        "eval_test_data_dir": "`cleanclip evaluate` takes it (zero-shot evaluation is a separate command here)",
        "eval_train_data_dir": "`cleanclip evaluate --linear_probe` takes it; for supervised finetuning give --train-data DIR/labels.csv",
        "linear_probe": "`cleanclip evaluate` takes it",
        "linear_probe_num_epochs": "`cleanclip evaluate` takes it",
        "asr": "`cleanclip evaluate` takes it",
        "add_backdoor": "`cleanclip evaluate` takes it",
        "patch_type": "`cleanclip evaluate`, `score-trigger` and `poison` take it",
        "patch_location": "`cleanclip evaluate`, `score-trigger` and `poison` take it",
        "patch_size": "`cleanclip evaluate`, `score-trigger` and `poison` take it",
        "label": "`cleanclip evaluate`, `score-trigger` and `poison` take it (the target class)",
        "templates": "`cleanclip evaluate` and `poison` take it",
        "num_backdoor": "`cleanclip poison` takes it",
        "size_train_data": "`cleanclip poison` takes it",
        "label_consistent": "`cleanclip poison` takes it",
        "train_data": "`cleanclip finetune` and `poison` take it",
        "finetune": "`cleanclip finetune` takes it (as --supervised)",
        "inmodal": "`cleanclip finetune` takes it",
        "complete_finetune": "`cleanclip finetune` takes it",
        "num_warmup_steps": "`cleanclip finetune` takes it",
        "caption_key": "`cleanclip finetune` and `poison` take it",
        "inmodal_weight": "`cleanclip finetune` takes it",
        "clip_weight": "`cleanclip finetune` takes it",
        "weight_decay": "`cleanclip finetune` takes it",
        "beta1": "`cleanclip finetune` takes it",
        "beta2": "`cleanclip finetune` takes it",
        "eps": "`cleanclip finetune` takes it",
        "epochs": "`cleanclip finetune` takes it",
        "lr": "`cleanclip finetune` takes it",
        "checkpoint": "`cleanclip finetune` takes it",
    ]

    /// A usage error for an unknown option that is one of CleanCLIP's, else nil. `message` is
    /// the argument parser's text ("Unknown option '--wandb'").
    static func explain(_ message: String, command: String) -> String? {
        guard message.contains("Unknown option") else { return nil }
        var lines: [String] = []
        var rest = Substring(message)
        while let open = rest.range(of: "'--") {
            let after = rest[open.upperBound...]
            guard let close = after.firstIndex(of: "'") else { break }
            let name = String(after[..<close]).split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            if let reason = withoutEquivalent[name] {
                let tool = command.isEmpty ? "cleanclip" : "cleanclip \(command)"
                lines.append("CleanCLIP's --\(name) has no equivalent in `\(tool)`: \(reason)")
            }
            rest = after[after.index(after: close)...]
        }
        return lines.isEmpty ? nil : lines.joined(separator: "\n")
    }

    /// The parse, with CleanCLIP's options that have no equivalent explained.
    static func parse(_ arguments: [String]) -> ParsableCommand {
        do {
            return try CleanCLIPCommand.parseAsRoot(arguments)
        } catch {
            let command = arguments.first { !$0.hasPrefix("-") } ?? ""
            if let text = explain(CleanCLIPCommand.message(for: error), command: command) {
                let help = command.isEmpty ? "cleanclip --help" : "cleanclip \(command) --help"
                FileHandle.standardError.write(Data("Error: \(text)\nSee '\(help)' for its flags and their CleanCLIP spellings.\n".utf8))
                CleanCLIPCommand.exit(withError: ExitCode.validationFailure)
            }
            CleanCLIPCommand.exit(withError: error)
        }
    }

    /// A delimiter flag's value ("," "\t" "tab" ";" ...), or a usage error naming the flag.
    static func delimiter(_ text: String) throws -> Character {
        do { return try CSVDelimiter.parse(text) } catch let e as DatasetError { throw ValidationError("--delimiter: \(e.detail)") }
    }
}
