/// A restricted pickle virtual machine (protocols 0-5, binary opcodes).
///
/// It never executes anything: GLOBAL/STACK_GLOBAL resolve only names on an allow-list
/// (`PickleAllowList`), REDUCE/NEWOBJ/BUILD are interpreted for those names only, and any
/// other global is refused with an error naming it ("refusing to load: pickle references
/// os.system"). Hostile input is bounded: lengths are checked against the bytes that remain
/// before anything is allocated, and the stack, mark stack, memo and result nesting depth
/// are capped.
final class PickleMachine {
    // MARK: Internal value model (reference semantics, as in Python)

    class Box {
        func clear() {}
    }
    final class ListBox: Box {
        var items: [PV] = []
        override func clear() { items = [] }
    }
    final class TupleBox: Box {
        var items: [PV]
        init(_ items: [PV]) { self.items = items }
        override func clear() { items = [] }
    }
    final class DictBox: Box {
        var pairs: [(PV, PV)] = []
        var index: [HashKey: Int] = [:]
        override func clear() { pairs = []; index = [:] }
        func set(_ k: PV, _ v: PV) {
            if let h = HashKey(k) {
                if let i = index[h] { pairs[i].1 = v; return }
                index[h] = pairs.count
            }
            pairs.append((k, v))
        }
    }
    final class ObjBox: Box {
        let className: String
        var args: [PV]
        var state: PV = .none
        init(_ c: String, _ a: [PV]) { className = c; args = a }
        override func clear() { args = []; state = .none }
    }
    enum HashKey: Hashable {
        case s(String), i(Int), b(Bool)
        init?(_ v: PV) {
            switch v {
            case .string(let s): self = .s(s)
            case .int(let i): self = .i(i)
            case .bool(let b): self = .b(b)
            default: return nil
            }
        }
    }

    /// A tensor storage: raw bytes of one zip entry (or legacy record), typed by `dtype`.
    final class Storage {
        let key: String
        let dtype: DType
        var bytes: UnsafeRawBufferPointer?
        var owner: AnyObject?
        init(key: String, dtype: DType) { self.key = key; self.dtype = dtype }
    }
    /// A tensor view on a storage, materialised when the result is converted.
    final class TensorSpec {
        let storage: Storage
        let offset: Int
        let size: [Int]
        let stride: [Int]
        var done: RawTensor?
        init(storage: Storage, offset: Int, size: [Int], stride: [Int]) {
            self.storage = storage; self.offset = offset; self.size = size; self.stride = stride
        }
    }

    enum PV {
        case none, bool(Bool), int(Int), bigInt([UInt8]), float(Double), string(String), bytes([UInt8])
        case list(ListBox), tuple(TupleBox), dict(DictBox), object(ObjBox)
        case global(String)
        case storage(Storage)
        case tensor(TensorSpec)

        var kind: String {
            switch self {
            case .none: return "None"
            case .bool: return "bool"
            case .int, .bigInt: return "int"
            case .float: return "float"
            case .string: return "str"
            case .bytes: return "bytes"
            case .list: return "list"
            case .tuple: return "tuple"
            case .dict: return "dict"
            case .object(let o): return "object \(o.className)"
            case .global(let g): return "global \(g)"
            case .storage: return "storage"
            case .tensor: return "tensor"
            }
        }
    }

    // MARK: Limits

    struct Limits {
        var maxStack = 1 << 20
        var maxMarks = 10_000
        var maxMemo = 1 << 20
        var maxDepth = 200
        var maxNodes = 1 << 20
    }

    let path: String
    let what: String
    let limits: Limits
    var budget: AllocationBudget
    /// Resolves a persistent id (BINPERSID) to a value, typically a storage.
    var persistentLoad: ((PV) throws -> PV)?

    private var boxes: [Box] = []

    init(path: String, what: String, budget: AllocationBudget, limits: Limits = Limits()) {
        self.path = path
        self.what = what
        self.budget = budget
        self.limits = limits
    }

    deinit {
        // Break every container link before release so that deeply nested (or cyclic)
        // structures are freed iteratively instead of by deep recursive deinit.
        for b in boxes { b.clear() }
    }

    func error(_ m: String) -> CheckpointError { CheckpointError(path: path, "\(what): \(m)") }

    func registerBox<B: Box>(_ b: B) -> B { register(b) }

    private func register<B: Box>(_ b: B) -> B {
        boxes.append(b)
        return b
    }

    // MARK: Running

