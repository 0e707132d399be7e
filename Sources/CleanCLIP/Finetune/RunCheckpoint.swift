import Foundation

/// Writing and reading back a finetuning checkpoint, for both finetuners.
///
/// A checkpoint is the model file, `<stem>.optimizer.safetensors` (the AdamW state, the run's
/// settings as JSON, the `CheckpointStamp`) and any files a finetuner adds (the supervised
/// head). Reading one back refuses, before anything changes: the other kind of run, files that
/// are not from the same save, other settings, and a step count that the finished epochs do not
/// account for (other training data or batch size).
struct RunCheckpoint {
    /// The model file.
    let checkpoint: String
    /// The optimizer-state file.
    let path: String
    let archive: TensorArchive
    /// The epochs the saved run had finished.
    let epochsDone: Int
    /// The files a finetuner adds (`open`'s `extra`), by path.
    let extra: [String: TensorArchive]

    /// `<stem>.<kind>.safetensors` next to a model checkpoint `<stem>.safetensors` (or `<stem>`).
    static func sibling(of checkpoint: String, _ kind: String) -> String {
        let stem = checkpoint.hasSuffix(".safetensors") ? String(checkpoint.dropLast(".safetensors".count)) : checkpoint
        return stem + "." + kind + ".safetensors"
    }

    /// Writes the model, the `extra` files, then the optimizer state, each atomically and with one
    /// stamp (the optimizer state last, so that a complete one means a complete save). The
    /// optimizer state's metadata also holds `config` as JSON and `metadata`.
    static func save<Config: Encodable>(_ checkpoint: String, model: CLIPModel, optimizer: AdamW, config: Config,
                                        epochsDone: Int, metadata: [String: String],
                                        extra: [(path: String, tensors: [(name: String, tensor: RawTensor)], metadata: [String: String])] = []) throws {
        let configJSON = String(data: try JSONEncoder().encode(config), encoding: .utf8) ?? ""
        let stamp = CheckpointStamp.make(epochsDone: epochsDone, step: optimizer.stepCount)
        try model.save(to: checkpoint, metadata: stamp)
        for file in extra {
            try SafetensorsWriter.write(file.tensors, metadata: stamp.merging(file.metadata) { a, _ in a }, to: file.path)
        }
        let state = optimizer.state().map { (name: $0.0, tensor: RawTensor(floats: $0.1.array, shape: $0.1.shape)) }
        try SafetensorsWriter.write(state, metadata: stamp.merging(metadata.merging(["config": configJSON]) { a, _ in a }) { a, _ in a },
                                    to: Finetuner.optimizerPath(for: checkpoint))
    }

    /// Opens the optimizer state of `checkpoint` and checks its kind (`supervised`), then reads the
    /// `extra` files and checks the stamps of all of them and of `savedModel` (the model loaded
    /// from `checkpoint`), and that the run was started with `config`.
    static func open<Config: Codable & Equatable>(_ checkpoint: String, supervised: Bool, config: Config, epochs: Int,
                                                  savedModel: CLIPModel, extra: [String] = []) throws -> RunCheckpoint {
        let path = Finetuner.optimizerPath(for: checkpoint)
        let archive = try SafetensorsReader.read(path: path)
        switch (archive.metadata["mode"] == "supervised", supervised) {
        case (true, false):
            throw FinetuneError("\(path): a supervised finetuning checkpoint; resume it with SupervisedFinetuner (--supervised)")
        case (false, true):
            throw FinetuneError("\(path): not a supervised finetuning checkpoint")
        default: break
        }
        var extraArchives: [String: TensorArchive] = [:]
        for file in extra { extraArchives[file] = try SafetensorsReader.read(path: file) }
        let done = try CheckpointStamp.verify([(path, archive.metadata), (checkpoint, savedModel.loadedMetadata)]
                                              + extra.compactMap { file in extraArchives[file].map { (file, $0.metadata) } },
                                              epochs: epochs)
        if let settings = archive.metadata["config"], let data = settings.data(using: .utf8),
           let previous = try? JSONDecoder().decode(Config.self, from: data), previous != config {
            throw FinetuneError("\(path): the run was started with other settings (\(settings)); resume with the same flags")
        }
        return RunCheckpoint(checkpoint: checkpoint, path: path, archive: archive, epochsDone: done, extra: extraArchives)
    }

    /// Optimizer steps that came with imported state before the saved run's schedule began
    /// (`Trainer.scheduleStepOffset`); 0 when not recorded.
    func scheduleOffset() throws -> Int {
        guard let recorded = archive.metadata["schedule_offset"] else { return 0 }
        guard let offset = Int(recorded), (0...AdamW.maxStepCount).contains(offset) else {
            throw FinetuneError("\(path): bad 'schedule_offset' \(recorded) in the metadata")
        }
        return offset
    }

    /// Loads the optimizer state into `trainer` after checking that its step is `expectedStep`,
    /// then copies the weights of `saved` into `model` when they are different objects (after
    /// checking every weight's shape). Nothing changes when a check fails.
    func restore(into trainer: Trainer, model: CLIPModel, from saved: CLIPModel, expectedStep: Int) throws {
        var state: [(String, Tensor)] = []
        for name in archive.order {
            guard let raw = archive.tensors[name] else { throw FinetuneError("\(path): no tensor '\(name)'") }
            state.append((name, try CLIPModel.tensor(from: raw)))
        }
        let step: Int
        do { step = try AdamW.stepCount(in: state) } catch let e as OptimizerStateError {
            throw FinetuneError("\(path): \(e.description)")
        }
        if let recorded = archive.metadata["step"], recorded != String(step) {
            throw FinetuneError("\(path): the metadata records step \(recorded) but the optimizer state holds step \(step)")
        }
        guard step == expectedStep else {
            throw FinetuneError("\(path): the optimizer state is at step \(step), but \(epochsDone) finished epochs of this run "
                + "take \(expectedStep) steps: the training data or the batch size differ from the saved run's")
        }
        let source = Dictionary(saved.weights.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        if saved !== model {
            for w in model.weights where source[w.name]?.shape != w.tensor.shape {
                throw CLIPInputError("\(checkpoint): the checkpoint does not match this model (weight \(w.name): "
                    + "\(source[w.name].map { "\($0.shape)" } ?? "missing") in the checkpoint, \(w.tensor.shape) in the model)")
            }
        }
        do { try trainer.optimizer.load(state: state) } catch let e as OptimizerStateError {
            throw FinetuneError("\(path): \(e.description)")
        }
        guard saved !== model else { return }
        for w in model.weights {
            if let s = source[w.name] { w.tensor.data.update(from: s.data, count: w.tensor.count) }
        }
    }
}
