import CPUKernels
import Tensor

// The entry points of the generic CPU kernels, specialised for this module's instruction set.
// One file serves both instruction-set modules (CPUKernelsAVX512 links it): each module must
// specialise the kernels itself, compiled with its own extensions, so the wrappers cannot live
// in CPUKernels or the backend.

extension ModuleISA {
    /// By bits, on this module's concrete vectors (in generic code the bit operations compile to
    /// scalar loops, and `replacing(with:where:)` split 16-lane vectors into 4-lane pieces): the
    /// sign bit, shifted across the lane, picks `b`'s bits.
    @inline(__always)
    package static func select(_ a: Vector, _ b: Vector, whereNegative sign: Vector) -> Vector {
        let mask = unsafeBitCast(sign, to: Bits.self) &>> 31
        let (aBits, bBits) = (unsafeBitCast(a, to: Bits.self), unsafeBitCast(b, to: Bits.self))
        return unsafeBitCast(aBits ^ ((aBits ^ bBits) & mask), to: Vector.self)
    }

    // The block transposes' shuffles and half-vector moves (`VectorISA`), on this module's
    // concrete vectors: the stdlib's `evenHalf`, `lowHalf` and their setters are on concrete types.

    @inline(__always)
    package static func deinterleave(_ a: Vector, _ b: Vector) -> (even: Vector, odd: Vector) {
        let pair = VectorPair(lowHalf: a, highHalf: b)
        return (pair.evenHalf, pair.oddHalf)
    }

    @inline(__always)
    package static func interleave(_ a: Vector, _ b: Vector) -> (low: Vector, high: Vector) {
        var pair = VectorPair()
        pair.evenHalf = a
        pair.oddHalf = b
        return (pair.lowHalf, pair.highHalf)
    }

    @inline(__always)
    package static func load(low: UnsafePointer<Float>, high: UnsafePointer<Float>) -> Vector {
        Vector(lowHalf: UnsafeRawPointer(low).loadUnaligned(as: HalfVector.self),
               highHalf: UnsafeRawPointer(high).loadUnaligned(as: HalfVector.self))
    }

    @inline(__always)
    package static func store(_ value: Vector, low: UnsafeMutablePointer<Float>, high: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(low).storeBytes(of: value.lowHalf, as: HalfVector.self)
        UnsafeMutableRawPointer(high).storeBytes(of: value.highHalf, as: HalfVector.self)
    }

    /// Work items of the fused attention kernel for `problem`.
    package static func attentionItems(_ problem: AttentionProblem) -> Int {
        FlashAttention<Self>.items(problem)
    }

    /// Runs the fused attention kernel's work items `items` of `problem`.
    package static func attend(_ problem: AttentionProblem, items: Range<Int>) {
        FlashAttention<Self>.run(problem, items: items)
    }

    /// Work items of the query-lanes attention kernel for `problem`.
    package static func queryLanesAttentionItems(_ problem: AttentionProblem) -> Int {
        QueryLanesAttention<Self>.items(problem)
    }

