import CleanCLIP
import Foundation

@_cdecl("cleanclip_evaluate_default_options")
public func cleanclip_evaluate_default_options(_ options: UnsafeMutableRawPointer?, _ structSize: Int) -> Int32 {
    boundary {
        try fillDefaults(options, structSize, CEvaluateOptions.self) { s in
            let d = EvaluationOptions()
            s.write(\.patch_size, Int32(16))
            s.write(\.batch_size, Int32(clamping: d.batchSize))
            s.write(\.seed, d.triggerSeed)
        }
    }
}

/// Everything an evaluation needs, read from `cleanclip_evaluate_options`.
private struct EvaluationRequest {
    var classes: ClassSet = .imagenet
    var trigger: TriggerSpec?
    var target: String?
    var options = EvaluationOptions()

    init(_ p: UnsafeRawPointer?) throws {
        guard let s = try callerOptions(p, CEvaluateOptions.self) else { return }
        if let file = try s.string(\.classes_file) {
            classes = .custom(try ClassList.load(classesFile: file, templatesFile: try s.string(\.templates_file)))
        } else {
            classes = try ClassSet(name: try s.string(\.classes) ?? "imagenet")
            if let file = try s.string(\.templates_file) {
                // One per line, blanks skipped, or a classes.py's templates.
                let templates = try ClassList.loadTemplates(file)
                classes = .custom(try ClassList(names: classes.list.names, templates: templates))
            }
        }
        target = try s.string(\.target)
        let patchSize = try s.positiveInt(\.patch_size, default: 16)
        options.batchSize = try s.positiveInt(\.batch_size, default: options.batchSize)
        if let seed = s.read(\.seed) { options.triggerSeed = seed }
        if let trigger = try s.string(\.trigger) {
            self.trigger = try TriggerSpec(name: trigger, location: try s.string(\.location) ?? "random", patchSize: patchSize)
        }
        if let column = try s.string(\.image_column) { options.imageColumn = column }
        if let column = try s.string(\.label_column) { options.labelColumn = column }
        if let target { _ = try classes.list.index(of: target) }  // fail before any image is read
    }

    /// An upper bound of the compact JSON report's size in bytes (NUL included).
    var jsonBound: Int {
        let names = classes.list.names
        let longest = names.map(\.utf8.count).max() ?? 0
        var bound = 1024 + 6 * max(longest, target?.utf8.count ?? 0)
        if trigger != nil { bound += names.reduce(0) { $0 + 200 + 6 * $1.utf8.count } }
        return bound
    }
}

/// The common body of cleanclip_evaluate and cleanclip_score_trigger.
private func evaluation(_ model: OpaquePointer?, _ csv: UnsafePointer<CChar>?, _ options: UnsafeRawPointer?,
                        _ progress: ProgressCallback?, _ userData: UnsafeMutableRawPointer?,
                        _ json: UnsafeMutablePointer<CChar>?, _ capacity: Int, _ needed: UnsafeMutablePointer<Int>?,
                        scoring: Bool) throws {
    let m = try ModelHandle.from(model).model
    let csv = try string(csv, "eval_csv")
    var request = try EvaluationRequest(options)
    if scoring {
        guard request.trigger != nil else { throw BoundaryError(.invalidArgument, "options->trigger is NULL; trigger scoring needs a trigger") }
        guard request.target != nil else { throw BoundaryError(.invalidArgument, "options->target is NULL; trigger scoring needs a target class") }
    } else if request.trigger != nil && request.target == nil {
        throw BoundaryError(.invalidArgument, "options->target is NULL; a trigger needs a target class to measure attack success")
    }
    try checkTextBound(request.jsonBound, json, capacity, needed, "the JSON report")
    guard FileManager.default.fileExists(atPath: csv) else { throw BoundaryError(.ioErrorNotFound, "\(csv): no such file") }
    let reporter = ProgressReporter(progress, userData)
    request.options.progress = reporter.evaluation
    let report = try reporter.run {
        if scoring, let trigger = request.trigger, let target = request.target {  // both checked above
            return try Evaluation.scoreTrigger(model: m, evalCSV: csv, classes: request.classes, trigger: trigger,
                                    target: target, options: request.options)
        }
        return try Evaluation.evaluate(model: m, evalCSV: csv, classes: request.classes, trigger: request.trigger,
                            target: request.target, options: request.options)
    }
    try copyText(try compactJSON(report), json, capacity, needed, "the JSON report")
}

@_cdecl("cleanclip_evaluate")
public func cleanclip_evaluate(_ model: OpaquePointer?, _ evalCSV: UnsafePointer<CChar>?, _ options: UnsafeRawPointer?,
                               _ progress: ProgressCallback?, _ userData: UnsafeMutableRawPointer?,
                               _ json: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                               _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        try evaluation(model, evalCSV, options, progress, userData, json, capacity, needed, scoring: false)
    }
}

@_cdecl("cleanclip_score_trigger")
public func cleanclip_score_trigger(_ model: OpaquePointer?, _ evalCSV: UnsafePointer<CChar>?, _ options: UnsafeRawPointer?,
                                    _ progress: ProgressCallback?, _ userData: UnsafeMutableRawPointer?,
                                    _ json: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                                    _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        try evaluation(model, evalCSV, options, progress, userData, json, capacity, needed, scoring: true)
    }
}
