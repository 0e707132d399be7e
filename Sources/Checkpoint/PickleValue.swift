/// A value decoded from a pickle by the restricted pickle machine (`PickleMachine`).
///
/// Only plain data and tensors can appear: nothing in a pickle is ever executed. Instances of
/// allow-listed inert classes (TorchScript `__torch__.*` modules, `argparse.Namespace`) appear
/// as `.object` with the arguments they were created with and the state given by BUILD.
public indirect enum PickleValue: @unchecked Sendable {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer that does not fit `Int`: little-endian two's-complement bytes as pickled.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case list([PickleValue])
    case tuple([PickleValue])
    /// A dict (or `collections.OrderedDict`) as ordered key/value pairs.
    case dict([(key: PickleValue, value: PickleValue)])
    case tensor(RawTensor)
    /// An inert instance: `className` is "module.Name" (e.g. "__torch__.clip.model.CLIP"),
    /// `arguments` the constructor arguments, `state` what BUILD set (usually a dict of
    /// attributes; `.none` when there was no BUILD).
    case object(className: String, arguments: [PickleValue], state: PickleValue)
    /// An allow-listed global that was referenced but not called (e.g. `torch.float32`).
    case global(String)

    /// For a dict, the value of the first entry whose key is the string `key`.
    public subscript(key: String) -> PickleValue? {
        guard case .dict(let pairs) = self else { return nil }
        for (k, v) in pairs { if case .string(let s) = k, s == key { return v } }
        return nil
    }

    /// The pairs of a dict, nil otherwise.
    public var dictPairs: [(key: PickleValue, value: PickleValue)]? {
        if case .dict(let p) = self { return p }
        return nil
    }

    /// The items of a list or tuple, nil otherwise.
    public var items: [PickleValue]? {
        switch self {
        case .list(let a), .tuple(let a): return a
        default: return nil
        }
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var intValue: Int? { if case .int(let i) = self { return i }; return nil }
    public var tensorValue: RawTensor? { if case .tensor(let t) = self { return t }; return nil }

    /// A short description of the kind of value, for error messages.
    public var kindName: String {
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
        case .tensor: return "tensor"
        case .object(let c, _, _): return "object \(c)"
        case .global(let g): return "global \(g)"
        }
    }
}
