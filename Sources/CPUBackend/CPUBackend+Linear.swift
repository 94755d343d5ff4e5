import Tensor

extension CPUBackend {
    /// `x @ weight^T + bias` over the last axis: `x [..., K]`, `weight [N, K]`, `bias [N]` -> `[..., N]`.
    ///
    /// One GEMM over all leading rows, split into a block of rows per thread (see
    /// ``parallelSgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:prepare:)``). Each
    /// thread writes the bias into its block and the GEMM accumulates onto it (`beta = 1`), in
    /// place of the separate pass OpenBLAS would make to clear the output for `beta = 0`
    /// (which it does make when there is no bias).
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
}