    /// Runs the pickle in `data` starting at `start`; returns the value and the offset just past STOP.
    func run(_ data: UnsafeRawBufferPointer, from start: Int = 0) throws -> (PV, Int) {
        var pos = start
        var stack: [PV] = []
        var marks: [Int] = []
        var memo: [Int: PV] = [:]
        let n = data.count

        func need(_ k: Int, _ op: String) throws {
            guard k >= 0, k <= n - pos else {
                throw error("truncated: \(op) at byte \(pos) needs \(k) bytes but only \(n - pos) remain")
            }
        }
        func u8(_ op: String) throws -> Int { try need(1, op); defer { pos += 1 }; return Int(data[pos]) }
        func u16(_ op: String) throws -> Int {
            try need(2, op); defer { pos += 2 }
            return Int(data.loadUnaligned(fromByteOffset: pos, as: UInt16.self).littleEndian)
        }
        func u32(_ op: String) throws -> Int {
            try need(4, op); defer { pos += 4 }
            return Int(data.loadUnaligned(fromByteOffset: pos, as: UInt32.self).littleEndian)
        }
        func i32(_ op: String) throws -> Int {
            try need(4, op); defer { pos += 4 }
            return Int(data.loadUnaligned(fromByteOffset: pos, as: Int32.self).littleEndian)
        }
        func u64(_ op: String) throws -> Int {
            try need(8, op)
            let v = data.loadUnaligned(fromByteOffset: pos, as: UInt64.self).littleEndian
            guard v <= UInt64(n - pos - 8) else {
                throw error("\(op) at byte \(pos) claims \(v) bytes but only \(n - pos - 8) remain (truncated or hostile length)")
            }
            pos += 8
            return Int(v)
        }
        func bytes(_ k: Int, _ op: String) throws -> UnsafeRawBufferPointer {
            try need(k, op)
            try budget.charge(k, path: path, what: "\(what): \(op)")
            defer { pos += k }
            return UnsafeRawBufferPointer(rebasing: data[pos..<(pos + k)])
        }
        func utf8(_ k: Int, _ op: String) throws -> String {
            let b = try bytes(k, op)
            guard let s = String(validating: b, as: UTF8.self) else { throw error("\(op) at byte \(pos - k): invalid UTF-8") }
            return s
        }
        func line(_ op: String) throws -> String {
            var e = pos
            while e < n, data[e] != 0x0A { e += 1 }
            guard e < n else { throw error("truncated: \(op) at byte \(pos) has no terminating newline") }
            let s = String(decoding: UnsafeRawBufferPointer(rebasing: data[pos..<e]), as: UTF8.self)
            pos = e + 1
            return s
        }
        func push(_ v: PV) throws {
            guard stack.count < limits.maxStack else { throw error("stack exceeds \(limits.maxStack) entries") }
            stack.append(v)
        }
        func pop(_ op: String) throws -> PV {
            guard let v = stack.popLast() else { throw error("\(op) at byte \(pos): stack underflow") }
            if let m = marks.last, stack.count < m { throw error("\(op) at byte \(pos): pops across a MARK") }
            return v
        }
        func top(_ op: String) throws -> PV {
            guard let v = stack.last else { throw error("\(op) at byte \(pos): stack underflow") }
            return v
        }
        func popMark(_ op: String) throws -> [PV] {
            guard let m = marks.popLast() else { throw error("\(op) at byte \(pos): no MARK on the stack") }
            guard m <= stack.count else { throw error("\(op) at byte \(pos): corrupt MARK") }
            let items = Array(stack[m...])
            stack.removeSubrange(m...)
            return items
        }
        func memoPut(_ i: Int, _ op: String) throws {
            guard let v = stack.last else { throw error("\(op) at byte \(pos): empty stack") }
            if memo[i] == nil, memo.count >= limits.maxMemo { throw error("memo exceeds \(limits.maxMemo) entries") }
            memo[i] = v
        }
        func memoGet(_ i: Int, _ op: String) throws {
            guard let v = memo[i] else { throw error("\(op) at byte \(pos): memo key \(i) was never stored") }
            try push(v)
        }
        func setItems(_ target: PV, _ kv: [PV], _ op: String) throws {
            guard kv.count % 2 == 0 else { throw error("\(op): odd number of items") }
            guard case .dict(let d) = target else { throw error("\(op): target is a \(target.kind), not a dict") }
            var i = 0
            while i < kv.count { d.set(kv[i], kv[i + 1]); i += 2 }
        }
        func appendItems(_ target: PV, _ items: [PV], _ op: String) throws {
            switch target {
            case .list(let l): l.items.append(contentsOf: items)
            default: throw error("\(op): target is a \(target.kind), not a list")
            }
        }
        func tuple(_ items: [PV]) -> PV { .tuple(register(TupleBox(items))) }

        while true {
            let opPos = pos
            let op = try u8("opcode")
            switch op {
            case 0x80: _ = try u8("PROTO")  // PROTO n
            case 0x95: _ = try u64("FRAME")  // FRAME: length checked, contents read inline
            case 0x2E:  // STOP
                guard marks.isEmpty else { throw error("STOP at byte \(opPos) with an open MARK") }
                guard stack.count == 1 else { throw error("STOP at byte \(opPos) with \(stack.count) values on the stack (expected 1)") }
                return (stack[0], pos)
            case 0x28:  // MARK
                guard marks.count < limits.maxMarks else { throw error("more than \(limits.maxMarks) nested MARKs (recursion bomb?)") }
                marks.append(stack.count)
            case 0x30: _ = try pop("POP")
            case 0x31: _ = try popMark("POP_MARK")
            case 0x32: try push(try top("DUP"))
            case 0x4E: try push(.none)  // N
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case 0x4A: try push(.int(try i32("BININT")))  // J
            case 0x4B: try push(.int(try u8("BININT1")))  // K
            case 0x4D: try push(.int(try u16("BININT2")))  // M
            case 0x8A, 0x8B:  // LONG1, LONG4
                let name = op == 0x8A ? "LONG1" : "LONG4"
                let k = op == 0x8A ? try u8(name) : try i32(name)
                guard k >= 0 else { throw error("\(name) at byte \(opPos): negative length") }
                let b = try bytes(k, name)
                try push(Self.decodeLong(Array(b)))
            case 0x49:  // INT (text)
                let s = try line("INT")
                if s == "00" { try push(.bool(false)) } else if s == "01" { try push(.bool(true)) } else if let v = Int(s) { try push(.int(v)) } else { throw error("INT at byte \(opPos): bad literal") }
            case 0x4C:  // LONG (text)
                var s = try line("LONG")
                if s.hasSuffix("L") { s.removeLast() }
                guard let v = Int(s) else { throw error("LONG at byte \(opPos): unsupported literal") }
                try push(.int(v))
            case 0x47:  // BINFLOAT (big-endian double)
                try need(8, "BINFLOAT")
                let bits = data.loadUnaligned(fromByteOffset: pos, as: UInt64.self).bigEndian
                pos += 8
                try push(.float(Double(bitPattern: bits)))
            case 0x46:  // FLOAT (text)
                let s = try line("FLOAT")
                guard let d = Double(s) else { throw error("FLOAT at byte \(opPos): bad literal") }
                try push(.float(d))
            case 0x8C: try push(.string(try utf8(try u8("SHORT_BINUNICODE"), "SHORT_BINUNICODE")))
            case 0x58: try push(.string(try utf8(try u32("BINUNICODE"), "BINUNICODE")))
            case 0x8D: try push(.string(try utf8(try u64("BINUNICODE8"), "BINUNICODE8")))
            case 0x55, 0x54:  // SHORT_BINSTRING, BINSTRING: Python 2 str, decoded as latin-1
                let name = op == 0x55 ? "SHORT_BINSTRING" : "BINSTRING"
                let k = op == 0x55 ? try u8(name) : try i32(name)
                guard k >= 0 else { throw error("\(name) at byte \(opPos): negative length") }
                let b = try bytes(k, name)
                try push(.string(String(String.UnicodeScalarView(b.map { Unicode.Scalar($0) }))))
            case 0x43: try push(.bytes(Array(try bytes(try u8("SHORT_BINBYTES"), "SHORT_BINBYTES"))))
            case 0x42: try push(.bytes(Array(try bytes(try u32("BINBYTES"), "BINBYTES"))))
            case 0x8E: try push(.bytes(Array(try bytes(try u64("BINBYTES8"), "BINBYTES8"))))
            case 0x96: try push(.bytes(Array(try bytes(try u64("BYTEARRAY8"), "BYTEARRAY8"))))
            case 0x7D: try push(.dict(register(DictBox())))  // }
            case 0x5D: try push(.list(register(ListBox())))  // ]
            case 0x8F: try push(.list(register(ListBox())))  // EMPTY_SET (as a list)
            case 0x29: try push(tuple([]))  // )
            case 0x85: let a = try pop("TUPLE1"); try push(tuple([a]))
            case 0x86: let b = try pop("TUPLE2"); let a = try pop("TUPLE2"); try push(tuple([a, b]))
            case 0x87:
                let c = try pop("TUPLE3"); let b = try pop("TUPLE3"); let a = try pop("TUPLE3")
                try push(tuple([a, b, c]))
            case 0x74: try push(tuple(try popMark("TUPLE")))  // t
            case 0x91: let l = register(ListBox()); l.items = try popMark("FROZENSET"); try push(.list(l))
            case 0x6C: let l = register(ListBox()); l.items = try popMark("LIST"); try push(.list(l))  // l
            case 0x64:  // DICT
                let kv = try popMark("DICT")
                let d = register(DictBox())
                try setItems(.dict(d), kv, "DICT")
                try push(.dict(d))
            case 0x61: let v = try pop("APPEND"); try appendItems(try top("APPEND"), [v], "APPEND")
            case 0x65: let items = try popMark("APPENDS"); try appendItems(try top("APPENDS"), items, "APPENDS")
            case 0x90: let items = try popMark("ADDITEMS"); try appendItems(try top("ADDITEMS"), items, "ADDITEMS")
            case 0x73:  // SETITEM
                let v = try pop("SETITEM"); let k = try pop("SETITEM")
                try setItems(try top("SETITEM"), [k, v], "SETITEM")
            case 0x75: let kv = try popMark("SETITEMS"); try setItems(try top("SETITEMS"), kv, "SETITEMS")
            case 0x71: try memoPut(try u8("BINPUT"), "BINPUT")
            case 0x72: try memoPut(try u32("LONG_BINPUT"), "LONG_BINPUT")
            case 0x70:
                guard let i = Int(try line("PUT")) else { throw error("PUT at byte \(opPos): bad index") }
                try memoPut(i, "PUT")
            case 0x94: try memoPut(memo.count, "MEMOIZE")
            case 0x68: try memoGet(try u8("BINGET"), "BINGET")
            case 0x6A: try memoGet(try u32("LONG_BINGET"), "LONG_BINGET")
            case 0x67:
                guard let i = Int(try line("GET")) else { throw error("GET at byte \(opPos): bad index") }
                try memoGet(i, "GET")
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try line("GLOBAL")
                let name = try line("GLOBAL")
                try push(try PickleAllowList.resolve(module: module, name: name, machine: self))
            case 0x93:  // STACK_GLOBAL
                let nameV = try pop("STACK_GLOBAL"), moduleV = try pop("STACK_GLOBAL")
                guard case .string(let module) = moduleV, case .string(let name) = nameV else {
                    throw error("STACK_GLOBAL at byte \(opPos): module and name must be strings")
                }
                try push(try PickleAllowList.resolve(module: module, name: name, machine: self))
            case 0x52:  // REDUCE
                let args = try pop("REDUCE"), callable = try pop("REDUCE")
                guard case .tuple(let t) = args else { throw error("REDUCE at byte \(opPos): arguments are a \(args.kind), not a tuple") }
                try push(try PickleAllowList.call(callable, t.items, machine: self))
            case 0x81:  // NEWOBJ
                let args = try pop("NEWOBJ"), cls = try pop("NEWOBJ")
                guard case .tuple(let t) = args else { throw error("NEWOBJ at byte \(opPos): arguments are a \(args.kind), not a tuple") }
                try push(try PickleAllowList.construct(cls, t.items, machine: self))
            case 0x92:  // NEWOBJ_EX
                _ = try pop("NEWOBJ_EX")
                let args = try pop("NEWOBJ_EX"), cls = try pop("NEWOBJ_EX")
                guard case .tuple(let t) = args else { throw error("NEWOBJ_EX at byte \(opPos): arguments are not a tuple") }
                try push(try PickleAllowList.construct(cls, t.items, machine: self))
            case 0x62:  // BUILD
                let state = try pop("BUILD")
                try PickleAllowList.build(try top("BUILD"), state: state, machine: self)
            case 0x51:  // BINPERSID
                let pid = try pop("BINPERSID")
                guard let persistentLoad else { throw error("BINPERSID at byte \(opPos): persistent ids are not allowed here") }
                try push(try persistentLoad(pid))
            case 0x50:  // PERSID (text)
                let s = try line("PERSID")
                guard let persistentLoad else { throw error("PERSID at byte \(opPos): persistent ids are not allowed here") }
                try push(try persistentLoad(.string(s)))
            default:
                throw error("unsupported or forbidden pickle opcode 0x\(String(op, radix: 16)) at byte \(opPos)")
            }
        }
    }

    static func decodeLong(_ b: [UInt8]) -> PV {
        if b.isEmpty { return .int(0) }
        if b.count <= 8 {
            var v: UInt64 = 0
            for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
            if b.count < 8, b.last! & 0x80 != 0 { v |= ~0 << (8 * UInt64(b.count)) }  // sign-extend
            return .int(Int(Int64(bitPattern: v)))
        }
        // Wider: still fits when the extra bytes are pure sign extension.
        let signByte: UInt8 = b[7] & 0x80 != 0 ? 0xFF : 0
        if b[8...].allSatisfy({ $0 == signByte }) { return decodeLong(Array(b[0..<8])) }
        return .bigInt(b)
    }
}
