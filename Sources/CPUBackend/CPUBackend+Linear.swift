import CPUKernelsAVX2
import CPUKernelsAVX512
import Tensor

extension CPUBackend {
    /// `x @ weight^T + bias` over the last axis: `x [..., K]`, `weight [N, K]`, `bias [N]` -> `[..., N]`.
    ///
    /// Up to ``maximumNarrowLinearInputs`` input and ``maximumNarrowLinearOutputs`` output
    /// features, the backend's own kernel
    /// (`CPUKernels/NarrowLinear.swift`) runs blocks of rows in parallel. Otherwise, one GEMM
    /// over all leading rows, split into a block of rows per thread (see
    /// ``parallelSgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:prepare:)``). Each
    /// thread writes the bias into its block and the GEMM accumulates onto it (`beta = 1`), in
    /// place of the separate pass OpenBLAS would make to clear the output for `beta = 0`
    /// (which it does make when there is no bias).
    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        _ = try Shape.linear(x.shape, weight: weight.shape, bias: bias?.shape)
        let (rows, outFeatures, inFeatures) = try gemmExtents(x, weight: weight, bias: bias, op: "linear")

        let (result, out) = makeTensor(Array(x.shape.dropLast()) + [outFeatures])
        if inFeatures <= Self.maximumNarrowLinearInputs, outFeatures <= Self.maximumNarrowLinearOutputs {
            narrowLinear(x.cpu, rows: rows, weight: weight.cpu, bias: bias?.cpu, outFeatures: outFeatures,
                         inFeatures: inFeatures, out: out)
            return result
        }
        guard let biasValues = bias?.cpu else {
            parallelSgemm(transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                          a: x.cpu, lda: inFeatures, b: weight.cpu, ldb: inFeatures, beta: 0, c: out, ldc: outFeatures)
            return result
        }
        parallelSgemm(transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                      a: x.cpu, lda: inFeatures, b: weight.cpu, ldb: inFeatures, beta: 1, c: out, ldc: outFeatures) {
            blockRows, blockColumns in
            // A plain loop, not `update(from:)`: rows are often 32-128 floats, where a `memmove`
            // call per row costs more than the copy.
            let source = biasValues + blockColumns.lowerBound
            for row in blockRows {
                let destination = out + row * outFeatures + blockColumns.lowerBound
                for column in 0 ..< blockColumns.count { destination[column] = source[column] }
            }
        }
        return result
    }

    /// `geglu(linear(x, weight: weight, bias: bias))` (see ``Backend/linearGEGLU(_:weight:bias:)``)
    /// a block of rows at a time: each thread projects its block into a buffer that stays in
    /// its cache (bias first, then the GEMM accumulating onto it) and gates it straight into the
    /// output, so the `[rows, 2n]` projection, twice the output's size, never reaches main memory.
    public func linearGEGLU(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        let outShape = try Shape.linearGEGLU(x.shape, weight: weight.shape, bias: bias?.shape)
        let (rows, outFeatures, inFeatures) = try gemmExtents(x, weight: weight, bias: bias, op: "linearGEGLU")
        // Fusing pays where the projection is bound by memory traffic (few input features);
        // with more, the GEMM is bound by arithmetic and runs best as one large call.
        guard inFeatures <= Self.maximumFusedGEGLUInputs else { return try geglu(linear(x, weight: weight, bias: bias)) }
        let width = outFeatures / 2
        let (result, out) = makeTensor(outShape)
        guard result.count > 0 else { return result }
        // Blocks of about 1 MiB of projection, at least 256 rows: OpenBLAS packs the weights in
        // every call, which only pays over enough rows.
        let blockRows = max(256, (1 << 18) / outFeatures)
        let blocks = (rows + blockRows - 1) / blockRows
        let input = x.cpu, weights = weight.cpu, biasValues = bias?.cpu
        keepBLASSingleThreaded()
        parallelFor(blocks, grain: max(1, Self.minimumParallelGemmWork / max(1, blockRows * outFeatures * inFeatures))) {
            items in
            let scratch = HostBufferPool.shared.allocate(byteCount: blockRows * outFeatures * MemoryLayout<Float>.stride)
            defer { HostBufferPool.shared.release(scratch) }
            let projection = scratch.base.assumingMemoryBound(to: Float.self)
            for block in items {
                let first = block * blockRows, count = min(blockRows, rows - first)
                if let biasValues {
                    for row in 0 ..< count {
                        let destination = projection + row * outFeatures
                        for column in 0 ..< outFeatures { destination[column] = biasValues[column] }
                    }
                }
                sgemm(transposeB: true, m: count, n: outFeatures, k: inFeatures, a: input + first * inFeatures,
                      lda: inFeatures, b: weights, ldb: inFeatures, beta: biasValues == nil ? 0 : 1,
                      c: projection, ldc: outFeatures)
                for row in 0 ..< count {
                    let hidden = projection + row * outFeatures
                    instructionSet.gegluRow(hidden: hidden, gate: hidden + width, out + (first + row) * width,
                                            count: width)
                }
            }
        }
        return result
    }

    /// Input and output features up to which ``linear(_:weight:bias:)`` runs the narrow kernel:
    /// there OpenBLAS spends much of each call packing the input rows, and the narrow kernel
    /// took 5-40% less time on the small UNet's shapes (`infinity bench linear`, 32768 rows,
    /// 32-128 in, 32-128 out); with 256 outputs it took more.
    static let maximumNarrowLinearInputs = 128
    static let maximumNarrowLinearOutputs = 128

    /// `out [rows, N] = x [rows, K] @ weight^T + bias` by the narrow kernel of the backend's
    /// instruction set, in blocks of rows shared out among the threads.
    private func narrowLinear(_ x: UnsafePointer<Float>, rows: Int, weight: UnsafePointer<Float>,
                              bias: UnsafePointer<Float>?, outFeatures: Int, inFeatures: Int,
                              out: UnsafeMutablePointer<Float>) {
        guard rows > 0, outFeatures > 0 else { return }
        let kernel = NarrowLinearKernel(weight: weight, bias: bias, outFeatures: outFeatures, inFeatures: inFeatures,
                                        instructionSet: instructionSet)
        // Whole blocks of 8 rows per item, so the work split never changes the arithmetic.
        let blocks = (rows + 7) / 8
        let grain = max(1, Self.minimumParallelGemmWork / max(1, 8 * outFeatures * max(inFeatures, 1)))
        parallelFor(blocks, grain: grain) { items in
            kernel.run(x, rows: items.lowerBound * 8 ..< min(rows, items.upperBound * 8), out: out)
        }
    }

    /// Input features up to which ``linearGEGLU(_:weight:bias:)`` runs fused. With few inputs the
    /// projection is bound by memory traffic, which fusing saves; with many it is bound by
    /// arithmetic, and the blocks' repeated packing of the weights costs more than the traffic
    /// (measured on the medium and VideoCrafter2-sized feed-forward shapes: slower from 256).
    static let maximumFusedGEGLUInputs = 128

    /// The GEMM extents of `linear`'s operands, whose shapes the caller has checked by `Shape`'s
    /// rule: rows of `x`, output and input features, after the CPU's own checks (f32 operands,
    /// extents within BLAS's 32-bit integers).
    private func gemmExtents(_ x: Tensor, weight: Tensor, bias: Tensor?, op: String) throws
        -> (rows: Int, outFeatures: Int, inFeatures: Int) {
        try requireF32([(x, "input"), (weight, "weight"), (bias, "bias")], op: op)
        let (outFeatures, inFeatures) = (weight.shape[0], weight.shape[1])
        let rows = x.shape.dropLast().reduce(1, *)
        for extent in [rows, outFeatures, inFeatures] { try checkedGemmExtent(extent, op) }
        return (rows, outFeatures, inFeatures)
    }
}

