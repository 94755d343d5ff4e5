import Tensor

/// One video's (or clip's) state between denoising steps, exactly as diffusers'
/// `TextToVideoSDPipeline` keeps it: the latents, the scheduler with its history, and the CPU
/// generator that drew the initial noise and draws any per-step noise.
public struct DenoisingState: Sendable {
    /// Latent shape, `[1, C, F, H, W]`.
    public let shape: [Int]
    /// The current latents (flat, row-major).
    public private(set) var latents: [Float]
    /// The scheduler, advanced by each step.
    public private(set) var scheduler: any Scheduler
    private var generator: TorchGenerator
    /// Steps taken so far.
    public private(set) var completedSteps = 0

    /// The state before the first step: `torch.randn(shape)` from
    /// `torch.Generator("cpu").manual_seed(seed)`, times the scheduler's initial sigma.
    public init(shape: [Int], seed: UInt64, scheduler: any Scheduler) throws {
        guard shape.count == 5, shape[0] == 1 else {
            throw ModelError("latent shape must be [1, channels, frames, height, width], got \(shape)")
        }
        self.shape = shape
        self.scheduler = scheduler
        generator = TorchGenerator(seed: seed)
        let sigma = scheduler.initNoiseSigma
        let noise = generator.randn(count: shape.reduce(1, *))
        latents = sigma == 1 ? noise : noise.map { $0 * sigma }
    }

    /// Advances one guided step at `timestep` (the scheduler's next); `temporal` is handed to
    /// the UNet forward.
    public mutating func step(denoiser: GuidedDenoiser, timestep: Int, conditioning: Conditioning,
                              temporal: any TemporalContext = PlainTemporalContext()) async throws {
        let prediction = try await denoiser.noisePrediction(latents: latents, shape: shape, timestep: timestep,
                                                            conditioning: conditioning, temporal: temporal)
        let noise = scheduler.needsNoise ? stepNoise() : nil
        latents = try scheduler.step(modelOutput: prediction, timestep: timestep, sample: latents, noise: noise)
        completedSteps += 1
    }

    /// Everything needed to continue from here, on this process or another one.
    public var checkpoint: DenoisingCheckpoint {
        DenoisingCheckpoint(shape: shape, completedSteps: completedSteps, latents: latents,
                            schedulerState: scheduler.encodedState, generatorState: generator.encodedState)
    }

    /// The state `checkpoint` recorded. `scheduler` must be the one the original state started
    /// with (same kind, config and steps), fresh: it takes on the recorded progress.
    public init(restoring checkpoint: DenoisingCheckpoint, scheduler: any Scheduler) throws {
        let shape = checkpoint.shape
        guard shape.count == 5, shape[0] == 1, shape.allSatisfy({ $0 >= 1 }),
              checkpoint.latents.count == shape.reduce(1, *) else {
            throw ModelError("checkpoint: \(checkpoint.latents.count) latents do not fill shape \(shape)")
        }
        guard (0 ... scheduler.timesteps.count).contains(checkpoint.completedSteps) else {
            throw ModelError("checkpoint: \(checkpoint.completedSteps) completed steps, but the schedule has \(scheduler.timesteps.count)")
        }
        var scheduler = scheduler
        try scheduler.restoreState(checkpoint.schedulerState)
        self.shape = shape
        self.scheduler = scheduler
        generator = try TorchGenerator(encodedState: checkpoint.generatorState)
        latents = checkpoint.latents
        completedSteps = checkpoint.completedSteps
    }

    /// Noise for a stochastic step. The pipeline steps latents viewed as `[F, C, H, W]`, so
    /// diffusers draws the noise in that order; it is transposed back to `[C, F, H, W]`.
    private mutating func stepNoise() -> [Float] {
        let (channels, frames, plane) = (shape[1], shape[2], shape[3] * shape[4])
        let drawn = generator.randn(count: channels * frames * plane)
        var noise = [Float](repeating: 0, count: drawn.count)
        for frame in 0 ..< frames {
            for channel in 0 ..< channels {
                let source = (frame * channels + channel) * plane
                let target = (channel * frames + frame) * plane
                for pixel in 0 ..< plane { noise[target + pixel] = drawn[source + pixel] }
            }
        }
        return noise
    }
}

/// A ``DenoisingState`` frozen between steps: what a cluster stores to move a clip to another
/// worker, or to roll it back after a failure, and continue bit-identically.
public struct DenoisingCheckpoint: Sendable, Equatable {
    /// Latent shape, `[1, C, F, H, W]`.
    public var shape: [Int]
    /// Steps taken before the checkpoint.
    public var completedSteps: Int
    /// The latents (flat, row-major).
    public var latents: [Float]
    /// ``Scheduler/encodedState``.
    public var schedulerState: [UInt8]
    /// ``TorchGenerator/encodedState``.
    public var generatorState: [UInt8]

    /// Wraps the parts of a checkpoint.
    public init(shape: [Int], completedSteps: Int, latents: [Float], schedulerState: [UInt8], generatorState: [UInt8]) {
        self.shape = shape
        self.completedSteps = completedSteps
        self.latents = latents
        self.schedulerState = schedulerState
        self.generatorState = generatorState
    }
}
