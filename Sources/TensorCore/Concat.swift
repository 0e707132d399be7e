import Foundation

extension Tensor {
    /// Joins tensors along the first axis: [n1, ...] + [n2, ...] -> [n1 + n2, ...]
    /// (`torch.cat(dim=0)`; how originals and augmented views share one forward pass).
    package static func concatenated(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty, "concatenated: no tensors")
        let inner = Array(parts[0].shape.dropFirst())
        precondition(parts.allSatisfy { $0.rank >= 1 && Array($0.shape.dropFirst()) == inner },
                     "concatenated: shapes \(parts.map(\.shape)) differ after the first axis")
        let out = Tensor(zeros: [parts.map { $0.shape[0] }.reduce(0, +)] + inner)
        var offsets: [Int] = []
        var offset = 0
        for p in parts {
            offsets.append(offset)
            (out.data + offset).update(from: p.data, count: p.count)
            offset += p.count
        }
        let shapes = parts.map(\.shape)
        record(out, parts) { g in
            shapes.enumerated().map { i, s in
                let d = Tensor(zeros: s)
                d.data.update(from: g.data + offsets[i], count: d.count)
                return d
            }
        }
        return out
    }

    /// Rows `range` of the first axis: [n, ...] -> [range.count, ...] (a copy; `x[a..<b]`).
    package func slice(rows range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0],
                     "slice: rows \(range) of \(shape)")
        let per = shape[0] == 0 ? 0 : count / shape[0]
        var s = shape
        s[0] = range.count
        let out = Tensor(zeros: s)
        out.data.update(from: data + range.lowerBound * per, count: out.count)
        let inShape = shape
        recordUnary(out, self) { g in
            let dx = Tensor(zeros: inShape)
            (dx.data + range.lowerBound * per).update(from: g.data, count: g.count)
            return dx
        }
        return out
    }
}
