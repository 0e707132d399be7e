import Foundation

/// A one-line progress bar on standard error: redrawn in place on a terminal, printed every
/// few seconds otherwise (logs, CI).
final class ProgressBar {
    private let label: String
    private let total: Int
    private let start = Date()
    private var lastPrint = Date.distantPast
    private let interactive = isatty(STDERR_FILENO) != 0
    /// false: draws nothing (the ranks of a data-parallel job other than rank 0).
    private let visible: Bool

    init(_ label: String, total: Int, visible: Bool = true) {
        self.label = label
        self.total = max(total, 1)
        self.visible = visible
    }

    /// Shows `done` of `total`, with `detail` (loss, step time) and an ETA.
    func update(_ done: Int, detail: String = "") {
        guard visible else { return }
        let now = Date()
        let finished = done >= total
        guard finished || now.timeIntervalSince(lastPrint) >= (interactive ? 0.1 : 5) else { return }
        lastPrint = now
        let elapsed = now.timeIntervalSince(start)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        let width = 24, filled = min(width, width * done / total)
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = "\(label) [\(bar)] \(done)/\(total) \(detail) elapsed \(Self.clock(elapsed)) eta \(Self.clock(eta))"
        FileHandle.standardError.write(Data(((interactive ? "\r\u{1B}[K" : "") + line + (interactive && !finished ? "" : "\n")).utf8))
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// One progress bar per named phase, safe to update from any thread.
final class ProgressBars: @unchecked Sendable {
    private var bars: [String: ProgressBar] = [:]
    private let lock = NSLock()

    func update(_ phase: String, _ done: Int, of total: Int, detail: String = "") {
        lock.lock()
        defer { lock.unlock() }
        let bar = bars[phase] ?? ProgressBar(phase, total: total)
        bars[phase] = bar
        bar.update(done, detail: detail)
    }
}
