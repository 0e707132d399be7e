import Foundation

/// Counts what happened to the inputs (e.g. how many models loaded), printed when the fuzzer
/// exits, so a harness that refuses everything shows at a glance.
public enum Tally {
    nonisolated(unsafe) private static var counts: [String: Int] = [:]

    public static func count(_ outcome: String) {
        if counts.isEmpty { atexit { Tally.report() } }
        counts[outcome, default: 0] += 1
    }

    private static func report() {
        let line = counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        FileHandle.standardError.write(Data("outcomes: \(line)\n".utf8))
    }
}