/// A linear layer's weights packed for the narrow kernel of one instruction set
/// (`CPUKernels/NarrowLinear.swift`), and the kernel that runs them.
struct NarrowLinearKernel: Sendable {
    let packed: [Float]
    let inFeatures, outFeatures: Int
    let instructionSet: CPUBackend.InstructionSet

    init(weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int, inFeatures: Int,
         instructionSet: CPUBackend.InstructionSet) {
        (self.inFeatures, self.outFeatures, self.instructionSet) = (inFeatures, outFeatures, instructionSet)
        packed = switch instructionSet {
        case .avx512: AVX512.packNarrowLinear(weight: weight, bias: bias, outFeatures: outFeatures, inFeatures: inFeatures)
        case .avx2: AVX2.packNarrowLinear(weight: weight, bias: bias, outFeatures: outFeatures, inFeatures: inFeatures)
        }
    }

    /// Rows `rows` of `out [R, N] = x [R, K] @ weight^T + bias`.
    func run(_ x: UnsafePointer<Float>, rows: Range<Int>, out: UnsafeMutablePointer<Float>) {
        packed.withUnsafeBufferPointer { packed in
            switch instructionSet {
            case .avx512:
                AVX512.narrowLinear(x: x, rows: rows, inFeatures: inFeatures, packed: packed.baseAddress!,
                                    outFeatures: outFeatures, out: out)
            case .avx2:
                AVX2.narrowLinear(x: x, rows: rows, inFeatures: inFeatures, packed: packed.baseAddress!,
                                  outFeatures: outFeatures, out: out)
            }
        }
    }
}
