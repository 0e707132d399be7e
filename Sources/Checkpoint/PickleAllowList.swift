/// The only globals a checkpoint pickle may name, and what REDUCE / NEWOBJ / BUILD mean for
/// them. Nothing is executed: each allowed name maps to a fixed, data-only interpretation.
///
/// Allowed:
/// - `collections.OrderedDict` (a dict; BUILD state such as `_metadata` is ignored)
/// - `torch._utils._rebuild_tensor`, `_rebuild_tensor_v2` (tensor views on storages),
///   `_rebuild_parameter`, `_rebuild_parameter_with_state` (unwrap to the tensor),
///   `torch._tensor._rebuild_from_type_v2` with `torch.Tensor` / `torch.nn.parameter.Parameter`
/// - `torch.<T>Storage` storage types and `torch.<dtype>` objects (inside persistent ids)
/// - `torch.device` (becomes its string), `_codecs.encode(str, "latin1")` (Python 2 bytes)
/// - `torch.jit._pickle.restore_type_tag` / `build_*list` (TorchScript typed containers)
/// - `__torch__.*` classes and `argparse.Namespace`, as inert objects (args + BUILD state)
///
/// Everything else is refused: "refusing to load: pickle references os.system".
enum PickleAllowList {
    typealias PV = PickleMachine.PV

    static let storageTypes: [String: DType] = [
        "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16, "DoubleStorage": .f64,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool,
    ]
    static let dtypes: [String: DType] = [
        "float32": .f32, "float": .f32, "float16": .f16, "half": .f16, "bfloat16": .bf16,
        "float64": .f64, "double": .f64, "int64": .i64, "long": .i64, "int32": .i32, "int": .i32,
        "int16": .i16, "short": .i16, "int8": .i8, "uint8": .u8, "bool": .bool,
        "uint16": .u16, "uint32": .u32, "uint64": .u64,
    ]
    static let functions: Set<String> = [
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
        "torch._tensor._rebuild_from_type_v2", "torch.Tensor", "torch.nn.parameter.Parameter",
        "torch.device", "_codecs.encode",
        "torch.jit._pickle.restore_type_tag", "torch.jit._pickle.build_intlist",
        "torch.jit._pickle.build_floatlist", "torch.jit._pickle.build_boollist",
        "torch.jit._pickle.build_tensorlist", "torch.jit._pickle.build_doublelist",
    ]

    /// The element type named by a storage-type or dtype global, if it is one.
    static func dtype(ofGlobal g: String) -> DType? {
        guard g.hasPrefix("torch.") else { return nil }
        let n = String(g.dropFirst(6))
        return storageTypes[n] ?? dtypes[n]
    }

    static func isInertClass(_ g: String) -> Bool {
        g.hasPrefix("__torch__.") || g == "argparse.Namespace"
    }

    static func resolve(module: String, name: String, machine: PickleMachine) throws -> PV {
        let full = module + "." + name
        if functions.contains(full) || dtype(ofGlobal: full) != nil || (module == "__torch__" || module.hasPrefix("__torch__.")) || full == "argparse.Namespace" {
            return .global(full)
        }
        throw machine.error("refusing to load: pickle references \(full) (only tensor containers are allowed; nothing in a checkpoint is ever executed)")
    }

