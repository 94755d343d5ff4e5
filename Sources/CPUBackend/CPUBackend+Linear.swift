import Tensor

extension CPUBackend {
    /// `x @ weight^T + bias` over the last axis: `x [..., K]`, `weight [N, K]`, `bias [N]` -> `[..., N]`.
    ///
    /// One OpenBLAS GEMM over all leading rows. The bias is written into the output first and
    /// the GEMM accumulates onto it (`beta = 1`), which costs OpenBLAS nothing extra: with
    /// `beta = 0` it would clear the output in a pass of its own.
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
        fillRows(out, rows: rows, columns: outFeatures, with: bias)
        sgemm(transposeB: true, m: rows, n: outFeatures, k: inFeatures,
              a: x.cpu, lda: inFeatures, b: weight.cpu, ldb: inFeatures, beta: 1, c: out, ldc: outFeatures)
        return result
    }
}