    /// `problem`'s bias laid out for the query-lanes attention kernel (empty without bias).
    package static func queryLanesTransposedBias(_ problem: AttentionProblem) -> [Float] {
        let count = QueryLanesAttention<Self>.transposedBiasCount(problem)
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let base = buffer.baseAddress { QueryLanesAttention<Self>.transposeBias(problem, into: base) }
            initialized = count
        }
    }

    /// Runs the query-lanes attention kernel's work items `items` of `problem`, with its bias
    /// from ``queryLanesTransposedBias(_:)``.
    package static func attendQueryLanes(_ problem: AttentionProblem, transposedBias: UnsafePointer<Float>?,
                                         items: Range<Int>) {
        QueryLanesAttention<Self>.run(problem, transposedBias: transposedBias, items: items)
    }

    /// The weights and bias of a linear layer packed for ``narrowLinear(x:rows:inFeatures:packed:outFeatures:out:)``.
    package static func packNarrowLinear(weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int,
                                         inFeatures: Int) -> [Float] {
        let count = NarrowLinear<Self>.packedCount(outFeatures: outFeatures, inFeatures: inFeatures)
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            NarrowLinear<Self>.pack(weight: weight, bias: bias, outFeatures: outFeatures, inFeatures: inFeatures,
                                    into: buffer.baseAddress!)
            initialized = count
        }
    }

    /// Output rows `rows` of a linear layer over few input features (see `NarrowLinear`).
    package static func narrowLinear(x: UnsafePointer<Float>, rows: Range<Int>, inFeatures: Int,
                                     packed: UnsafePointer<Float>, outFeatures: Int, out: UnsafeMutablePointer<Float>) {
        NarrowLinear<Self>.run(x: x, rows: rows, inFeatures: inFeatures, packed: packed, outFeatures: outFeatures,
                               out: out)
    }

    /// The weights `weight(o, r)` and bias of a plane GEMM packed for
    /// ``planeGEMM(sources:count:packed:outChannels:out:outStride:columns:)``.
    package static func packPlaneGEMM(outChannels: Int, sources: Int, bias: UnsafePointer<Float>?,
                                      weight: (_ o: Int, _ r: Int) -> Float) -> [Float] {
        let count = PlaneGEMM<Self>.packedCount(outChannels: outChannels, sources: sources)
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            PlaneGEMM<Self>.pack(outChannels: outChannels, sources: sources, bias: bias, into: buffer.baseAddress!,
                                 weight: weight)
            initialized = count
        }
    }

    /// Columns `columns` of `out[o * outStride + p] = bias[o] + Σ_r w[o][r] * sources[r][p]`
    /// (see `PlaneGEMM`).
    package static func planeGEMM(sources: UnsafePointer<UnsafePointer<Float>>, count: Int, packed: UnsafePointer<Float>,
                                  outChannels: Int, out: UnsafeMutablePointer<Float>, outStride: Int,
                                  columns: Range<Int>) {
        PlaneGEMM<Self>.run(sources: sources, count: count, packed: packed, outChannels: outChannels, out: out,
                            outStride: outStride, columns: columns)
    }

    /// Columns of a plane GEMM's sources packed into rows of ``planeGEMMColumns`` floats (see
    /// `PlaneGEMM.gather`).
    package static func planeGEMMGather(_ source: UnsafePointer<Float>, rows: Int, stride: Int, columns: Range<Int>,
                                        into packed: UnsafeMutablePointer<Float>) {
        PlaneGEMM<Self>.gather(source, rows: rows, stride: stride, columns: columns, into: packed)
    }

    /// Columns per register block of the plane GEMM: two vectors.
    package static var planeGEMMColumns: Int { 2 * lanes }

    /// Layer normalisation of rows `rows` of `x [R, width]` (see `LayerNormKernel`).
    package static func layerNorm(_ x: UnsafePointer<Float>, rows: Range<Int>, width: Int, gamma: UnsafePointer<Float>,
                                  beta: UnsafePointer<Float>, epsilon: Float, out: UnsafeMutablePointer<Float>) {
        LayerNormKernel<Self>.run(x, rows: rows, width: width, gamma: gamma, beta: beta, epsilon: epsilon, out: out)
    }

    /// `iterations` rounds of the FMA peak loop (see `FMAPeak`): its result, to be kept.
    package static func fmaPeak(iterations: Int, seed: Float) -> Float {
        FMAPeak<Self>.run(iterations: iterations, seed: seed)
    }

    /// Floating-point operations of ``fmaPeak(iterations:seed:)``.
    package static func fmaPeakFlops(iterations: Int) -> Double {
        FMAPeak<Self>.flops(iterations: iterations)
    }

    /// `out[i] = f(input[i])` for `i < count` (see `ActivationKernels`).
    package static func activate(_ kind: Activation, _ input: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                 count: Int) {
        ActivationKernels<Self>.apply(kind, input, out, count: count)
    }

    /// `out[i] = f((input[i] - mean) * scale + shift)` for `i < count`.
    package static func activateNormalized(_ kind: Activation, _ input: UnsafePointer<Float>,
                                           _ out: UnsafeMutablePointer<Float>, count: Int, mean: Float, scale: Float,
                                           shift: Float) {
        ActivationKernels<Self>.applyNormalized(kind, input, out, count: count, mean: mean, scale: scale, shift: shift)
    }

    /// `out[i] = hidden[i] * gelu(gate[i])` for `i < count`.
    package static func gegluRow(hidden: UnsafePointer<Float>, gate: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                 count: Int) {
        ActivationKernels<Self>.gegluRow(hidden: hidden, gate: gate, out, count: count)
    }
}
