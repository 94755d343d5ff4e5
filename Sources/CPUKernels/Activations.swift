import Tensor

// The activation functions of the UNet (SiLU, exact GELU, tanh GELU) a vector at a time, generic
// over the vector instruction set, and the loops that apply them: elementwise, after a group
// norm's affine step, and as the GEGLU gate. Each instruction-set module specialises the loops
// for its width; an element's value is the same in every width, thread count and position in a
// row (tails go through the same lane function, zero-padded).
//
// Sign tests and selections go through `VectorISA.select(_:_:whereNegative:)`: lane comparisons and
// bit operations in generic code compile to scalar loops even once specialised.

extension VectorISA {
    /// `e^x` per lane for `x <= 0`, relative error about 2e-7 (Cephes' single-precision
    /// polynomial, the argument reduced by `ln 2` in two parts). Below `-86` (`-infinity`
    /// included) the result is `e^-86`, about 4e-38: the activations only add it to 1 or
    /// multiply it by small numbers.
    @inlinable @inline(__always)
    package static func expOfNonPositive(_ x: Vector) -> Vector {
        let clamped = laneMax(x, Vector(repeating: -86))
        // Adding 1.5 * 2^23 rounds `x / ln 2` to the nearest integer `n` (at least -124 here),
        // which then sits in the low mantissa bits of `shifted`.
        let magic = Vector(repeating: 12_582_912)
        let shifted = magic.addingProduct(clamped, Vector(repeating: 1.442_695_04))
        let n = shifted - magic
        let r = clamped.addingProduct(n, Vector(repeating: -0.693_359_375))
            .addingProduct(n, Vector(repeating: 2.121_944_4e-4))
        var p = Vector(repeating: 1.987_569_15e-4)
        p = Vector(repeating: 1.398_199_95e-3).addingProduct(p, r)
        p = Vector(repeating: 8.333_451_9e-3).addingProduct(p, r)
        p = Vector(repeating: 4.166_579_59e-2).addingProduct(p, r)
        p = Vector(repeating: 1.666_666_55e-1).addingProduct(p, r)
        p = Vector(repeating: 5.000_000_12e-1).addingProduct(p, r)
        let expR = (r + Vector(repeating: 1)).addingProduct(p, r * r)
        // `shifted << 23` is `n << 23` (the constant's own bits shift out): added to the bits of
        // `e^r` (in [0.7, 1.5)) it multiplies by `2^n`, a normal float for `n >= -125`.
        let scaled = unsafeBitCast(expR, to: Bits.self) &+ (unsafeBitCast(shifted, to: Bits.self) &<< 23)
        return unsafeBitCast(scaled, to: Vector.self)
    }

    /// `|x|` per lane.
    @inlinable @inline(__always)
    package static func magnitude(_ x: Vector) -> Vector {
        select(x, -x, whereNegative: x)
    }

    /// `value`, negated where `sign` is negative.
    @inlinable @inline(__always)
    package static func flippingSign(_ value: Vector, where sign: Vector) -> Vector {
        select(value, -value, whereNegative: sign)
    }

    /// `x * sigmoid(x)`, about 3e-7 relative error: `x / (1 + e)` for `x >= 0` and `x e / (1 + e)`
    /// below, with `e = e^-|x|`, so the exponential never overflows and the negative tail keeps
    /// its relative accuracy down to `x = -87`.
    @inlinable @inline(__always)
    package static func silu(_ x: Vector) -> Vector {
        let e = expOfNonPositive(-magnitude(x))
        let one = Vector(repeating: 1)
        return x * select(one, e, whereNegative: x) / (one + e)
    }

    /// Exact GELU, `0.5 x (1 + erf(x / sqrt 2))`, in PyTorch's operation order; `erf` by
    /// Abramowitz and Stegun 7.1.26, `1 - t P(t) e^(-z^2)` with `t = 1 / (1 + p|z|)` (absolute
    /// error below 1.5e-7), signed like `z`.
    ///
    /// `|z|` is capped at 5. From `|z| = 4` on, `t P(t) e^(-z^2)` is below 2^-25, so `erf` rounds
    /// to exactly ±1 with or without the cap; without it, beyond `|z| = 9.3`, that product
    /// would be a subnormal float, which the CPU computes in a microcode assist about a hundred
    /// times slower (`bench linear --geglu` on unscaled random weights ran at half speed).
    @inlinable @inline(__always)
    package static func gelu(_ x: Vector) -> Vector {
        let one = Vector(repeating: 1)
        let z = x * Vector(repeating: 0.707_106_781_186_547_52)
        // min(|z|, 5), by the maximum the vector ISA provides.
        let a = -laneMax(-magnitude(z), Vector(repeating: -5))
        let t = one / (Vector(repeating: 0.327_591_1) * a + one)
        var polynomial = Vector(repeating: 1.061_405_429)
        polynomial = Vector(repeating: -1.453_152_027).addingProduct(polynomial, t)
        polynomial = Vector(repeating: 1.421_413_741).addingProduct(polynomial, t)
        polynomial = Vector(repeating: -0.284_496_736).addingProduct(polynomial, t)
        polynomial = Vector(repeating: 0.254_829_592).addingProduct(polynomial, t)
        let erfMagnitude = one - polynomial * t * expOfNonPositive(-(a * a))
        return x * Vector(repeating: 0.5) * (one + flippingSign(erfMagnitude, where: z))
    }

