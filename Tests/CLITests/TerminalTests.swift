import Foundation
import Testing

/// What a terminal shows after the bytes a program wrote to it: the few control sequences the tool
/// uses (carriage return, newline, cursor up `ESC[nA`, erase below `ESC[J`, erase line `ESC[K`).
func screen(after output: String) -> [String] {
    var lines = [[Character]()], row = 0, column = 0
    var rest = Substring(output)
    while let c = rest.first {
        rest = rest.dropFirst()
        switch c {
        case "\u{1B}":
            let digits = rest.dropFirst().prefix { $0.isNumber }
            let n = Int(digits) ?? 1
            let op = rest.dropFirst(1 + digits.count).first
            rest = rest.dropFirst(2 + digits.count)
            switch op {
            case "A": row = max(0, row - n)
            case "J": lines = Array(lines[...row]); lines[row] = Array(lines[row].prefix(column))
            case "K": lines[row] = Array(lines[row].prefix(column))
            default: Issue.record("unexpected control sequence ESC[\(digits)\(op.map(String.init) ?? "")")
            }
        case "\r": column = 0
        case "\n", "\r\n":  // a pty turns "\n" into "\r\n", which Swift reads as one Character
            row += 1
            column = 0
            if row == lines.count { lines.append([]) }
        default:
            while lines[row].count < column { lines[row].append(" ") }
            if column < lines[row].count { lines[row][column] = c } else { lines[row].append(c) }
            column += 1
        }
    }
    return lines.map { String($0) }
}

/// The demo's progress bars on a terminal. Runs going at once each keep a line of their own, and
/// log lines go above the bars: before, two runs' bars shared one line and a log line printed
/// while a bar was drawn was appended to the bar's text.
@Suite struct TerminalTests {
    @Test func tableBarsAndLogLinesKeepLinesOfTheirOwn() throws {
        let tool = try #require(tool, "cleanclip-cli not found")
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("bars-\(getpid())").path
        let typescript = report + ".typescript"
        defer { try? FileManager.default.removeItem(atPath: report); try? FileManager.default.removeItem(atPath: typescript) }
        let command = "stty cols 200; '\(tool.path)' demo --table --quick --train-pairs 400 --clean-pairs 128 --test-images 60 "
            + "--pretrain-epochs 2 --finetune-epochs 1 --seeds 1,2 --attacks badnet --defences mmcl --jobs 2 --report '\(report)'"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-qec", command, typescript]  // runs it on a pseudo-terminal, output copied to the typescript
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let shown = screen(after: try String(contentsOfFile: typescript, encoding: .utf8))
        let bar = #/^(never-poisoned|badnet) seed [12] (pretrain|mmcl) \[[#-]{24}\] \d+\/\d+ .* elapsed \d+:\d\d eta \d+:\d\d$/#
        let barLines = shown.filter { $0.contains("] ") && $0.contains(" elapsed ") }
        // Six bars (two never-poisoned pretrainings, two pretrainings, two finetunes), each left on
        // a line of its own once finished, and nothing else on the screen's bar lines.
        #expect(barLines.count == 6, "\(shown.joined(separator: "\n"))")
        for line in barLines { #expect(line.wholeMatch(of: bar) != nil, "\(line)") }
        #expect(Set(barLines.map { $0.prefix { $0 != "[" } }).count == 6)
        #expect(shown.contains { $0.hasPrefix("[badnet seed 2] MMCL-only: CA ") } && shown.contains("report: \(report)/"))
    }
}
