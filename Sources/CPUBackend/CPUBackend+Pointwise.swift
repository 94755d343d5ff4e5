import Tensor

extension CPUBackend {
    /// Applies `activation` elementwise (see ``Backend/activation(_:_:)``).
    ///
    /// The functions are evaluated one vector at a time (see ``siluLanes(_:)``, ``geluLanes(_:)``,
    /// ``geluTanhLanes(_:)``); libm's scalar `expf`/`erff` would make these ops several times
    /// slower than the memory traffic they need.
    public func activation(_ x: Tensor, _ activation: Activation) throws -> Tensor {
        let (result, out) = makeTensor(x.shape)
        let input = x.cpu
        // The switch sits outside the loops so each loop body is one straight-line function.
        switch activation {
        case .silu:
            parallelFor(x.count, grain: Self.elementGrain) { range in
                mapLanes(input + range.lowerBound, out + range.lowerBound, count: range.count, siluLanes)
            }
        case .gelu:
            parallelFor(x.count, grain: Self.elementGrain) { range in
                mapLanes(input + range.lowerBound, out + range.lowerBound, count: range.count, geluLanes)
            }
        case .geluTanh:
            parallelFor(x.count, grain: Self.elementGrain) { range in
                mapLanes(input + range.lowerBound, out + range.lowerBound, count: range.count, geluTanhLanes)
            }
        }
        return result
    }

    /// The GEGLU gate: `x [..., 2n]` -> `h * gelu(g)` with `(h, g)` the halves of the last axis
    /// (see ``Backend/geglu(_:)``).
    public func geglu(_ x: Tensor) throws -> Tensor {
        precondition(x.rank >= 1 && x.shape[x.rank - 1] % 2 == 0,
                     "geglu: the last axis of \(x.shape) must have an even extent")
        let width = x.shape[x.rank - 1] / 2
        var outShape = x.shape
        outShape[x.rank - 1] = width
        let (result, out) = makeTensor(outShape)
        guard width > 0 else { return result }
        let input = x.cpu
        let rows = x.count / (2 * width)
        parallelFor(rows, grain: max(1, Self.elementGrain / width)) { range in
            for row in range {
                let hidden = input + row * 2 * width
                gegluRow(hidden: hidden, gate: hidden + width, out + row * width, count: width)
            }
        }
        return result
    }

    /// `a + b` with `b` broadcast to `a`'s shape by NumPy rules (see ``Backend/add(_:_:)``).
    ///
    /// Axes are first collapsed into runs that `b` either matches or broadcasts, so every case
    /// becomes rows of `a` plus either a contiguous row of `b` (same shape, `[..., D] + [D]`) or
    /// one value of `b` per row (a per-channel bias `[N, C, H, W] + [C, 1, 1]`).
    public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let bShape = Shape.broadcast(b.shape, to: a.shape)
        let (result, out) = makeTensor(a.shape)
        guard a.count > 0 else { return result }

        // Runs of axes, outermost first: (extent, whether b broadcasts along it).
        var runs: [(extent: Int, broadcast: Bool)] = []
        for (extent, bExtent) in zip(a.shape, bShape) where extent != 1 {
            let broadcast = bExtent == 1
            if let last = runs.last, last.broadcast == broadcast {
                runs[runs.count - 1].extent *= extent
            } else {
                runs.append((extent, broadcast))
            }
        }
        let inner = runs.popLast() ?? (extent: 1, broadcast: false)
        // b's stride along each outer run (0 where it broadcasts).
        var bStrides = [Int](repeating: 0, count: runs.count)
        var running = inner.broadcast ? 1 : inner.extent
        for index in runs.indices.reversed() where !runs[index].broadcast {
            bStrides[index] = running
            running *= runs[index].extent
        }
        let outerExtents = runs.map(\.extent)

