/// Bit-exact conversions between `Float` and the narrow float formats of safetensors files.
///
/// Written with integer operations rather than `Float16` because `Float16` is unavailable on
/// macOS on Intel, and because float arithmetic on subnormal inputs would be flushed to zero
/// in a process that sets the CPU's denormals-are-zero mode; integer code is exact everywhere.
enum FloatBits {
    /// The `Float` equal to the IEEE half-precision value with bit pattern `bits`. Exact for every
    /// pattern; a NaN keeps its sign and payload (a signalling NaN stays signalling).
    @inline(__always)
    static func float(fromHalf bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let magnitude = UInt32(bits & 0x7FFF)
        // Normal halves: rebias the exponent from 15 to 127 and widen the mantissa from 10 to
        // 23 bits. Infinities and NaNs (exponent 31) need the exponent rebiased once more, to
        // 255. Selects rather than branches, so that the conversion loop vectorizes.
        var result = magnitude << 13 &+ (127 - 15) << 23
        if magnitude >= 0x7C00 { result &+= (127 - 15) << 23 }
        // A subnormal half is magnitude * 2^-24: an integer below 2^10 times a power of two,
        // both exact in Float, and so is their product (a normal Float).
        if magnitude < 0x0400 { result = (Float(magnitude) * 0x1p-24).bitPattern }
        return Float(bitPattern: sign | result)
    }

    /// The IEEE half-precision bit pattern nearest to `value`, ties to even. Values at or beyond
    /// 65520 become infinity, as IEEE rounding requires; NaN stays NaN (made quiet).
    static func half(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
        let magnitude = bits & 0x7FFF_FFFF
        let exponent = Int(magnitude >> 23)

        if magnitude >= 0x7F80_0000 {
            let payload = UInt16(truncatingIfNeeded: magnitude >> 13) & 0x3FF
            return magnitude == 0x7F80_0000 ? sign | 0x7C00 : sign | 0x7E00 | payload
        }
        if magnitude >= (127 + 16) << 23 {  // at least 2^16: beyond the rounding range of 65504
            return sign | 0x7C00
        }
        if exponent < 127 - 14 {
            // Below 2^-14 the result is a subnormal half m * 2^-24 with m = round(value * 2^24).
            // value * 2^24 = significand * 2^(exponent - 126), so m is the 24-bit significand
            // shifted right by 126 - exponent, rounded to nearest even.
            let shift = 126 - exponent
            guard shift < 25 else { return sign }  // below 2^-25, or exactly it (ties to 0)
            let significand = (magnitude & 0x7F_FFFF) | 0x80_0000
            return sign | UInt16(roundedShift(significand, by: shift))
        }
        // Normal range: rebias the exponent, then round away the 13 low mantissa bits. A carry
        // out of the mantissa correctly bumps the exponent (up to infinity at 65520).
        let rebiased = magnitude - UInt32(127 - 15) << 23
        return sign | UInt16(roundedShift(rebiased, by: 13))
    }

    /// The `Float` with bfloat16 bit pattern `bits`: bfloat16 is the top half of a `Float`.
    @inline(__always)
    static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The bfloat16 bit pattern nearest to `value`, ties to even; NaN stays NaN (made quiet).
    static func bfloat16(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if bits & 0x7FFF_FFFF > 0x7F80_0000 {
            return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
        }
        return UInt16(roundedShift(bits, by: 16))
    }

    /// The `Float` of an FP8 E5M2 byte: E5M2 is the top half of an IEEE half.
    @inline(__always)
    static func float(fromE5M2 byte: UInt8) -> Float {
        float(fromHalf: UInt16(byte) << 8)
    }

    /// The `Float` of an FP8 E4M3 (`float8_e4m3fn`) byte: bias 7, no infinities, and NaN only
    /// when all exponent and mantissa bits are set.
    @inline(__always)
    static func float(fromE4M3 byte: UInt8) -> Float {
        let sign = UInt32(byte & 0x80) << 24
        let exponent = UInt32(byte >> 3) & 0xF
        let mantissa = UInt32(byte & 0x7)
        if exponent == 0xF && mantissa == 0x7 {
            return Float(bitPattern: sign | 0x7FC0_0000)
        }
        if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1p-9
            return Float(bitPattern: sign | magnitude.bitPattern)
        }
        return Float(bitPattern: sign | (exponent + (127 - 7)) << 23 | mantissa << 20)
    }

    /// `value >> shift` rounded to nearest, ties to even (`1 <= shift <= 31`).
    @inline(__always)
    private static func roundedShift(_ value: UInt32, by shift: Int) -> UInt32 {
        let quotient = value >> shift
        let remainder = value & ((1 << shift) - 1)
        let halfway = UInt32(1) << (shift - 1)
        let roundsUp = remainder > halfway || (remainder == halfway && quotient & 1 == 1)
        return roundsUp ? quotient + 1 : quotient
    }
}
