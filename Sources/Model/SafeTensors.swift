import Tensor

// The safetensors format (https://github.com/huggingface/safetensors), as read by
// `SafeTensorsFile` and written by `SafeTensorsWriter`:
//
//     8 bytes   N, the header length, unsigned little-endian
//     N bytes   a UTF-8 JSON object, possibly padded at the end with spaces:
//               {"__metadata__": {"key": "value", ...},            (optional, strings only)
//                "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
//                ...}
//     the rest  the data buffer; each tensor's little-endian, row-major elements lie at
//               [begin, end) counted from the buffer's first byte.
//
// The tensors' ranges must tile the data buffer exactly: sorted by offset, the first begins at
// 0, each begins where the previous ends, and the last ends at the end of the file.

/// An element type a safetensors header may declare, spelled as in the header (`"F32"`).
///
/// All the types of the reference implementation are known, so that a file holding, say, an
/// `F8_E8M0` scale can still be opened and its other tensors read. ``convertsToFloat`` says
/// which ones ``SafeTensorsFile/floats(_:)`` can convert.
public enum SafeTensorsDType: String, Sendable, CaseIterable, Hashable {
    /// One byte, 0 or 1.
    case bool = "BOOL"
    /// Unsigned 8-bit integer.
    case u8 = "U8"
    /// Signed 8-bit integer.
    case i8 = "I8"
    /// Signed 16-bit integer.
    case i16 = "I16"
    /// Unsigned 16-bit integer.
    case u16 = "U16"
    /// Signed 32-bit integer.
    case i32 = "I32"
    /// Unsigned 32-bit integer.
    case u32 = "U32"
    /// Signed 64-bit integer.
    case i64 = "I64"
    /// Unsigned 64-bit integer.
    case u64 = "U64"
    /// IEEE 754 half precision.
    case f16 = "F16"
    /// bfloat16: the top half of an IEEE 754 single.
    case bf16 = "BF16"
    /// IEEE 754 single precision.
    case f32 = "F32"
    /// IEEE 754 double precision.
    case f64 = "F64"
    /// 8-bit float with 5 exponent bits, 2 mantissa bits, infinities and NaNs (OCP FP8 E5M2).
    case f8E5M2 = "F8_E5M2"
    /// 8-bit float with 4 exponent bits and 3 mantissa bits, no infinities, NaN only at
    /// `S.1111.111` (OCP FP8 E4M3, PyTorch's `float8_e4m3fn`).
    case f8E4M3 = "F8_E4M3"
    /// 8-bit float, E4M3 with a single NaN at `0x80` and no negative zero (not converted).
    case f8E4M3FNUZ = "F8_E4M3FNUZ"
    /// 8-bit float, E5M2 with a single NaN at `0x80` and no negative zero (not converted).
    case f8E5M2FNUZ = "F8_E5M2FNUZ"
    /// 8-bit power-of-two scale (OCP MX E8M0; not converted).
    case f8E8M0 = "F8_E8M0"
    /// 4-bit float (OCP MX E2M1; not converted).
    case f4 = "F4"
    /// 6-bit float E2M3 (OCP MX; not converted).
    case f6E2M3 = "F6_E2M3"
    /// 6-bit float E3M2 (OCP MX; not converted).
    case f6E3M2 = "F6_E3M2"
    /// Complex number of two single-precision floats (not converted).
    case c64 = "C64"

    /// Bits per element; the sub-byte types pack elements without padding.
    public var bitWidth: Int {
        switch self {
        case .f4: 4
        case .f6E2M3, .f6E3M2: 6
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3, .f8E4M3FNUZ, .f8E5M2FNUZ, .f8E8M0: 8
        case .i16, .u16, .f16, .bf16: 16
        case .i32, .u32, .f32: 32
        case .i64, .u64, .f64, .c64: 64
        }
    }

    /// Whether ``SafeTensorsFile/floats(_:)`` converts this type. Integers wider than 24 bits
    /// and `F64` are rounded to the nearest `Float`; all other conversions are exact.
    public var convertsToFloat: Bool {
        switch self {
        case .f8E4M3FNUZ, .f8E5M2FNUZ, .f8E8M0, .f4, .f6E2M3, .f6E3M2, .c64: false
        default: true
        }
    }

    /// The safetensors type of a tensor element type.
    public init(_ dtype: DType) {
        switch dtype {
        case .f32: self = .f32
        case .f16: self = .f16
        case .bf16: self = .bf16
        }
    }
}