        // Work items are pieces of rows, so a single long row still spreads across threads.
        let pieceLength = min(inner.extent, 1 << 14)
        let piecesPerRow = (inner.extent + pieceLength - 1) / pieceLength
        let rows = outerExtents.reduce(1, *)
        let lhs = a.cpu, rhs = b.cpu
        parallelFor(rows * piecesPerRow, grain: max(1, Self.elementGrain / pieceLength)) { range in
            for item in range {
                let row = item / piecesPerRow
                let start = item % piecesPerRow * pieceLength
                let length = min(pieceLength, inner.extent - start)
                var bOffset = 0, rest = row
                for index in outerExtents.indices.reversed() {
                    bOffset += rest % outerExtents[index] * bStrides[index]
                    rest /= outerExtents[index]
                }
                let source = lhs + row * inner.extent + start, destination = out + row * inner.extent + start
                if inner.broadcast {
                    let value = rhs[bOffset]
                    for i in 0 ..< length { destination[i] = source[i] + value }
                } else {
                    let other = rhs + bOffset + start
                    for i in 0 ..< length { destination[i] = source[i] + other[i] }
                }
            }
        }
        return result
    }

    /// `x * factor` (see ``Backend/scale(_:by:)``).
    public func scale(_ x: Tensor, by factor: Float) throws -> Tensor {
        let (result, out) = makeTensor(x.shape)
        let input = x.cpu
        parallelFor(x.count, grain: Self.elementGrain) { range in
            for i in range { out[i] = input[i] * factor }
        }
        return result
    }
}

// MARK: Lane-wise math

/// The vector type of the kernels written in this module (pointwise, normalisation, data
/// movement): eight lanes, one AVX register. The attention kernel, generic over the vector
/// width, lives in CPUKernels.
typealias FloatVector = SIMD8<Float>

/// Lanes of ``FloatVector``.
let vectorLanes = FloatVector.scalarCount

/// Loads a vector from a possibly unaligned address.
@inline(__always)
func loadVector(_ pointer: UnsafePointer<Float>) -> FloatVector {
    UnsafeRawPointer(pointer).loadUnaligned(as: FloatVector.self)
}

/// Stores a vector to a possibly unaligned address.
@inline(__always)
func storeVector(_ value: FloatVector, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: FloatVector.self)
}

/// Applies `body` to `input[0 ..< count]` one vector at a time and stores the results in `out`.
/// The tail goes through the same lane function (zero-padded), so an element's value never
/// depends on where a parallel chunk boundary falls.
///
/// `body` appears once in the loop, tail included: with a second call site for the tail the
/// optimiser stops inlining the (large) lane function and calls it once per vector.
@inline(__always)
func mapLanes(_ input: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int,
                      _ body: (FloatVector) -> FloatVector) {
    var index = 0
    while index < count {
        let lanes = min(vectorLanes, count - index)
        let values = body(loadLanes(input, at: index, count: lanes))
        storeLanes(values, out, at: index, count: lanes)
        index += vectorLanes
    }
}

/// One GEGLU row: `out[i] = hidden[i] * gelu(gate[i])` for `i < count`, a vector at a time
/// (with a single inlined copy of the lane function, as in ``mapLanes(_:_:count:_:)``).
@inline(__always)
func gegluRow(hidden: UnsafePointer<Float>, gate: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                      count: Int) {
    var index = 0
    while index < count {
        let lanes = min(vectorLanes, count - index)
        let values = loadLanes(hidden, at: index, count: lanes) * geluLanes(loadLanes(gate, at: index, count: lanes))
        storeLanes(values, out, at: index, count: lanes)
        index += vectorLanes
    }
}

/// Stores the first `count <= FloatVector.scalarCount` lanes of `values` at `base + offset`.
@inline(__always)
private func storeLanes(_ values: FloatVector, _ base: UnsafeMutablePointer<Float>, at offset: Int, count: Int) {
    if count == FloatVector.scalarCount {
        storeVector(values, base + offset)
    } else {
        for lane in 0 ..< count { base[offset + lane] = values[lane] }
    }
}

/// `count <= FloatVector.scalarCount` values from `base + offset`, zero-padded to a full vector.
@inline(__always)
private func loadLanes(_ base: UnsafePointer<Float>, at offset: Int, count: Int) -> FloatVector {
    if count == FloatVector.scalarCount { return loadVector(base + offset) }
    var values = FloatVector()
    for lane in 0 ..< count { values[lane] = base[offset + lane] }
    return values
}

