#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensor

extension CPUBackend {
    /// Sinusoidal timestep embedding of diffusers' `get_timestep_embedding`
    /// (see ``Backend/timestepEmbedding(_:dim:flipSinToCos:downscaleFreqShift:maxPeriod:)``).
    ///
    /// diffusers computes the exponents, frequencies and arguments in float32 torch; the same
    /// operations in the same order in `Float` give the same arguments bit for bit, so the only
    /// differences left are the last-ulp rounding of `expf`, `sinf` and `cosf`.
    public func timestepEmbedding(_ timesteps: Tensor, dim: Int, flipSinToCos: Bool,
                                  downscaleFreqShift: Float, maxPeriod: Float) throws -> Tensor {
        precondition(timesteps.rank == 1, "timestepEmbedding: timesteps must be [N], got \(timesteps.shape)")
        precondition(dim > 0, "timestepEmbedding: dim must be positive, got \(dim)")
        let count = timesteps.shape[0]
        let (result, out) = makeTensor([count, dim])
        let half = dim / 2

        // `-math.log(max_period) * arange(half, dtype=float32) / (half - shift)`: a Python double
        // times a float32 tensor is computed in float32, as is the true division.
        let logPeriod = Float(-log(Double(maxPeriod)))
        let divisor = Float(Double(half) - Double(downscaleFreqShift))
        let frequencies = (0 ..< half).map { expf(logPeriod * Float($0) / divisor) }

        let input = timesteps.cpu
        let sinOffset = flipSinToCos ? half : 0, cosOffset = flipSinToCos ? 0 : half
        for n in 0 ..< count {
            let row = out + n * dim
            for (i, frequency) in frequencies.enumerated() {
                let argument = input[n] * frequency
                row[sinOffset + i] = sinf(argument)
                row[cosOffset + i] = cosf(argument)
            }
            if dim % 2 == 1 { row[dim - 1] = 0 }
        }
        return result
    }
}
