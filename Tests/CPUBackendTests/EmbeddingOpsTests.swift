import CPUBackend
import Tensor
import Testing

/// `timestepEmbedding` against diffusers' `get_timestep_embedding` (torch 2.13 CPU, diffusers 0.42.1).
///
/// Reference values from (columns picked with `e[:, cols]`, each value printed as float32):
///   .venv-ref/bin/python -c "import torch; from diffusers.models.embeddings import get_timestep_embedding as g;
///     print(g(torch.tensor([0., 1., 37.5, 999.]), DIM, flip_sin_to_cos=FLIP, downscale_freq_shift=SHIFT).tolist())"
///
/// Tolerance `1e-6 + 2.4e-7 * t` per value: the arguments `t * frequency` are bit-identical to
/// torch's, but torch's SLEEF `exp` differs from libm's `expf` by one ulp (6e-8 relative) for a
/// few frequencies, which moves the argument by up to `t * 1.2e-7`; sin/cos add ~1 ulp.
@Suite struct EmbeddingOpsTests {
    typealias T = ElementwiseTesting
    static let timesteps: [Float] = [0, 1, 37.5, 999]

    func check(dim: Int, flip: Bool, shift: Float, columns: [Int]?, expected: [[Double]]) throws {
        let t = try T.backend.upload(Self.timesteps, shape: [Self.timesteps.count])
        let result = try T.backend.timestepEmbedding(t, dim: dim, flipSinToCos: flip, downscaleFreqShift: shift,
                                                     maxPeriod: 10000)
        #expect(result.shape == [Self.timesteps.count, dim])
        let values = try T.backend.download(result)
        for (row, expectedRow) in expected.enumerated() {
            let picked = (columns ?? Array(0 ..< dim)).map { values[row * dim + $0] }
            T.expectClose(picked, expectedRow, absolute: 1e-6 + 2.4e-7 * Double(Self.timesteps[row]), relative: 0,
                          "dim \(dim) flip \(flip) shift \(shift) t \(Self.timesteps[row])")
        }
    }

    @Test func dim8SinFirstShift1() throws {
        try check(dim: 8, flip: false, shift: 1, columns: nil, expected: [
            [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
            [0.8414709568023682, 0.046399228274822235, 0.0021544331684708595, 9.99999901978299e-05,
             0.5403023362159729, 0.9989229440689087, 0.9999976754188538, 1.0],
            [-0.19779880344867706, 0.9856186509132385, 0.08070343732833862, 0.003749990835785866,
             0.9802426695823669, -0.16898484528064728, 0.9967381358146667, 0.9999929666519165],
            [-0.02646075189113617, 0.684861421585083, 0.8356484770774841, 0.09973391145467758,
             0.9996498227119446, -0.7286733388900757, -0.549264669418335, 0.9950141310691833],
        ])
    }

    /// Odd dim: the last column is zero padding.
    @Test func dim9CosFirstShift0() throws {
        try check(dim: 9, flip: true, shift: 0, columns: nil, expected: [
            [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.5403023362159729, 0.9950041770935059, 0.9999499917030334, 0.9999995231628418,
             0.8414709568023682, 0.0998334139585495, 0.009999833069741726, 0.0009999998146668077, 0.0],
            [0.9802426695823669, -0.8205595016479492, 0.9305076003074646, 0.9992969632148743,
             -0.19779880344867706, -0.5715610980987549, 0.36627253890037537, 0.03749120980501175, 0.0],
            [0.9996498227119446, 0.8074550628662109, -0.8444697856903076, 0.541143536567688,
             -0.02646075189113617, -0.5899291038513184, -0.5356031656265259, 0.8409302234649658, 0.0],
        ])
    }

    /// UNet3DConditionModel's `Timesteps(320, flip_sin_to_cos=True, downscale_freq_shift=0)`.
    @Test func dim320CosFirstShift0() throws {
        try check(dim: 320, flip: true, shift: 0, columns: [0, 1, 2, 80, 159, 160, 161, 250, 319], expected: [
            [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
            [0.5403023362159729, 0.586503803730011, 0.6284394264221191, 0.9999499917030334, 1.0,
             0.8414709568023682, 0.8099464774131775, 0.005623382516205311, 0.00010592537000775337],
            [0.9802426695823669, -0.6639081239700317, -0.421582967042923, 0.9305076003074646, 0.9999921321868896,
             -0.19779880344867706, -0.7478141188621521, 0.20931848883628845, 0.003972191363573074],
            [0.9996498227119446, 0.8026775121688843, -0.2780621349811554, -0.8444697856903076, 0.9944063425064087,
             -0.02646075189113617, 0.5964133143424988, -0.6173710823059082, 0.1056220605969429],
        ])
    }

    @Test func dim320SinFirstShift1() throws {
        try check(dim: 320, flip: false, shift: 1, columns: [0, 1, 80, 159, 160, 200, 319], expected: [
            [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            [0.8414709568023682, 0.8097460269927979, 0.009714365005493164, 9.99999901978299e-05,
             0.5403023362159729, 0.9951466917991638, 1.0],
            [-0.19779880344867706, -0.7392459511756897, 0.3562901020050049, 0.003749990835785866,
             0.9802426695823669, -0.8501681089401245, 0.9999929666519165],
            [-0.02646075189113617, 0.2932796776294708, -0.27638015151023865, 0.09973391145467758,
             0.9996498227119446, -0.4763307273387909, 0.9950141310691833],
        ])
    }
}
