import CleanCLIP
import Foundation

@_cdecl("cleanclip_poison_default_options")
public func cleanclip_poison_default_options(_ options: UnsafeMutableRawPointer?, _ structSize: Int) -> Int32 {
    boundary {
        try fillDefaults(options, structSize, CPoisonOptions.self) { s in
            s.write(\.patch_size, Int32(16))
            s.write(\.label_consistent, Int32(0))
            s.write(\.seed, UInt64(0))
            s.write(\.size_train_data, Int64(0))
        }
    }
}

@_cdecl("cleanclip_poison")
public func cleanclip_poison(_ csv: UnsafePointer<CChar>?, _ target: UnsafePointer<CChar>?, _ count: Int,
                             _ outputDir: UnsafePointer<CChar>?, _ options: UnsafeRawPointer?,
                             _ csvOut: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                             _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let csv = try string(csv, "csv")
        let target = try string(target, "target")
        try positive(count, "count")
        let outputDir = try optionalString(outputDir, "output_dir")
        var opts = PoisonOptions()
        opts.outputDirectory = outputDir
        var trigger = "random", location = "random", patchSize = 16, seed: UInt64 = 0
        if let s = try callerOptions(options, CPoisonOptions.self) {
            trigger = try s.string(\.trigger) ?? trigger
            location = try s.string(\.location) ?? location
            patchSize = try s.positiveInt(\.patch_size, default: patchSize)
            opts.labelConsistent = (s.read(\.label_consistent) ?? 0) != 0
            seed = s.read(\.seed) ?? 0
            let size = s.read(\.size_train_data) ?? 0
            guard size >= 0 else { throw BoundaryError(.invalidArgument, "options->size_train_data is \(size); use 0 (all rows) or a positive count") }
            opts.sizeTrainData = size > 0 ? Int(size) : nil
            opts.imageColumn = try s.string(\.image_column) ?? opts.imageColumn
            opts.captionColumn = try s.string(\.caption_column) ?? opts.captionColumn
            opts.outputName = try s.string(\.output_name)
        }
        if let name = opts.outputName, name.isEmpty || name.contains("/") {
            throw BoundaryError(.invalidArgument, "options->output_name \"\(name)\" must be a file name without '/'")
        }
        let spec = try TriggerSpec(name: trigger, location: location, patchSize: patchSize)
        // The written CSV's path is <output folder>/<name>; bound it before writing anything.
        let cwd = FileManager.default.currentDirectoryPath.utf8.count
        let folder = max(outputDir?.utf8.count ?? 0, csv.utf8.count + cwd + 2)
        let bound = folder + 2 + (opts.outputName?.utf8.count ?? (target.utf8.count + 160))
        try checkTextBound(bound, csvOut, capacity, needed, "the output CSV path")
        guard FileManager.default.fileExists(atPath: csv) else { throw BoundaryError(.ioErrorNotFound, "\(csv): no such file") }
        let result = try Backdoor.poison(csv: csv, trigger: spec, target: target, count: count, seed: seed, options: opts)
        try copyText(result.csvPath, csvOut, capacity, needed, "the output CSV path")
    }
}
