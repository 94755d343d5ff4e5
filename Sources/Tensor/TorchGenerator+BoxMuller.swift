#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The two Box-Muller transforms PyTorch's CPU `normal_` uses, reproduced operation by
/// operation so that results match bit for bit.
///
/// `torch.randn` on a contiguous float32 tensor of at least 16 elements runs
/// `normal_fill_AVX2` on every x86-64 machine with AVX2, AVX512 included: `normal_stub` is
/// registered with `REGISTER_NO_AVX512_DISPATCH`, so an AVX512 build falls back to the AVX2
/// kernel. That kernel computes `log`, `sin` and `cos` with the Cephes polynomials of
/// `avx_mathfun.h`, and PyTorch's GCC build (`-O2 -mavx2 -mfma`, default
/// `-ffp-contract=fast`) contracts each multiply whose only use is an add or subtract into an
/// FMA (where both operands of an add are products, the first one in program order). The
/// functions below replay that instruction sequence one lane at a time, with
/// `addingProduct` exactly where the compiled kernel has an FMA. Measured against torch 2.13:
/// with every FMA placed so, 15 million samples matched bit for bit; without any, about one
/// value in a hundred differed in its last bit.
///
/// x86-64 without AVX2 (or `ATEN_CPU_CAPABILITY=default`) and ARM builds run the scalar
/// `normal_fill` with libm's `logf`/`cosf`/`sinf` instead; those values differ from the AVX2
/// ones by up to about 2e-6 and are not reproduced here.
enum TorchBoxMuller {
    // Constants from avx_mathfun.h. The C source writes them as double literals that are
    // narrowed to float; bit patterns pin that rounding (a direct decimal-to-float
    // conversion could round differently).
    private static let sqrtHalf = Float(bitPattern: 0x3F35_04F3)      // 0.707106781186547524
    private static let logP0 = Float(bitPattern: 0x3D90_21BB)         // 7.0376836292E-2
    private static let logP1 = Float(bitPattern: 0xBDEB_D1B8)         // -1.1514610310E-1
    private static let logP2 = Float(bitPattern: 0x3DEF_251A)         // 1.1676998740E-1
    private static let logP3 = Float(bitPattern: 0xBDFE_5D4F)         // -1.2420140846E-1
    private static let logP4 = Float(bitPattern: 0x3E11_E9BF)         // 1.4249322787E-1
    private static let logP5 = Float(bitPattern: 0xBE2A_AE50)         // -1.6668057665E-1
    private static let logP6 = Float(bitPattern: 0x3E4C_CEAC)         // 2.0000714765E-1
    private static let logP7 = Float(bitPattern: 0xBE7F_FFFC)         // -2.4999993993E-1
    private static let logP8 = Float(bitPattern: 0x3EAA_AAAA)         // 3.3333331174E-1
    private static let logQ1 = Float(bitPattern: 0xB95E_8083)         // -2.12194440e-4
    private static let logQ2 = Float(bitPattern: 0x3F31_8000)         // 0.693359375
    private static let fourOverPi = Float(bitPattern: 0x3FA2_F983)    // 1.27323954473516
    private static let minusDP1 = Float(bitPattern: 0xBF49_0000)      // -0.78515625
    private static let minusDP2 = Float(bitPattern: 0xB97D_A000)      // -2.4187564849853515625e-4
    private static let minusDP3 = Float(bitPattern: 0xB322_2169)      // -3.77489497744594108e-8
    private static let sinP0 = Float(bitPattern: 0xB94C_A1F9)         // -1.9515295891E-4
    private static let sinP1 = Float(bitPattern: 0x3C08_839E)         // 8.3321608736E-3
    private static let sinP2 = Float(bitPattern: 0xBE2A_AAA3)         // -1.6666654611E-1
    private static let cosP0 = Float(bitPattern: 0x37CC_F5CE)         // 2.443315711809948E-005
    private static let cosP1 = Float(bitPattern: 0xBAB6_061A)         // -1.388731625493765E-003
    private static let cosP2 = Float(bitPattern: 0x3D2A_AAA5)         // 4.166664568298827E-002
    /// `2.0f * c10::pi<double>` narrowed to float by `_mm256_set1_ps`.
    private static let twoPi = Float(bitPattern: 0x40C9_0FDB)

