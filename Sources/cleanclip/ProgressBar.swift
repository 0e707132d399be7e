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

    /// Whether the bar has shown its last step.
    private(set) var finished = false

    /// The bar's line for `done` of `total`, with `detail` (loss, step time) and an ETA; nil while
    /// the last line is too recent (0.1 s on a terminal, 5 s otherwise). The last step always has one.
    func line(_ done: Int, detail: String) -> String? {
        let now = Date()
        finished = done >= total
        guard finished || now.timeIntervalSince(lastPrint) >= (interactive ? 0.1 : 5) else { return nil }
        lastPrint = now
        let elapsed = now.timeIntervalSince(start)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        let width = 24, filled = min(width, width * done / total)
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        return "\(label) [\(bar)] \(done)/\(total) \(detail) elapsed \(Self.clock(elapsed)) eta \(Self.clock(eta))"
    }

    /// Shows `done` of `total` on a line of its own, redrawn in place on a terminal.
    func update(_ done: Int, detail: String = "") {
        guard visible, let line = line(done, detail: detail) else { return }
        standardError((interactive ? "\r\u{1B}[K" + fitted(line) : line) + (interactive && !finished ? "" : "\n"))
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// One progress bar per named phase, safe to update from any thread. On a terminal the unfinished
/// bars are a block of lines at the bottom, one each, redrawn in place, so that runs going at once
/// (`demo --table`) keep a line each; a finished bar's last line, and every `log` line, is printed
/// above the block. Otherwise each bar prints a line every few seconds.
final class ProgressBars: @unchecked Sendable {
    private var bars: [String: ProgressBar] = [:]
    /// The unfinished bars' latest lines, in the order they started (on a terminal).
    private var block: [(phase: String, line: String)] = []
    /// How many lines of the block are on the screen, above the cursor.
    private var drawn = 0
    private let terminal = isatty(STDERR_FILENO) != 0
    private let lock = NSLock()

    func update(_ phase: String, _ done: Int, of total: Int, detail: String = "") {
        lock.withLock {
            let bar = bars[phase] ?? ProgressBar(phase, total: total)
            bars[phase] = bar
            guard let line = bar.line(done, detail: detail) else { return }
            guard terminal else { return standardError(line + "\n") }
            let index = block.firstIndex { $0.phase == phase }
            if bar.finished {
                if let index { block.remove(at: index) }
                return redraw(above: line)
            }
            if let index { block[index].line = line } else { block.append((phase, line)) }
            redraw()
        }
    }

    /// Prints `line` on standard output: on a terminal, above the bars.
    func log(_ line: String) {
        lock.withLock {
            guard terminal, drawn > 0 else { return print(line) }
            standardError("\r\u{1B}[\(drawn)A\u{1B}[J")
            drawn = 0
            print(line)
            fflush(stdout)
            redraw()
        }
    }

    /// Clears the block on the screen, prints `above` (if any), then the block again.
    private func redraw(above: String? = nil) {
        var text = drawn > 0 ? "\r\u{1B}[\(drawn)A\u{1B}[J" : ""
        for line in (above.map { [$0] } ?? []) + block.map(\.line) { text += fitted(line) + "\n" }
        drawn = block.count
        standardError(text)
    }
}

private func standardError(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }

/// `line` cut to the terminal's width, so that a redrawn line never wraps (as it is when the
/// width is unknown).
private func fitted(_ line: String) -> String {
    var size = winsize()
    guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 1, line.count >= size.ws_col else { return line }
    return String(line.prefix(Int(size.ws_col) - 1))
}