    static func call(_ callable: PV, _ args: [PV], machine m: PickleMachine) throws -> PV {
        guard case .global(let g) = callable else {
            throw m.error("REDUCE on a \(callable.kind), which is not callable")
        }
        func bad(_ why: String) -> CheckpointError { m.error("\(g)\(why)") }
        switch g {
        case "collections.OrderedDict":
            let d = m.registerDict()
            if let first = args.first {
                let items: [PV]
                switch first {
                case .list(let l): items = l.items
                case .tuple(let t): items = t.items
                case .dict(let src): for (k, v) in src.pairs { d.set(k, v) }; items = []
                default: throw bad(" called with a \(first.kind)")
                }
                for it in items {
                    guard case .tuple(let pair) = it, pair.items.count == 2 else { throw bad(" item is not a (key, value) pair") }
                    d.set(pair.items[0], pair.items[1])
                }
            }
            return .dict(d)
        case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2":
            guard args.count >= 4 else { throw bad(" needs (storage, offset, size, stride), got \(args.count) arguments") }
            guard case .storage(let s) = args[0] else { throw bad(": first argument is a \(args[0].kind), not a storage") }
            guard case .int(let offset) = args[1] else { throw bad(": storage offset is not an int") }
            let size = try intTuple(args[2], "size", g, m)
            let stride = try intTuple(args[3], "stride", g, m)
            return .tensor(PickleMachine.TensorSpec(storage: s, offset: offset, size: size, stride: stride))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let data = args.first, case .tensor = data else { throw bad(": first argument is not a tensor") }
            return data
        case "torch._tensor._rebuild_from_type_v2":
            guard args.count >= 3 else { throw bad(" needs (func, type, args, state)") }
            guard case .global(let t) = args[1], t == "torch.Tensor" || t == "torch.nn.parameter.Parameter" else {
                throw bad(": only plain torch.Tensor / Parameter types are supported, got \(args[1].kind)")
            }
            guard case .tuple(let inner) = args[2] else { throw bad(": arguments are not a tuple") }
            return try call(args[0], inner.items, machine: m)
        case "torch.device":
            guard case .string(let s)? = args.first else { throw bad(" called without a device string") }
            if args.count > 1, case .int(let i) = args[1] { return .string("\(s):\(i)") }
            return .string(s)
        case "_codecs.encode":
            guard case .string(let s)? = args.first else { throw bad(" called without a string") }
            let enc = args.count > 1 ? args[1] : .string("utf-8")
            guard case .string(let e) = enc else { throw bad(": encoding is not a string") }
            switch e.lowercased() {
            case "latin1", "latin-1", "iso-8859-1":
                var out: [UInt8] = []
                for u in s.unicodeScalars {
                    guard u.value < 256 else { throw bad(": character outside latin-1") }
                    out.append(UInt8(u.value))
                }
                return .bytes(out)
            case "utf-8", "utf8":
                return .bytes(Array(s.utf8))
            default:
                throw bad(": unsupported encoding '\(e)'")
            }
        case "torch.jit._pickle.restore_type_tag":
            guard let v = args.first else { throw bad(" called without a value") }
            return v
        case _ where g.hasPrefix("torch.jit._pickle.build_"):
            guard let v = args.first else { throw bad(" called without a list") }
            return v
        case _ where isInertClass(g):
            return .object(m.registerObject(g, args))
        default:
            throw bad(" cannot be called while loading a checkpoint")
        }
    }

    static func construct(_ cls: PV, _ args: [PV], machine m: PickleMachine) throws -> PV {
        guard case .global(let g) = cls else { throw m.error("NEWOBJ on a \(cls.kind)") }
        if isInertClass(g) { return .object(m.registerObject(g, args)) }
        if g == "collections.OrderedDict" { return try call(cls, args, machine: m) }
        throw m.error("NEWOBJ of \(g) is not supported")
    }

    static func build(_ target: PV, state: PV, machine m: PickleMachine) throws {
        switch target {
        case .object(let o): o.state = state
        case .dict: break  // OrderedDict instance attributes such as state_dict's `_metadata`
        case .tensor: break  // tensor __dict__ state (e.g. from _rebuild_from_type_v2): ignored
        default: throw m.error("BUILD on a \(target.kind) is not supported")
        }
    }

    private static func intTuple(_ v: PV, _ what: String, _ g: String, _ m: PickleMachine) throws -> [Int] {
        guard case .tuple(let t) = v else { throw m.error("\(g): \(what) is a \(v.kind), not a tuple") }
        return try t.items.map {
            guard case .int(let i) = $0 else { throw m.error("\(g): \(what) holds a \($0.kind), not an int") }
            return i
        }
    }
}

extension PickleMachine {
    func registerDict() -> DictBox { registerBox(DictBox()) }
    func registerObject(_ c: String, _ a: [PV]) -> ObjBox { registerBox(ObjBox(c, a)) }
}