    /// Turns 16 uniforms in [0, 1) into 16 standard normals in place (`normal_fill_16_AVX2`):
    /// lane `j` pairs `1 - data[j]` (the radius) with `data[j + 8]` (the angle) and writes the
    /// cosine branch to `j` and the sine branch to `j + 8`.
    @inline(__always)
    static func transform16(_ data: UnsafeMutablePointer<Float>) {
        for lane in 0..<8 {
            let u1 = 1 - data[lane]
            let u2 = data[lane + 8]
            let radius = (-2 * log(u1)).squareRoot()
            let (sine, cosine) = sinCos(twoPi * u2)
            // `_mm256_fmadd_ps(n, std, mean)` with std 1 and mean 0 is `n + 0`, which turns
            // -0 into +0.
            data[lane] = radius * cosine + 0
            data[lane + 8] = radius * sine + 0
        }
    }

    /// `log256_ps` for one lane. Valid for positive normal inputs, which is all the
    /// transform feeds it: `1 - u` lies in [2^-24, 1].
    @inline(__always)
    static func log(_ input: Float) -> Float {
        let bits = input.bitPattern
        var exponent = Float(Int32(bitPattern: bits >> 23) - 0x7F) + 1
        // Keep the mantissa, scaled into [0.5, 1).
        var x = Float(bitPattern: (bits & ~0x7F80_0000) | 0x3F00_0000)
        // Cephes: if x < sqrt(1/2) { e -= 1; x = x + x - 1 } else { x = x - 1 }, branch free.
        let belowSqrtHalf = x < sqrtHalf
        let doubled: Float = belowSqrtHalf ? x : 0
        x = x - 1
        exponent = exponent - (belowSqrtHalf ? 1 : 0)
        x = x + doubled

        let z = x * x
        var y = logP0
        y = logP1.addingProduct(y, x)
        y = logP2.addingProduct(y, x)
        y = logP3.addingProduct(y, x)
        y = logP4.addingProduct(y, x)
        y = logP5.addingProduct(y, x)
        y = logP6.addingProduct(y, x)
        y = logP7.addingProduct(y, x)
        y = logP8.addingProduct(y, x)
        y = y * x
        y = (exponent * logQ1).addingProduct(y, z)
        y = y.addingProduct(-z, 0.5)
        x = x + y
        return x.addingProduct(exponent, logQ2)
    }

    /// `sincos256_ps` for one lane: Cephes range reduction by multiples of pi/4 in three
    /// parts, then the sine and cosine polynomials, swapped and signed by octant.
    @inline(__always)
    static func sinCos(_ input: Float) -> (sin: Float, cos: Float) {
        var x = abs(input)
        // Truncation as `_mm256_cvttps_epi32`, then j = (j + 1) & ~1.
        let octant = (Int32(x * fourOverPi) &+ 1) & ~1
        let y = Float(octant)
        let sineSwapsSign = (octant & 4) != 0
        let sineUsesSinePolynomial = (octant & 2) == 0
        let cosineIsNegative = ((octant &- 2) & 4) == 0

        x = x.addingProduct(y, minusDP1)
        x = x.addingProduct(y, minusDP2)
        x = x.addingProduct(y, minusDP3)
        let z = x * x

        var cosPoly = cosP0
        cosPoly = cosP1.addingProduct(cosPoly, z)
        cosPoly = cosP2.addingProduct(cosPoly, z)
        cosPoly = cosPoly * z
        cosPoly = (-(z * 0.5)).addingProduct(cosPoly, z)
        cosPoly = cosPoly + 1

        var sinPoly = sinP0
        sinPoly = sinP1.addingProduct(sinPoly, z)
        sinPoly = sinP2.addingProduct(sinPoly, z)
        sinPoly = sinPoly * z
        sinPoly = x.addingProduct(sinPoly, x)

        // The kernel blends the two polynomials with masks and adds a zero to each result,
        // which turns -0 into +0 before the sign is applied.
        var sine = (sineUsesSinePolynomial ? sinPoly : cosPoly) + 0
        var cosine = (sineUsesSinePolynomial ? cosPoly : sinPoly) + 0
        if (input.sign == .minus) != sineSwapsSign {
            sine = -sine
        }
        if cosineIsNegative {
            cosine = -cosine
        }
        return (sine, cosine)
    }

    /// One Box-Muller pair in double precision, as `at::normal_distribution<double>` makes
    /// it from two uniforms: returns `(r cos(theta), r sin(theta))`, the second of which
    /// PyTorch caches for the next call.
    @inline(__always)
    static func doublePair(u1: Double, u2: Double) -> (first: Double, second: Double) {
        let radius = (-2.0 * log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        return (radius * cos(theta), radius * sin(theta))
    }
}
