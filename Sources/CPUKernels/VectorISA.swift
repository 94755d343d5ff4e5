// The vector instruction sets the CPU kernels are written for, as a type parameter: each kernel
// here is generic over a `VectorISA` and `@inlinable`, so that the thin modules
// `CPUKernelsAVX2` and `CPUKernelsAVX512`, each compiled for its extensions, specialise the
// same source into machine code of their own width. `CPUBackend` picks one at run time.

/// A vector instruction set: its float vector, the integer vector of the same width, and the
/// reductions that compile to shuffles on it (the stdlib's `sum()` and `max()` are generic
/// element loops that do not inline).
@usableFromInline
package protocol VectorISA {
    /// The widest float vector the instruction set handles in one register.
    associatedtype Vector: SIMD where Vector.Scalar == Float
    /// The `Int32` vector of `Vector`'s width, for bit manipulation of floats.
    associatedtype Bits: SIMD where Bits.Scalar == Int32

    /// The sum of the lanes.
    static func horizontalSum(_ v: Vector) -> Float
    /// The largest lane.
    static func horizontalMax(_ v: Vector) -> Float
    /// The lane-wise maximum, `a.replacing(with: b, where: b .> a)`: one `vmaxps`, which lets a
    /// NaN in `a` through. A requirement because lane comparisons in generic code compile to
    /// scalar loops even once specialised (the stdlib's fast comparisons are overloads on the
    /// concrete vector types), as does the stdlib's `pointwiseMax`.
    static func laneMax(_ a: Vector, _ b: Vector) -> Vector
    /// `a`, with `b`'s lanes where `sign` is negative: `a.replacing(with: b, where: sign .< 0)`
    /// (a requirement for the same reason as ``laneMax(_:_:)``; so are the bit operations it
    /// replaces, `&`, `^` and `&>>` on ``Bits``, in generic code).
    static func select(_ a: Vector, _ b: Vector, whereNegative sign: Vector) -> Vector

    /// The even and the odd elements of the 2L-element sequence `a` then `b`: one round of
    /// ``transposeRows(_:stride:width:scale:into:scratch:)``. Concrete, so that each module
    /// compiles it to its two-source shuffles (the stdlib's `evenHalf` is on concrete types).
    static func deinterleave(_ a: Vector, _ b: Vector) -> (even: Vector, odd: Vector)
    /// The inverse of ``deinterleave(_:_:)``: `a0 b0 a1 b1 ...`, split into its low and high L
    /// elements.
    static func interleave(_ a: Vector, _ b: Vector) -> (low: Vector, high: Vector)
    /// A vector of the L/2 floats at `low` then the L/2 floats at `high`.
    static func load(low: UnsafePointer<Float>, high: UnsafePointer<Float>) -> Vector
    /// Stores the low L/2 lanes of `value` at `low` and the high L/2 at `high`.
    static func store(_ value: Vector, low: UnsafeMutablePointer<Float>, high: UnsafeMutablePointer<Float>)
}

extension VectorISA {
    /// Lanes of ``Vector``.
    @inlinable @inline(__always)
    package static var lanes: Int { Vector.scalarCount }

