import Tensor

extension CPUBackend {
    /// `x @ weight^T + bias` over the last axis: `x [..., K]`, `weight [N, K]`, `bias [N]` -> `[..., N]`.
    ///
    /// One GEMM over all leading rows, split into a block of rows per thread (see
    /// ``parallelSgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:prepare:)``). Each
    /// thread writes the bias into its block and the GEMM accumulates onto it (`beta = 1`),
    /// which costs OpenBLAS nothing extra: with `beta = 0` it would clear the output in a pass
    /// of its own.
    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        let op = "linear"
        guard x.rank >= 1 else { throw TensorError("\(op): input must have at least one axis, got a scalar") }
        guard x.dtype == .f32 else { throw TensorError("\(op): input must be f32 on the CPU backend, got \(x.dtype)") }
        let weightShape = try checkedShape(weight, rank: 2, op: op, role: "weight")
        let (outFeatures, inFeatures) = (weightShape[0], weightShape[1])
        guard x.shape[x.rank - 1] == inFeatures else {
            throw TensorError("\(op): input's last axis \(x.shape[x.rank - 1]) does not match weight \(weightShape) (expects \(inFeatures))")
        }
        try checkBias(bias, count: outFeatures, op: op)
        let rows = x.shape.dropLast().reduce(1, *)
        for extent in [rows, outFeatures, inFeatures] { try checkedGemmExtent(extent, op) }

        let (result, out) = makeTensor(Array(x.shape.dropLast()) + [outFeatures])
        let biasValues = bias?.cpu
        parallelSgemm(transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                      a: x.cpu, lda: inFeatures, b: weight.cpu, ldb: inFeatures, beta: 1, c: out, ldc: outFeatures) {
            blockRows, blockColumns in
            for row in blockRows {
                let destination = out + row * outFeatures + blockColumns.lowerBound
                if let biasValues {
                    destination.update(from: biasValues + blockColumns.lowerBound, count: blockColumns.count)
                } else {
                    destination.update(repeating: 0, count: blockColumns.count)
                }
            }
        }
        return result
    }
}
