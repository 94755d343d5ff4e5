// Shared maths for the compute shaders (see Shaders/README.md). Included with
// `#extension GL_GOOGLE_include_directive : require` and `#include "common.glsl"`.
//
// Everything is f32 and follows the CPU backend (Sources/CPUBackend/CPUBackend+Pointwise.swift,
// CPUBackend+Embedding.swift), the reference the Vulkan backend is tested against. The Vulkan
// precision rules only promise a few ulp for `exp`, 2.5 ulp for a division and 2^-11 absolute for
// `sin`/`cos` (inside [-pi, pi] only), so the helpers below avoid leaning on them where the
// result matters: `exp_f32` is the CPU's polynomial (about 1 ulp), `div_rn` corrects a quotient
// to (nearly always) the correctly rounded one, and `sin_reduced`/`cos_reduced` reduce the
// argument to [-pi, pi] before the built-ins.
//
// `precise` keeps the compiler and driver from reassociating or fusing the steps whose rounding
// is part of an algorithm. Such steps are written as separate multiplies and adds, never
// `fma()`: Vulkan lets a driver split an fma into a multiply and an add, and glslang puts no
// NoContraction on it, so a driver may also rewrite chained fmas (Mesa's lavapipe does: a
// Cody-Waite reduction written with fma() lost 5e-5 at |x| = 1000 there). `fma()` appears only
// in the Horner steps of polynomials, where fused or not changes the last bit at most.
#ifndef INFINITY_COMMON_GLSL
#define INFINITY_COMMON_GLSL

// e^x, within 0.6 ulp (rounded as the correctly rounded expf in about 98% of cases; a plain
// polynomial evaluation, as the CPU backend's `fusedExpLanes`, manages about 82%). Cody-Waite
// reduction x = n ln 2 + r with ln 2 = 0.693359375 - 2.1219444e-4 (Cephes' split), r carried as
// r + rError; the CPU's degree-6 polynomial e^r = 1 + r + r^2 P(r); 1 + r summed exactly
// (Fast2Sum) so the last addition is the only rounding of note; then times 2^n, exactly. x is
// clamped to [-87.33654, 88]: 0 below (ln of the smallest normal float), never infinite above.
// This precision matters for timestep_embedding, whose sin argument t * exp(...) turns one ulp
// of the frequency into 6e-5 at t = 1000.
float exp_f32(float x) {
    const float lowest = -87.33654;
    if (x < lowest) {
        return 0.0;
    }
    float clamped = min(x, 88.0);
    float n = roundEven(clamped * 1.44269504);
    // n * 0.693359375 is exact (9 + 8 significant bits), and so is the subtraction.
    precise float rHigh = clamped - n * 0.693359375;
    precise float rLow = n * 2.1219444e-4;
    // r + rError = rHigh + rLow exactly (2Sum).
    precise float r = rHigh + rLow;
    precise float rLowPart = r - rHigh;
    precise float rError = (rHigh - (r - rLowPart)) + (rLow - rLowPart);
    precise float p = 1.98756915e-4;
    p = fma(p, r, 1.39819995e-3);
    p = fma(p, r, 8.3334519e-3);
    p = fma(p, r, 4.16657959e-2);
    p = fma(p, r, 1.66666655e-1);
    p = fma(p, r, 5.00000012e-1);
    precise float tail = p * (r * r) + rError;
    // 1 + r = onePlusR + onePlusRError exactly (Fast2Sum, |r| < 1).
    precise float onePlusR = 1.0 + r;
    precise float onePlusRError = (1.0 - onePlusR) + r;
    precise float expR = onePlusR + (onePlusRError + tail);
    // 2^n, n in [-126, 127]: built from the exponent bits, exact.
    float twoToN = uintBitsToFloat(uint(int(n) + 127) << 23);
    return expR * twoToN;
}

// a / b rounded to nearest: the built-in quotient q (2.5 ulp in Vulkan) corrected by the
// residual a - q b, computed exactly with Dekker's product (Veltkamp splitting), so the result
// is correctly rounded except in rare near-ties. For normal a, b with |a|, |b|, |a / b| within
// about 2^+-100 (the splitting multiplies by 4097).
float div_rn(float a, float b) {
    precise float q = a / b;
    // q * b = product + error exactly.
    precise float product = q * b;
    precise float qSplit = 4097.0 * q;
    precise float qHigh = qSplit - (qSplit - q);
    precise float qLow = q - qHigh;
    precise float bSplit = 4097.0 * b;
    precise float bHigh = bSplit - (bSplit - b);
    precise float bLow = b - bHigh;
    precise float error = ((qHigh * bHigh - product) + qHigh * bLow + qLow * bHigh) + qLow * bLow;
    // a - product is exact (the two are within a few ulp); the residual is then a - q b to
    // within one rounding of a tiny number.
    precise float residual = (a - product) - error;
    precise float corrected = q + residual / b;
    return corrected;
}

