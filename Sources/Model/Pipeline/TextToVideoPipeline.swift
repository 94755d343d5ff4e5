import Tensor

/// The denoising loop of diffusers' `TextToVideoSDPipeline` for one video, returning latents:
/// initial noise from a PyTorch-compatible generator, guided noise predictions, scheduler steps.
public struct TextToVideoPipeline: Sendable {
    /// The guided denoiser.
    public let denoiser: GuidedDenoiser

    /// A pipeline running `denoiser`.
    public init(denoiser: GuidedDenoiser) {
        self.denoiser = denoiser
    }

    /// Runs all of `scheduler`'s steps for one video of `shape = [1, C, F, H, W]` and returns
    /// the final latents. The initial noise, and the per-step noise of stochastic schedulers,
    /// come from `torch.Generator("cpu").manual_seed(seed)` exactly as the diffusers pipeline
    /// draws them. `progress(step, total)` is called after each step.
    public func generate(shape: [Int], seed: UInt64, conditioning: Conditioning, scheduler: any Scheduler,
                         progress: (Int, Int) -> Void = { _, _ in }) async throws -> [Float] {
        guard shape.count == 5, shape[0] == 1 else {
            throw ModelError("latent shape must be [1, channels, frames, height, width], got \(shape)")
        }
        var generator = TorchGenerator(seed: seed)
        var scheduler = scheduler
        let sigma = scheduler.initNoiseSigma
        let noise = generator.randn(count: shape.reduce(1, *))
        var latents = sigma == 1 ? noise : noise.map { $0 * sigma }
        let timesteps = scheduler.timesteps
        for (index, timestep) in timesteps.enumerated() {
            let prediction = try await denoiser.noisePrediction(latents: latents, shape: shape, timestep: timestep,
                                                          conditioning: conditioning)
            let stepNoise = scheduler.needsNoise ? Self.stepNoise(&generator, shape: shape) : nil
            latents = try scheduler.step(modelOutput: prediction, timestep: timestep, sample: latents,
                                         noise: stepNoise)
            progress(index + 1, timesteps.count)
        }
        return latents
    }

    /// Noise for a stochastic step of one video `shape = [1, C, F, H, W]`. The pipeline steps latents viewed as `[F, C, H, W]`, so
    /// diffusers draws the noise in that order; it is transposed back to `[C, F, H, W]`.
    public static func stepNoise(_ generator: inout TorchGenerator, shape: [Int]) -> [Float] {
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