/// `exp(x)` per lane, for the activations. Inputs below about `-87.3` (`-infinity` included)
/// give 0; inputs above 88 saturate to the finite `exp(88)`, so callers can feed it unbounded
/// arguments.
///
/// Cephes' single-precision polynomial on the range-reduced argument (relative error about
/// 2e-7), its Horner steps and the range reduction as fused multiply-adds (`addingProduct`),
/// with the power of two built from the exponent bits: no libm call, no rounding instruction.
/// Clamping uses compare-and-select because the stdlib's `pointwiseMin`/`pointwiseMax` are
/// generic element loops that do not inline.
///
/// `@_transparent` rather than `@inline(__always)`: the optimiser treats the latter as a hint and,
/// in the GELU loops, outlines this function and calls it once per vector (checked with
/// `objdump`); transparent functions are inlined before optimisation, always.
@_transparent
func fusedExpLanes(_ x: FloatVector) -> FloatVector {
    let lowest: Float = -87.33654  // ln of the smallest normal float
    let underflows = x .< lowest
    var clamped = x.replacing(with: lowest, where: underflows)
    clamped.replace(with: 88, where: clamped .> 88)
    // Adding 1.5 * 2^23 rounds `x / ln 2` to the nearest integer `n`, which then sits in the
    // low mantissa bits of `shifted`.
    let magic = FloatVector(repeating: 12_582_912)
    let shifted = magic.addingProduct(clamped, 1.442_695_04)
    let n = shifted - magic
    let r = clamped.addingProduct(n, -0.693_359_375).addingProduct(n, 2.121_944_4e-4)
    var p = FloatVector(repeating: 1.987_569_15e-4)
    p = FloatVector(repeating: 1.398_199_95e-3).addingProduct(p, r)
    p = FloatVector(repeating: 8.333_451_9e-3).addingProduct(p, r)
    p = FloatVector(repeating: 4.166_579_59e-2).addingProduct(p, r)
    p = FloatVector(repeating: 1.666_666_55e-1).addingProduct(p, r)
    p = FloatVector(repeating: 5.000_000_12e-1).addingProduct(p, r)
    let expR = (r + 1).addingProduct(p, r * r)
    let exponent = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- Int32(bitPattern: Float(12_582_912).bitPattern) &+ 127
    let twoToN = unsafeBitCast(exponent &<< 23, to: FloatVector.self)
    return (expR * twoToN).replacing(with: 0, where: underflows)
}

/// `x * sigmoid(x)`, about 3e-7 relative error. For `x < -88` the exponential saturates and the
/// result is a vanishing value instead of the limit 0.
@inline(__always)
func siluLanes(_ x: FloatVector) -> FloatVector {
    x / (1 + fusedExpLanes(-x))
}

/// Exact GELU, `0.5 x (1 + erf(x / sqrt 2))`, in PyTorch's operation order, with ``erfLanes(_:)``:
/// the absolute error is below about `2e-7 * |x|` plus rounding, and 0 where erf saturates.
@inline(__always)
func geluLanes(_ x: FloatVector) -> FloatVector {
    x * 0.5 * (1 + erfLanes(x * 0.707_106_781_186_547_52))
}

/// The tanh approximation of GELU, `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³)))`.
@inline(__always)
func geluTanhLanes(_ x: FloatVector) -> FloatVector {
    let inner = 0.797_884_560_802_865_36 * (x + 0.044715 * x * x * x)
    // tanh(y) = sign(y) (1 - 2 / (exp(2|y|) + 1)): no overflow, as exp saturates to a finite value.
    let magnitude = inner.replacing(with: -inner, where: inner .< 0)
    let tanhMagnitude = 1 - 2 / (fusedExpLanes(2 * magnitude) + 1)
    let tanh = tanhMagnitude.replacing(with: -tanhMagnitude, where: inner .< 0)
    return 0.5 * x * (1 + tanh)
}

/// `erf(x)` by Abramowitz and Stegun 7.1.26, `1 - t P(t) exp(-x²)` with `t = 1 / (1 + p|x|)`:
/// absolute error below 1.5e-7 for the formula, plus ``fusedExpLanes(_:)``'s 2e-7 relative error on
/// a term at most 1. Exactly ±1 once `exp(-x²)` underflows (`|x| > 9.3`).
@inline(__always)
func erfLanes(_ x: FloatVector) -> FloatVector {
    let magnitude = x.replacing(with: -x, where: x .< 0)
    let t = 1 / (0.327_591_1 * magnitude + 1)
    // Horner steps as fused multiply-adds (`addingProduct` lowers to one FMA instruction).
    var polynomial = FloatVector(repeating: 1.061_405_429)
    polynomial = FloatVector(repeating: -1.453_152_027).addingProduct(polynomial, t)
    polynomial = FloatVector(repeating: 1.421_413_741).addingProduct(polynomial, t)
    polynomial = FloatVector(repeating: -0.284_496_736).addingProduct(polynomial, t)
    polynomial = FloatVector(repeating: 0.254_829_592).addingProduct(polynomial, t)
    let value = 1 - polynomial * t * fusedExpLanes(-(magnitude * magnitude))
    return value.replacing(with: -value, where: x .< 0)
}
