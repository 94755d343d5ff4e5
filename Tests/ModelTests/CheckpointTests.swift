import Model
import Tensor
import Testing

/// A denoising state checkpointed after some steps and restored into a fresh scheduler
/// continues bit for bit as the uninterrupted run does: what cluster recovery relies on.
@Suite struct CheckpointTests {
    /// Runs `steps` guided steps of the tiny fixture model on a 1x4x4x8x8 latent, checkpointing
    /// after `checkpointAfter` steps; returns the uninterrupted and the resumed final latents.
    private func run(kind: SchedulerKind, config: SchedulerConfig, eta: Float = 0, steps: Int,
                     checkpointAfter: Int) async throws -> (straight: [Float], resumed: [Float], checkpoint: DenoisingCheckpoint) {
        let model = try Fixtures.model("unet-tiny")
        let width = model.config.crossAttentionDim
        var generator = TorchGenerator(seed: 3)
        let backend = Fixtures.backend
        let conditioning = Conditioning(prompt: try backend.upload(generator.randn(count: 5 * width), shape: [1, 5, width]),
                                        negativePrompt: try backend.upload(generator.randn(count: 5 * width), shape: [1, 5, width]))
        let denoiser = GuidedDenoiser(model: model, guidance: 5)
        let makeFresh = { try makeScheduler(config: config, kind: kind, steps: steps, eta: eta) }
        var state = try DenoisingState(shape: [1, model.config.inChannels, 4, 8, 8], seed: 11, scheduler: try makeFresh())
        let timesteps = state.scheduler.timesteps
        var checkpoint: DenoisingCheckpoint?
        for (index, timestep) in timesteps.enumerated() {
            if index == checkpointAfter { checkpoint = state.checkpoint }
            try await state.step(denoiser: denoiser, timestep: timestep, conditioning: conditioning)
        }
        let saved = try #require(checkpoint)
        var resumed = try DenoisingState(restoring: saved, scheduler: try makeFresh())
        for timestep in timesteps.dropFirst(checkpointAfter) {
            try await resumed.step(denoiser: denoiser, timestep: timestep, conditioning: conditioning)
        }
        #expect(resumed.completedSteps == steps)
        return (state.latents, resumed.latents, saved)
    }

    @Test func multistepSDESolverResumesBitIdentically() async throws {
        var config = SchedulerConfig.textToVideoDefault
        config.algorithmType = .sdeDPMSolverPlusPlus
        let result = try await run(kind: .dpmSolverMultistep, config: config, steps: 5, checkpointAfter: 2)
        #expect(result.checkpoint.completedSteps == 2)
        #expect(result.resumed == result.straight)
    }

    @Test func stochasticDDIMResumesBitIdentically() async throws {
        let result = try await run(kind: .ddim, config: .textToVideoDefault, eta: 1, steps: 4, checkpointAfter: 3)
        #expect(result.resumed == result.straight)
    }

    @Test func checkpointStateRejectsForeignOrDamagedBytes() throws {
        var dpm = try makeScheduler(config: .textToVideoDefault, kind: .dpmSolverMultistep, steps: 4)
        let ddim = try makeScheduler(config: .textToVideoDefault, kind: .ddim, steps: 4)
        #expect(throws: (any Error).self) { try dpm.restoreState(ddim.encodedState) }
        let other = try makeScheduler(config: .textToVideoDefault, kind: .dpmSolverMultistep, steps: 7)
        #expect(throws: (any Error).self) { try dpm.restoreState(other.encodedState) }
        #expect(throws: (any Error).self) { try dpm.restoreState(Array(dpm.encodedState.dropLast())) }

        var generator = TorchGenerator(seed: 9)
        _ = generator.randn(count: 3)  // leaves a cached normal sample
        var restored = try TorchGenerator(encodedState: generator.encodedState)
        #expect(restored.randn(count: 40) == generator.randn(count: 40))
        #expect(throws: (any Error).self) { try TorchGenerator(encodedState: Array(generator.encodedState.prefix(20))) }
    }
}
