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
    /// draws them (see ``DenoisingState``). `progress(step, total)` is called after each step.
    public func generate(shape: [Int], seed: UInt64, conditioning: Conditioning, scheduler: any Scheduler,
                         progress: (Int, Int) -> Void = { _, _ in }) async throws -> [Float] {
        var state = try DenoisingState(shape: shape, seed: seed, scheduler: scheduler)
        let timesteps = scheduler.timesteps
        for (index, timestep) in timesteps.enumerated() {
            try await state.step(denoiser: denoiser, timestep: timestep, conditioning: conditioning)
            progress(index + 1, timesteps.count)
        }
        return state.latents
    }
}
