import Foundation

/// What ties together the files of one finetuning checkpoint.
///
/// A checkpoint is two or three files (model, optimizer state, supervised head), each written
/// atomically but one after the other, so a run killed between two renames, or a disk that fills
/// up, can leave files from different saves: a model one epoch ahead of its AdamW moments. Every
/// file of a save records the same stamp in its metadata, and resuming requires the stamps to
/// agree:
/// - `checkpoint_id`: 32 random hex digits, new for every save;
/// - `epochs_done` and `step`: the finished epochs and the optimizer's step count.
/// Files written before stamps existed have `epochs_done` only, which must still agree.
enum CheckpointStamp {
    static let keys = ["epochs_done", "step", "checkpoint_id"]  // the most telling difference first

    /// A new stamp for a save after `epochsDone` epochs and `step` optimizer steps.
    static func make(epochsDone: Int, step: Int) -> [String: String] {
        let id = (0..<2).map { _ in String(UInt64.random(in: .min ... .max), radix: 16).leftPadded(to: 16) }.joined()
        return ["checkpoint_id": id, "epochs_done": String(epochsDone), "step": String(step)]
    }

    /// Checks that every file's stamp equals the first one's (the optimizer state's) and returns
    /// its finished epochs, at most `epochs` (the run's).
    static func verify(_ files: [(path: String, metadata: [String: String])], epochs: Int) throws -> Int {
        guard let (statePath, state) = files.first else { throw FinetuneError("no checkpoint files to verify") }
        guard let done = state["epochs_done"].flatMap(Int.init), done >= 0 else {
            throw FinetuneError("\(statePath): no valid 'epochs_done' in the metadata; not a cleanclip finetune checkpoint")
        }
        guard done <= epochs else {
            throw FinetuneError("\(statePath): records \(done) finished epochs, more than the \(epochs) of this run")
        }
        for (path, metadata) in files.dropFirst() {
            for key in keys where metadata[key] != state[key] {
                throw FinetuneError("\(path) and \(statePath) are not from the same save (\(key) \(metadata[key] ?? "missing") "
                    + "and \(state[key] ?? "missing")): a run stopped between writing them, or a file was replaced. "
                    + "Resuming would mix epochs; start the run again or restore a complete checkpoint")
            }
        }
        return done
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
