import Tensor

/// diffusers' `DDIMScheduler`: denoising diffusion implicit models (Song et al., 2020).
///
/// With `eta` 0 (the default, and what text-to-video pipelines use) each step is deterministic.
/// With `eta` above 0 the step adds `eta`-weighted fresh noise, which the caller supplies.
/// Scalars follow diffusers' float32 PyTorch arithmetic and the elementwise update is evaluated
/// in the same order, so results match diffusers to float32 rounding.
public struct DDIMScheduler: Scheduler {
    /// The config the scheduler was built from.
    public let config: SchedulerConfig
    /// The training noise schedule.
    public let schedule: NoiseSchedule
    /// The weight of fresh noise in each step (DDIM's η): 0 is deterministic.
    public let eta: Float
    /// The timesteps of the `steps` inference steps, decreasing.
    public let timesteps: [Int]
    /// Always 1: DDIM starts from standard normal noise.
    public var initNoiseSigma: Float { 1 }
    /// True when `eta` is positive.
    public var needsNoise: Bool { eta > 0 }

    /// The alpha product past timestep 0 (`final_alpha_cumprod`).
    private let finalAlphaCumprod: Float
    /// The distance from one timestep to the previous one: diffusers uses
    /// `num_train_timesteps // steps` for every spacing.
    private let stepDistance: Int

    /// A scheduler for `steps` inference steps (1 through `num_train_timesteps`).
    public init(config: SchedulerConfig, steps: Int, eta: Float = 0) throws {
        guard eta >= 0, eta.isFinite else {
            throw ModelError("DDIMScheduler: eta must be a finite number >= 0, got \(eta)")
        }
        schedule = try NoiseSchedule(config: config)
        timesteps = try Self.timesteps(config: config, steps: steps)
        self.config = config
        self.eta = eta
        finalAlphaCumprod = config.setAlphaToOne ? 1 : schedule.alphasCumprod[0]
        stepDistance = config.numTrainTimesteps / steps
    }

    /// DDIM's `set_timesteps(steps)`: the timesteps for `steps` inference steps.
    public static func timesteps(config: SchedulerConfig, steps: Int) throws -> [Int] {
        try config.validate()
        let trainSteps = config.numTrainTimesteps
        guard (1...trainSteps).contains(steps) else {
            throw ModelError("DDIMScheduler: steps must be in 1...\(trainSteps) (num_train_timesteps), got \(steps)")
        }
        let timesteps: [Int]
        switch config.timestepSpacing ?? .leading {
        case .linspace:
            timesteps = TimestepGrid.linspace(to: Double(trainSteps - 1), count: steps).reversed().map(TimestepGrid.round)
        case .leading:
            let ratio = trainSteps / steps
            timesteps = (0..<steps).reversed().map { $0 * ratio + config.stepsOffset }
        case .trailing:
            timesteps = TimestepGrid.arangeDown(from: Double(trainSteps), step: Double(trainSteps) / Double(steps))
                .map { TimestepGrid.round($0) - 1 }
        }
        try TimestepGrid.checkRange(timesteps, config: config, steps: steps, scheduler: "DDIMScheduler")
        return timesteps
    }

    /// DDIM's `step`: formulas (12) and (16) of the DDIM paper. `noise` is used only when `eta`
    /// is positive (diffusers' `variance_noise`).
    /// DDIM keeps no state between steps: each step depends only on its timestep.
    public var encodedState: [UInt8] {
        var encoder = StateEncoder()
        encoder.write(Self.stateTag)
        return encoder.bytes
    }

    public mutating func restoreState(_ bytes: [UInt8]) throws {
        var decoder = StateDecoder(bytes, what: "DDIMScheduler state")
        try decoder.expectTag(Self.stateTag)
        try decoder.finish()
    }

    /// "DDIM" version 1.
    private static let stateTag: UInt32 = 0x4444_4931

    public mutating func step(modelOutput: [Float], timestep: Int, sample: [Float], noise: [Float]?) throws -> [Float] {
        try checkStepInputs(modelOutput: modelOutput, sample: sample, noise: noise, needsNoise: needsNoise,
                            scheduler: "DDIMScheduler")
        let alphasCumprod = schedule.alphasCumprod
        guard alphasCumprod.indices.contains(timestep) else {
            throw ModelError("DDIMScheduler.step: timestep \(timestep) is outside the training range 0..<\(alphasCumprod.count)")
        }
        let previous = timestep - stepDistance
        let alphaProduct = alphasCumprod[timestep]
        let alphaProductPrevious = previous >= 0 ? alphasCumprod[previous] : finalAlphaCumprod
        let betaProduct = 1 - alphaProduct
        let betaProductPrevious = 1 - alphaProductPrevious
        let sqrtAlpha = alphaProduct.squareRoot()
        let sqrtBeta = betaProduct.squareRoot()

        let variance = (betaProductPrevious / betaProduct) * (1 - alphaProduct / alphaProductPrevious)
        let deviation = eta * variance.squareRoot()
        let sampleWeight = alphaProductPrevious.squareRoot()
        let directionWeight = (1 - alphaProductPrevious - deviation * deviation).squareRoot()
        let clips = config.clipSample
        let clipRange = Float(config.clipSampleRange)
        let prediction = config.predictionType
        let noise = needsNoise ? noise ?? [] : []

        return makeElements(sample.count) { index in
            let current = sample[index]
            let output = modelOutput[index]
            var original: Float
            let epsilon: Float
            switch prediction {
            case .epsilon:
                original = (current - sqrtBeta * output) / sqrtAlpha
                epsilon = output
            case .sample:
                original = output
                epsilon = (current - sqrtAlpha * original) / sqrtBeta
            case .vPrediction:
                original = sqrtAlpha * current - sqrtBeta * output
                epsilon = sqrtAlpha * output + sqrtBeta * current
            }
            if clips {
                original = min(max(original, -clipRange), clipRange)
            }
            let next = sampleWeight * original + directionWeight * epsilon
            return noise.isEmpty ? next : next + deviation * noise[index]
        }
    }
}