    /// Loads a vector from a possibly unaligned address.
    @inlinable @inline(__always)
    package static func load(_ pointer: UnsafePointer<Float>) -> Vector {
        UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self)
    }

    /// Stores a vector to a possibly unaligned address.
    @inlinable @inline(__always)
    package static func store(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Vector.self)
    }

    /// `count` (at most ``lanes``) floats from `pointer`, zero-padded to a vector: the tail of
    /// a row.
    @inlinable @inline(__always)
    package static func load(_ pointer: UnsafePointer<Float>, count: Int) -> Vector {
        if count == lanes { return load(pointer) }
        var values = Vector()
        for lane in 0 ..< count { values[lane] = pointer[lane] }
        return values
    }

    /// Stores the first `count` (at most ``lanes``; none when `count <= 0`) lanes of `value`.
    @inlinable @inline(__always)
    package static func store(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>, count: Int) {
        if count == lanes {
            store(value, pointer)
        } else {
            for lane in 0 ..< max(0, count) { pointer[lane] = value[lane] }
        }
    }

    /// `2^x` per lane, for `x <= 0` (`-infinity` included). Relative error below 2e-7 down to
    /// `2^-126`; `x <= -127` gives exactly 0.
    ///
    /// Adding `1.5 * 2^23` rounds `x` to the nearest integer `n` in the low mantissa bits of
    /// `shifted`; `shifted << 23` is then exactly `n << 23` (the constant's own bits shift out),
    /// which added to the bits of `p(f) ≈ 2^f`, `f = x - n` in `[-0.5, 0.5]`, multiplies it by
    /// `2^n`. At the clamp `x = -127`, `f = 0` and `p = 1` exactly, so the sum of the bits is 0:
    /// a masked score weighs exactly nothing. `p` is a degree-5 polynomial with constant term
    /// 1, fitted for relative error on `[-0.5, 0.5]`.
    @inlinable @inline(__always)
    package static func exp2(_ x: Vector) -> Vector {
        let (shifted, f) = exp2Reduction(x)
        var p = Vector(repeating: 1.326_472_4e-3)
        p = Vector(repeating: 9.671_513e-3).addingProduct(p, f)
        p = Vector(repeating: 5.550_733_6e-2).addingProduct(p, f)
        p = Vector(repeating: 2.402_224_2e-1).addingProduct(p, f)
        p = Vector(repeating: 6.931_470_0e-1).addingProduct(p, f)
        p = Vector(repeating: 1).addingProduct(p, f)
        return exp2Scaling(p, shifted)
    }

    /// Stores the first `count` (at most 2L) lanes of `v0` then `v1`: a row of a two-vector
    /// register block, the last one of a matrix possibly short.
    @inlinable @inline(__always)
    package static func store(_ v0: Vector, _ v1: Vector, _ pointer: UnsafeMutablePointer<Float>, count: Int) {
        store(v0, pointer, count: min(count, lanes))
        store(v1, pointer + lanes, count: count - lanes)
    }

    /// `2^x` per lane for `x <= 0` as ``exp2(_:)`` computes it, with a polynomial of degree 4
    /// instead of 5: relative error below 3e-6, one FMA fewer. For the attention kernels'
    /// softmax weights, where it is an eighth of the arithmetic per score and the error stays
    /// two orders of magnitude below the forward's tolerance (the weights and their sum share
    /// it). Exactly 1 at 0 and exactly 0 at and below -127.
    @inlinable @inline(__always)
    package static func exp2Weight(_ x: Vector) -> Vector {
        let (shifted, f) = exp2Reduction(x)
        var p = Vector(repeating: 9.582_86e-3)
        p = Vector(repeating: 5.590_648e-2).addingProduct(p, f)
        p = Vector(repeating: 2.402_409_9e-1).addingProduct(p, f)
        p = Vector(repeating: 6.931_241_8e-1).addingProduct(p, f)
        p = Vector(repeating: 1).addingProduct(p, f)
        return exp2Scaling(p, shifted)
    }

    /// ``exp2(_:)``'s argument reduction: `x` clamped at -127, `shifted = x + 1.5 * 2^23` (the
    /// nearest integer `n` in its low mantissa bits) and `f = x - n` in `[-0.5, 0.5]`.
    @inlinable @inline(__always)
    static func exp2Reduction(_ x: Vector) -> (shifted: Vector, f: Vector) {
        let clamped = laneMax(x, Vector(repeating: -127))
        let magic = Vector(repeating: 12_582_912)
        let shifted = clamped + magic
        return (shifted, clamped - (shifted - magic))
    }

    /// `p * 2^n` for ``exp2Reduction(_:)``'s `shifted`, by adding `n << 23` to `p`'s bits.
    @inlinable @inline(__always)
    static func exp2Scaling(_ p: Vector, _ shifted: Vector) -> Vector {
        let scaled = unsafeBitCast(p, to: Bits.self) &+ (unsafeBitCast(shifted, to: Bits.self) &<< 23)
        return unsafeBitCast(scaled, to: Vector.self)
    }
}

/// The sum of eight lanes, by halving (the stdlib's `sum()` is a generic call that does not
/// inline). Concrete, so that each instruction-set module inlines it with its own extensions.
@inlinable @inline(__always)
package func horizontalSum(_ v: SIMD8<Float>) -> Float {
    let four = v.lowHalf + v.highHalf
    let two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}

/// The largest of eight lanes, by halving (the stdlib's `max()` is a generic scalar loop).
@inlinable @inline(__always)
package func horizontalMax(_ v: SIMD8<Float>) -> Float {
    var four = v.lowHalf
    four.replace(with: v.highHalf, where: v.highHalf .> four)
    var two = four.lowHalf
    two.replace(with: four.highHalf, where: four.highHalf .> two)
    return max(two[0], two[1])
}

