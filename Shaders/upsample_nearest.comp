#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// Nearest-neighbour resize: x [planes, H, W] -> out [planes, OH, OW], count = planes*OH*OW.
// Source index as PyTorch (and the CPU backend) computes it:
// min(int(floor(float(dst) * (float(in) / float(out)))), in - 1), all in f32. The scale must be
// the correctly rounded f32 quotient, which a Vulkan division (2.5 ulp) does not promise, so
// it comes from an exact integer long division; the product is an f32 multiplication, which
// Vulkan rounds correctly. Sizes below 2^24, as float(size) must be exact. Grid-stride.

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Out { float outValues[]; };

layout(push_constant) uniform Push {
    uint count, H, W, OH, OW;
} p;

// a / b rounded to the nearest f32 (ties to even), for 0 < a, b < 2^24: long division until
// the quotient has 24 significant bits plus a rounding bit; the remainder is the sticky bit.
float quotientRN(uint a, uint b) {
    if (a == 0 || b == 0) {
        return 0.0;  // never from a valid dispatch; keeps the loop below finite
    }
    uint mantissa = a / b;
    uint remainder = a % b;
    int fractionBits = 0;
    // Significant bits so far (the integer part is below 2^24, so at most 24).
    int bits = mantissa == 0 ? 0 : findMSB(mantissa) + 1;
    while (bits < 25) {
        remainder <<= 1;  // remainder < b < 2^24: no overflow
        mantissa <<= 1;
        if (remainder >= b) {
            remainder -= b;
            mantissa |= 1;
        }
        fractionBits += 1;
        if (mantissa != 0) {
            bits += 1;
        }
    }
    // mantissa = floor(a / b * 2^fractionBits) with 25 significant bits.
    uint rounded = mantissa >> 1;
    if ((mantissa & 1) != 0 && (remainder != 0 || (rounded & 1) != 0)) {
        rounded += 1;  // may reach 2^24: still exact in f32
    }
    // rounded * 2^-(fractionBits - 1); the power of two is built from its bits, so both
    // conversions and the product are exact.
    float scale = uintBitsToFloat(uint(127 - (fractionBits - 1)) << 23);
    return float(rounded) * scale;
}

uint sourceIndex(uint dst, float scale, uint inSize) {
    precise float position = float(dst) * scale;
    return min(uint(floor(position)), inSize - 1);
}

void main() {
    if (p.count == 0) {
        return;
    }
    float rowScale = quotientRN(p.H, p.OH);
    float columnScale = quotientRN(p.W, p.OW);
    for (uint i = gl_GlobalInvocationID.x; i < p.count; i += gl_NumWorkGroups.x * 256) {
        uint ox = i % p.OW;
        uint rest = i / p.OW;
        uint oy = rest % p.OH;
        uint plane = rest / p.OH;
        uint sy = sourceIndex(oy, rowScale, p.H);
        uint sx = sourceIndex(ox, columnScale, p.W);
        outValues[i] = x[(plane * p.H + sy) * p.W + sx];
    }
}
