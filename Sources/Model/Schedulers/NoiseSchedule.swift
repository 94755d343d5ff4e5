import Foundation

/// The training noise schedule of a scheduler config: betas and the cumulative products of
/// alphas, in float32 exactly as diffusers computes them with PyTorch on the CPU.
///
/// Bit-exact agreement matters here because every later step starts from these values. The
/// details that make it so: `torch.linspace` evaluates `start + step * i` in double before
/// rounding to float32, and `torch.cumprod` accumulates in double on the CPU.
public struct NoiseSchedule: Sendable, Equatable {
    /// `betas[t]` for each training timestep t.
    public let betas: [Float]
    /// `alphas_cumprod[t]`: the product of `1 - betas[0...t]`.
    public let alphasCumprod: [Float]

    /// The schedule of `config` (`beta_schedule`, `trained_betas`, `rescale_betas_zero_snr`).
    public init(config: SchedulerConfig) throws {
        try config.validate()
        let count = config.numTrainTimesteps
        var betas: [Float]
        if let trained = config.trainedBetas {
            betas = trained.map { Float($0) }
        } else {
            switch config.betaSchedule {
            case .linear:
                betas = Self.torchLinspace(from: Float(config.betaStart), to: Float(config.betaEnd), count: count)
            case .scaledLinear:
                betas = Self.torchLinspace(from: Float(pow(config.betaStart, 0.5)),
                                           to: Float(pow(config.betaEnd, 0.5)), count: count)
                    .map { $0 * $0 }
            case .squaredCosCapV2:
                betas = Self.cosineBetas(count: count)
            }
        }
        if config.rescaleBetasZeroSNR {
            betas = Self.rescaledToZeroTerminalSNR(betas)
        }
        self.betas = betas
        alphasCumprod = Self.cumulativeProduct(betas.map { 1 - $0 })
    }

    /// `torch.linspace(start, end, count, dtype=torch.float32)` on the CPU.
    static func torchLinspace(from start: Float, to end: Float, count: Int) -> [Float] {
        guard count > 1 else { return count == 1 ? [start] : [] }
        let step = (end - start) / Float(count - 1)
        // PyTorch fills the first half from the start and the second half back from the end.
        let halfway = count / 2
        return (0..<count).map { index in
            index < halfway
                ? Float(Double(start) + Double(step) * Double(index))
                : Float(Double(end) - Double(step) * Double(count - 1 - index))
        }
    }

    /// diffusers' `betas_for_alpha_bar` with the cosine transform: float64 arithmetic, float32 result.
    static func cosineBetas(count: Int, maxBeta: Double = 0.999) -> [Float] {
        func alphaBar(_ time: Double) -> Double {
            let value = cos((time + 0.008) / 1.008 * Double.pi / 2)
            return value * value
        }
        return (0..<count).map { index in
            let t1 = Double(index) / Double(count)
            let t2 = Double(index + 1) / Double(count)
            return Float(min(1 - alphaBar(t2) / alphaBar(t1), maxBeta))
        }
    }

    /// `torch.cumprod` of a float32 vector on the CPU, which accumulates in double.
    static func cumulativeProduct(_ values: [Float]) -> [Float] {
        var product = 1.0
        return values.map { value in
            product *= Double(value)
            return Float(product)
        }
    }

    /// diffusers' `rescale_zero_terminal_snr` (algorithm 1 of "Common Diffusion Noise Schedules
    /// and Sample Steps are Flawed"), in float32 like the original.
    static func rescaledToZeroTerminalSNR(_ betas: [Float]) -> [Float] {
        var root = cumulativeProduct(betas.map { 1 - $0 }).map { $0.squareRoot() }
        guard let first = root.first, let last = root.last else { return betas }
        let scale = first / (first - last)
        for index in root.indices {
            root[index] = (root[index] - last) * scale
        }
        let alphasBar = root.map { $0 * $0 }
        return alphasBar.indices.map { index in
            1 - (index == 0 ? alphasBar[0] : alphasBar[index] / alphasBar[index - 1])
        }
    }
}
