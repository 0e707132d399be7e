/// Element type of a stored tensor. Raw values are the safetensors dtype names.
public enum DType: String, Sendable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// Whether the type is a floating-point type.
    public var isFloatingPoint: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64: return true
        default: return false
        }
    }
}

/// Exact IEEE binary16 -> binary32 widening (every half value, subnormals, infinities and NaN
/// payloads included), as `torch.Tensor.float()` does.
@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = UInt32(h >> 10) & 0x1F
    var mant = UInt32(h & 0x03FF)
    if exp == 0x1F {  // inf / nan
        return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
    }
    if exp == 0 {
        if mant == 0 { return Float(bitPattern: sign) }
        // subnormal: normalise
        var e: UInt32 = 113  // 127 - 15 + 1
        while mant & 0x0400 == 0 {
            mant <<= 1
            e -= 1
        }
        mant &= 0x03FF
        return Float(bitPattern: sign | (e << 23) | (mant << 13))
    }
    return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
}

/// bfloat16 -> binary32 widening (exact: bf16 is the top half of an f32).
@inline(__always)
func bfloat16ToFloat(_ b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}

/// binary32 -> IEEE binary16, rounded to nearest even (as `torch.Tensor.half()` does): values
/// beyond the half range become infinities, tiny ones subnormals or zero; NaN stays NaN.
@inline(__always)
public func floatToHalf(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
    let exp = Int((bits >> 23) & 0xFF)
    let mant = bits & 0x7F_FFFF
    if exp == 0xFF { return sign | 0x7C00 | (mant != 0 ? UInt16(0x200 | (mant >> 13)) : 0) }
    let e = exp - 127 + 15  // the half exponent
    if e >= 0x1F { return sign | 0x7C00 }
    if e <= 0 {  // a half subnormal (or zero): the significand shifted right by 14 - e
        if e < -10 { return sign }
        let m = mant | 0x80_0000, shift = UInt32(14 - e)
        var h = m >> shift
        let rem = m & ((1 << shift) - 1), half = UInt32(1) << (shift - 1)
        if rem > half || (rem == half && h & 1 == 1) { h += 1 }
        return sign | UInt16(h)
    }
    var h = UInt32(e << 10) | (mant >> 13)
    let rem = mant & 0x1FFF
    if rem > 0x1000 || (rem == 0x1000 && h & 1 == 1) { h += 1 }  // a carry may round up into the exponent (or to infinity)
    return sign | UInt16(h)
}
