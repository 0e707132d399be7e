/// Turning the machine's reference-semantics values into `PickleValue` trees, and tensor
/// views on storages into contiguous `RawTensor`s.
extension PickleMachine {
    /// Converts a machine value to `PickleValue`, materialising tensors. Shared references are
    /// converted once per reference; `maxNodes` bounds the total work, `maxDepth` the nesting
    /// (which also rejects cycles).
    func convert(_ v: PV) throws -> PickleValue {
        var nodes = 0
        return try convert(v, depth: 0, nodes: &nodes)
    }

    private func convert(_ v: PV, depth: Int, nodes: inout Int) throws -> PickleValue {
        guard depth < limits.maxDepth else {
            throw error("data nested deeper than \(limits.maxDepth) levels (or cyclic)")
        }
        nodes += 1
        guard nodes <= limits.maxNodes else { throw error("more than \(limits.maxNodes) values (shared-reference bomb?)") }
        switch v {
        case .none: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .bigInt(let b): return .bigInt(b)
        case .float(let d): return .float(d)
        case .string(let s): return .string(s)
        case .bytes(let b): return .bytes(b)
        case .list(let l): return .list(try l.items.map { try convert($0, depth: depth + 1, nodes: &nodes) })
        case .tuple(let t): return .tuple(try t.items.map { try convert($0, depth: depth + 1, nodes: &nodes) })
        case .dict(let d):
            return .dict(try d.pairs.map {
                (try convert($0.0, depth: depth + 1, nodes: &nodes), try convert($0.1, depth: depth + 1, nodes: &nodes))
            })
        case .object(let o):
            return .object(className: o.className,
                           arguments: try o.args.map { try convert($0, depth: depth + 1, nodes: &nodes) },
                           state: try convert(o.state, depth: depth + 1, nodes: &nodes))
        case .global(let g): return .global(g)
        case .storage(let s): throw error("a bare storage ('\(s.key)') is not supported outside a tensor")
        case .tensor(let t): return .tensor(try materialize(t))
        }
    }

    /// Builds the contiguous tensor for a (storage, offset, size, stride) view: zero copy when
    /// the view is already contiguous, otherwise a gathered copy (charged to the budget).
    func materialize(_ t: TensorSpec) throws -> RawTensor {
        if let done = t.done { return done }
        let s = t.storage
        func terr(_ m: String) -> CheckpointError { error("tensor on storage '\(s.key)': \(m)") }
        guard let sb = s.bytes else { throw terr("storage data was never found") }
        let es = s.dtype.byteSize
        let storageCount = sb.count / es
        guard t.size.count == t.stride.count else { throw terr("size \(t.size) and stride \(t.stride) differ in rank") }
        guard t.offset >= 0, t.stride.allSatisfy({ $0 >= 0 }) else { throw terr("negative offset or stride") }
        guard let count = checkedElementCount(t.size), multiplyChecked(count, es) != nil else {
            throw terr("size \(t.size) is invalid or too large")
        }
        var result: RawTensor
        if count == 0 {
            result = RawTensor(dtype: s.dtype, shape: t.size, bytes: UnsafeRawBufferPointer(start: nil, count: 0), owner: nil)
        } else {
            var last = t.offset
            for (d, st) in zip(t.size, t.stride) {
                guard let span = multiplyChecked(d - 1, st) else { throw terr("stride overflow") }
                let (sum, o) = last.addingReportingOverflow(span)
                guard !o else { throw terr("stride overflow") }
                last = sum
            }
            guard last < storageCount else {
                throw terr("view (offset \(t.offset), size \(t.size), stride \(t.stride)) reaches element \(last) of a \(storageCount)-element storage")
            }
            var contiguous = true
            var expect = 1
            for d in stride(from: t.size.count - 1, through: 0, by: -1) {
                if t.size[d] != 1, t.stride[d] != expect { contiguous = false; break }
                expect *= t.size[d]
            }
            if contiguous {
                let start = t.offset * es
                result = RawTensor(dtype: s.dtype, shape: t.size,
                                   bytes: UnsafeRawBufferPointer(rebasing: sb[start..<(start + count * es)]), owner: s.owner)
            } else {
                try budget.charge(count * es, path: path, what: "\(what): copying a non-contiguous tensor")
                let buf = OwnedBuffer(count: count * es)
                let src = sb.baseAddress!
                let rank = t.size.count
                var idx = [Int](repeating: 0, count: rank)
                var srcOff = t.offset
                for i in 0..<count {
                    (buf.pointer + i * es).copyMemory(from: src + srcOff * es, byteCount: es)
                    var d = rank - 1
                    while d >= 0 {
                        idx[d] += 1
                        srcOff += t.stride[d]
                        if idx[d] < t.size[d] { break }
                        srcOff -= t.stride[d] * t.size[d]
                        idx[d] = 0
                        d -= 1
                    }
                }
                result = RawTensor(dtype: s.dtype, shape: t.size, bytes: buf.bytes, owner: buf)
            }
        }
        t.done = result
        return result
    }
}
