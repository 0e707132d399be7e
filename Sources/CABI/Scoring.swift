import CleanCLIP
import Foundation

@_cdecl("cleanclip_score_samples_default_options")
public func cleanclip_score_samples_default_options(_ options: UnsafeMutableRawPointer?, _ structSize: Int) -> Int32 {
    boundary {
        try fillDefaults(options, structSize, CScoreSamplesOptions.self) { s in
            s.write(\.k, Int32(16))
            s.write(\.batch_size, Int32(64))
        }
    }
}

/// Checks the three optional score outputs (`n` floats each) against `capacity`.
private func checkScoreOutputs(_ n: Int, _ outputs: [UnsafeMutablePointer<Float>?], _ capacity: Int,
                               _ needed: UnsafeMutablePointer<Int>?) throws {
    if outputs.contains(where: { $0 != nil }) {
        try checkCapacity(n, capacity, needed, "scores of \(n) samples")
    } else {
        needed?.pointee = n
    }
}

private func store(_ scores: SampleScores, _ kDistance: UnsafeMutablePointer<Float>?,
                   _ slof: UnsafeMutablePointer<Float>?, _ dao: UnsafeMutablePointer<Float>?) {
    for (values, out) in [(scores.kDistance, kDistance), (scores.slof, slof), (scores.dao, dao)] {
        guard let out else { continue }
        values.withUnsafeBufferPointer { if let p = $0.baseAddress { out.update(from: p, count: $0.count) } }
    }
}

@_cdecl("cleanclip_score_samples")
public func cleanclip_score_samples(_ model: OpaquePointer?, _ csv: UnsafePointer<CChar>?, _ options: UnsafeRawPointer?,
                                    _ outCSV: UnsafePointer<CChar>?, _ progress: ProgressCallback?,
                                    _ userData: UnsafeMutableRawPointer?,
                                    _ kDistance: UnsafeMutablePointer<Float>?, _ slof: UnsafeMutablePointer<Float>?,
                                    _ dao: UnsafeMutablePointer<Float>?, _ capacity: Int,
                                    _ needed: UnsafeMutablePointer<Int>?, _ aurocOut: UnsafeMutablePointer<Double>?) -> Int32 {
    boundary {
        let m = try ModelHandle.from(model).model
        let csv = try string(csv, "csv")
        let outCSV = try optionalString(outCSV, "out_csv")
        var k = 16, batchSize = 64, imageColumn = "image", backdoorColumn = "is_backdoor"
        if let s = try callerOptions(options, CScoreSamplesOptions.self) {
            k = try s.positiveInt(\.k, default: k)
            batchSize = try s.positiveInt(\.batch_size, default: batchSize)
            imageColumn = try s.string(\.image_column) ?? imageColumn
            backdoorColumn = try s.string(\.backdoor_column) ?? backdoorColumn
        }
        guard FileManager.default.fileExists(atPath: csv) else { throw BoundaryError(.ioErrorNotFound, "\(csv): no such file") }
        let rows = try CSV.read(path: csv).rows.count  // the output size, known before any encoding
        try checkScoreOutputs(rows, [kDistance, slof, dao], capacity, needed)
        let reporter = ProgressReporter(progress, userData)
        let report = try reporter.run {
            try SampleScoring.scoreSamples(model: m, csv: csv, k: k, imageColumn: imageColumn, backdoorColumn: backdoorColumn,
                             batchSize: batchSize, progress: reporter.evaluation)
        }
        guard report.scores.kDistance.count == rows else {
            throw BoundaryError(.internal, "scored \(report.scores.kDistance.count) samples of \(rows) rows")
        }
        if let outCSV { try report.writeCSV(to: outCSV) }
        store(report.scores, kDistance, slof, dao)
        if let aurocOut {
            for (i, key) in ["k_distance", "slof", "dao"].enumerated() { aurocOut[i] = report.auroc?[key] ?? .nan }
        }
    }
}

@_cdecl("cleanclip_sample_scores")
public func cleanclip_sample_scores(_ embeddings: UnsafePointer<Float>?, _ n: Int, _ dim: Int, _ k: Int32,
                                    _ kDistance: UnsafeMutablePointer<Float>?, _ slof: UnsafeMutablePointer<Float>?,
                                    _ dao: UnsafeMutablePointer<Float>?, _ capacity: Int,
                                    _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let embeddings = try nonNull(embeddings, "embeddings")
        try positive(n, "the number of embeddings")
        try positive(dim, "dim")
        let total = try product([n, dim], "the embeddings")
        guard k >= 1 else { throw BoundaryError(.invalidArgument, "k is \(k); it must be at least 1") }
        guard n >= Int(k) + 2 else {
            throw BoundaryError(.invalidArgument, "scoring with k = \(k) needs at least \(Int(k) + 2) embeddings; got \(n)")
        }
        try checkScoreOutputs(n, [kDistance, slof, dao], capacity, needed)
        let t = Tensor(uninitialized: [n, dim])
        t.data.update(from: embeddings, count: total)
        store(try SampleScores(embeddings: t, k: Int(k)), kDistance, slof, dao)
    }
}