// erf(x), absolute error below 1.8e-7 (f32 rounding included; checked against math.erf).
// |x| < 1: the Maclaurin series x * P(x^2), 11 terms (truncation below 1e-8, about 1e-7 of
// rounding at |x| near 1). |x| >= 1: Abramowitz and Stegun 7.1.26 as the CPU backend's
// `erfLanes`, `1 - t P(t) exp(-x^2)` with `t = 1 / (1 + p|x|)` (formula error below 1.5e-7),
// exactly +-1 once exp(-x^2) underflows (|x| > 9.3). The series replaces A&S near 0, where its
// `1 - (almost 1)` loses up to 4.5e-7 to f32 rounding (the CPU's erf has that error there; a
// GELU feels it as at most 2.3e-7 * |x|).
float erf(float x) {
    float magnitude = abs(x);
    if (magnitude < 1.0) {
        float z = x * x;
        precise float series = 1.480719282e-8;
        series = fma(series, z, -1.636584469e-7);
        series = fma(series, z, 1.646211437e-6);
        series = fma(series, z, -1.492565036e-5);
        series = fma(series, z, 1.205533298e-4);
        series = fma(series, z, -8.548327023e-4);
        series = fma(series, z, 5.223977625e-3);
        series = fma(series, z, -2.686617065e-2);
        series = fma(series, z, 1.128379167e-1);
        series = fma(series, z, -3.761263890e-1);
        series = fma(series, z, 1.128379167);
        return x * series;
    }
    precise float t = 1.0 / fma(0.3275911, magnitude, 1.0);
    precise float polynomial = 1.061405429;
    polynomial = fma(polynomial, t, -1.453152027);
    polynomial = fma(polynomial, t, 1.421413741);
    polynomial = fma(polynomial, t, -0.284496736);
    polynomial = fma(polynomial, t, 0.254829592);
    precise float value = 1.0 - polynomial * t * exp_f32(-(magnitude * magnitude));
    return x < 0.0 ? -value : value;
}

// The exact GELU as torch computes it by default: 0.5 x (1 + erf(x / sqrt 2)).
float gelu_erf(float x) {
    precise float y = x * 0.5 * (1.0 + erf(x * 0.70710678118654752));
    return y;
}

// torch's gelu(approximate="tanh"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). tanh is
// sign(y) (1 - 2 / (exp(2|y|) + 1)) with |y| clamped to 10 (tanh is 1 in f32 from |y| = 9.1), so
// nothing overflows whatever the driver's tanh would do.
float gelu_tanh(float x) {
    precise float inner = 0.79788456080286536 * (x + 0.044715 * x * x * x);
    float magnitude = min(abs(inner), 10.0);
    precise float tanhMagnitude = 1.0 - 2.0 / (exp_f32(2.0 * magnitude) + 1.0);
    float tanhValue = inner < 0.0 ? -tanhMagnitude : tanhMagnitude;
    precise float y = 0.5 * x * (1.0 + tanhValue);
    return y;
}

// x * sigmoid(x) = x / (1 + exp(-x)). exp_f32 never returns infinity (its argument is clamped to
// 88), so a large negative x gives a vanishing value rather than -x / inf or NaN.
float silu(float x) {
    precise float y = x / (1.0 + exp_f32(-x));
    return y;
}

// The activation numbered `kind` (0 silu, 1 gelu with erf, 2 gelu with tanh; the numbering of
// pointwise.comp's OP and group_norm.comp's ACTIVATION, and of VulkanBackend's Activation
// codes); any other kind leaves x as it is.
float activate(uint kind, float x) {
    if (kind == 0u) {
        return silu(x);
    } else if (kind == 1u) {
        return gelu_erf(x);
    } else if (kind == 2u) {
        return gelu_tanh(x);
    }
    return x;
}

// x - 2 pi k with k = round(x / 2 pi): a two-constant Cody-Waite reduction to about [-pi, pi].
// 2 pi = C1 + C2 with C1 = 201 / 32 (8 significant bits), so k C1 and x - k C1 are exact for
// |k| < 2^16 (|x| < ~411,000); the error is then the rounding of k C2 and of C2 itself, about
// |k| * 2e-10 (3e-8 at |x| = 1000). Separate precise operations, not fma(): see the top.
float reduce_two_pi(float x) {
    const float C1 = 6.28125;
    const float C2 = 1.9353071693e-3;
    float k = roundEven(x * 0.159154937);
    precise float r = x - k * C1;
    precise float reduced = r - k * C2;
    return reduced;
}

// sin and cos with the argument first reduced to [-pi, pi] (see reduce_two_pi): the built-ins are
// only specified inside that range.
float sin_reduced(float x) {
    return sin(reduce_two_pi(x));
}

float cos_reduced(float x) {
    return cos(reduce_two_pi(x));
}

// sum += v with Kahan compensation (sum - compensation is the running total).
void kahanAdd(inout float sum, inout float compensation, float v) {
    precise float y = v - compensation;
    precise float t = sum + y;
    precise float c = (t - sum) - y;
    compensation = c;
    sum = t;
}

#ifdef INFINITY_FLOAT16
// `value` as f16, clamped to f16's finite range (+-65504) so that large values stay finite. For
// the cooperative-matrix shaders, which enable the f16 types and define INFINITY_FLOAT16.
float16_t toHalf(float value) {
    return float16_t(clamp(value, -65504.0, 65504.0));
}
f16vec4 toHalf4(vec4 value) {
    return f16vec4(clamp(value, vec4(-65504.0), vec4(65504.0)));
}
#endif

#endif // INFINITY_COMMON_GLSL
