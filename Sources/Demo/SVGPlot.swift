import Foundation
import CleanCLIP

/// A minimal line chart written as SVG: several named series over a shared x axis, with axes,
/// ticks (whole numbers when every x is one, as epochs are) and a legend. Enough for loss curves
/// and per-epoch accuracy plots in demo reports.
public struct SVGLineChart {
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public init(name: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.points = points
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Fixed y range (e.g. 0...1 for fractions); derived from the data when nil.
    public var yRange: ClosedRange<Double>?

    public init(title: String, xLabel: String, yLabel: String, series: [Series], yRange: ClosedRange<Double>? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.yRange = yRange
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]

    /// The chart as an SVG document.
    public func render(width: Double = 640, height: Double = 400) -> String {
        let (left, right, top, bottom) = (64.0, 150.0, 36.0, 48.0)
        let all = series.flatMap(\.points).filter { $0.y.isFinite }
        let xs = all.map(\.x), ys = all.map(\.y)
        // Whole-number x values (epochs) get whole-number ticks, at most about ten of them.
        let integerX = !xs.isEmpty && xs.allSatisfy { $0 == $0.rounded() }
        let xMin = xs.min() ?? 0, xMax = max(xs.max() ?? 1, xMin + (integerX ? 1 : 1e-9))
        var yLo = yRange?.lowerBound ?? (ys.min() ?? 0), yHi = yRange?.upperBound ?? (ys.max() ?? 1)
        if yHi - yLo < 1e-9 { yLo -= 0.5; yHi += 0.5 }
        let plotW = width - left - right, plotH = height - top - bottom
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * plotW }
        func py(_ y: Double) -> Double { top + (1 - (y - yLo) / (yHi - yLo)) * plotH }
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        func fmt(_ v: Double) -> String { String(format: abs(v) >= 100 ? "%.0f" : abs(v) >= 10 ? "%.1f" : "%.2f", v) }
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left + plotW / 2)" y="20" text-anchor="middle" font-size="15">\(esc(title))</text>
        <rect x="\(left)" y="\(top)" width="\(plotW)" height="\(plotH)" fill="none" stroke="#444"/>

        """
        for i in 0...4 {
            let y = yLo + (yHi - yLo) * Double(i) / 4
            svg += "<line x1=\"\(left)\" y1=\"\(py(y))\" x2=\"\(left + plotW)\" y2=\"\(py(y))\" stroke=\"#ddd\"/>\n"
            svg += "<text x=\"\(left - 6)\" y=\"\(py(y) + 4)\" text-anchor=\"end\">\(fmt(y))</text>\n"
        }
        let xTicks: [(value: Double, label: String)]
        if integerX {
            let step = max(1, Int(((xMax - xMin) / 10).rounded(.up)))
            xTicks = stride(from: Int(xMin), through: Int(xMax), by: step).map { (Double($0), "\($0)") }
        } else {
            xTicks = (0...4).map { i in let x = xMin + (xMax - xMin) * Double(i) / 4; return (x, fmt(x)) }
        }
        for t in xTicks {
            svg += "<line x1=\"\(px(t.value))\" y1=\"\(top + plotH)\" x2=\"\(px(t.value))\" y2=\"\(top + plotH + 4)\" stroke=\"#444\"/>\n"
            svg += "<text x=\"\(px(t.value))\" y=\"\(top + plotH + 16)\" text-anchor=\"middle\">\(t.label)</text>\n"
        }
        svg += "<text x=\"\(left + plotW / 2)\" y=\"\(height - 10)\" text-anchor=\"middle\">\(esc(xLabel))</text>\n"
        svg += "<text x=\"16\" y=\"\(top + plotH / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(top + plotH / 2))\">\(esc(yLabel))</text>\n"
        for (i, s) in series.enumerated() {
            let color = Self.palette[i % Self.palette.count]
            let pts = s.points.filter { $0.y.isFinite }.map { "\(px($0.x)),\(py($0.y))" }.joined(separator: " ")
            if !pts.isEmpty {
                svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(pts)\"/>\n"
                if s.points.count <= 30 {
                    for p in s.points where p.y.isFinite { svg += "<circle cx=\"\(px(p.x))\" cy=\"\(py(p.y))\" r=\"3\" fill=\"\(color)\"/>\n" }
                }
            }
            let ly = top + 14 + Double(i) * 18
            svg += "<line x1=\"\(left + plotW + 12)\" y1=\"\(ly - 4)\" x2=\"\(left + plotW + 32)\" y2=\"\(ly - 4)\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            svg += "<text x=\"\(left + plotW + 36)\" y=\"\(ly)\">\(esc(s.name))</text>\n"
        }
        return svg + "</svg>\n"
    }
}