    /// The tanh approximation of GELU, `0.5 x (1 + tanh(y))` with
    /// `y = sqrt(2/pi) (x + 0.044715 x^3)` and `tanh(y) = sign(y) (1 - e) / (1 + e)`,
    /// `e = e^-2|y|` (no overflow for any `y`).
    @inlinable @inline(__always)
    package static func geluTanh(_ x: Vector) -> Vector {
        let one = Vector(repeating: 1)
        let y = Vector(repeating: 0.797_884_560_802_865_4) * (x + Vector(repeating: 0.044_715) * x * x * x)
        let e = expOfNonPositive(Vector(repeating: -2) * magnitude(y))
        return Vector(repeating: 0.5) * x * (one + flippingSign((one - e) / (one + e), where: y))
    }
}

/// An activation as a type, so that the loops below, specialised for it, inline its lane
/// function (passed as a closure, it was outlined and called once per vector).
@usableFromInline
protocol LaneFunction {
    associatedtype ISA: VectorISA
    static func callAsFunction(_ x: ISA.Vector) -> ISA.Vector
}

@usableFromInline enum SiLULanes<ISA: VectorISA>: LaneFunction {
    @inlinable @inline(__always) static func callAsFunction(_ x: ISA.Vector) -> ISA.Vector { ISA.silu(x) }
}

@usableFromInline enum GELULanes<ISA: VectorISA>: LaneFunction {
    @inlinable @inline(__always) static func callAsFunction(_ x: ISA.Vector) -> ISA.Vector { ISA.gelu(x) }
}

@usableFromInline enum GELUTanhLanes<ISA: VectorISA>: LaneFunction {
    @inlinable @inline(__always) static func callAsFunction(_ x: ISA.Vector) -> ISA.Vector { ISA.geluTanh(x) }
}

/// The loops that apply the activations, for one instruction set. Whole vectors first, then the
/// tail through the same lane function, zero-padded (a vector that might come from a partial
/// load, inside the main loop, made the optimiser split the lane function into 4-lane and
/// scalar pieces).
@frozen @usableFromInline
package enum ActivationKernels<ISA: VectorISA> {
    /// `out[i] = f(input[i])` for `i < count`.
    @inlinable
    package static func apply(_ kind: Activation, _ input: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                              count: Int) {
        let zero = ISA.Vector(), one = ISA.Vector(repeating: 1)
        switch kind {
        case .silu: map(SiLULanes<ISA>.self, input, out, count: count, mean: zero, scale: one, shift: zero)
        case .gelu: map(GELULanes<ISA>.self, input, out, count: count, mean: zero, scale: one, shift: zero)
        case .geluTanh: map(GELUTanhLanes<ISA>.self, input, out, count: count, mean: zero, scale: one, shift: zero)
        }
    }

    /// `out[i] = f((input[i] - mean) * scale + shift)` for `i < count`: a group norm's affine
    /// step and its activation in one pass, the same expression as the two ops compute.
    @inlinable
    package static func applyNormalized(_ kind: Activation, _ input: UnsafePointer<Float>,
                                        _ out: UnsafeMutablePointer<Float>, count: Int, mean: Float, scale: Float,
                                        shift: Float) {
        let (m, s, b) = (ISA.Vector(repeating: mean), ISA.Vector(repeating: scale), ISA.Vector(repeating: shift))
        switch kind {
        case .silu: map(SiLULanes<ISA>.self, input, out, count: count, mean: m, scale: s, shift: b)
        case .gelu: map(GELULanes<ISA>.self, input, out, count: count, mean: m, scale: s, shift: b)
        case .geluTanh: map(GELUTanhLanes<ISA>.self, input, out, count: count, mean: m, scale: s, shift: b)
        }
    }

    /// One GEGLU row: `out[i] = hidden[i] * gelu(gate[i])` for `i < count`.
    @inlinable
    package static func gegluRow(hidden: UnsafePointer<Float>, gate: UnsafePointer<Float>,
                                 _ out: UnsafeMutablePointer<Float>, count: Int) {
        var index = 0
        while index + ISA.lanes <= count {
            ISA.store(ISA.load(hidden + index) * ISA.gelu(ISA.load(gate + index)), out + index)
            index += ISA.lanes
        }
        if index < count {
            let lanes = count - index
            ISA.store(ISA.load(hidden + index, count: lanes) * ISA.gelu(ISA.load(gate + index, count: lanes)),
                      out + index, count: lanes)
        }
    }

    /// `out[i] = F((input[i] - mean) * scale + shift)` for `i < count` (with mean 0 and scale
    /// 1 the affine step is exact, so plain activations share the loop).
    @inlinable @inline(__always)
    static func map<F: LaneFunction>(_: F.Type, _ input: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                     count: Int, mean: ISA.Vector, scale: ISA.Vector, shift: ISA.Vector)
        where F.ISA == ISA {
        var index = 0
        while index + ISA.lanes <= count {
            ISA.store(F.callAsFunction((ISA.load(input + index) - mean) * scale + shift), out + index)
            index += ISA.lanes
        }
        if index < count {
            let lanes = count - index
            ISA.store(F.callAsFunction((ISA.load(input + index, count: lanes) - mean) * scale + shift),
                      out + index, count: lanes)
        }
    }
}
