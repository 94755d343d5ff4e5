import Foundation
import Model
import Tensor
import TestSupport
import Testing

/// The guided denoising loop against diffusers' `TextToVideoSDPipeline` (output_type "latent").
@Suite("TextToVideoPipeline parity with diffusers")
struct PipelineParityTests {
    /// Max abs error relative to the reference latents' largest magnitude.
    static let tolerance: Float = 1e-3

    struct Case: Sendable, CustomTestStringConvertible {
        let model: String
        let scheduler: String
        var testDescription: String { "\(model) \(scheduler)" }
    }

    static let cases = ["unet-tiny", "unet-fps"].flatMap { model in
        ["ddim", "dpmpp"].map { Case(model: model, scheduler: $0) }
    }

    @Test("4 guided steps match the diffusers pipeline", arguments: cases)
    func matchesDiffusers(_ testCase: Case) async throws {
        let folder = Fixtures.path(testCase.model)
        let settings = try DiffusersFixtures.pipelineSettings(testCase.model, testCase.scheduler)
        let reference = try SafeTensorsFile(path: "\(folder)/pipeline-\(testCase.scheduler).safetensors")
        let model = try Fixtures.model(testCase.model)
        let backend = Fixtures.backend

        let config = try SchedulerConfig(contentsOfFile: "\(folder)/scheduler/scheduler_config.json")
        let scheduler = try makeScheduler(config: config, kind: testCase.scheduler == "ddim" ? .ddim : .dpmSolverMultistep,
                                          steps: settings.steps)
        #expect(scheduler.timesteps.map(Float.init) == (try reference.floats("timesteps")))

        let embeddings = try SafeTensorsFile(path: "\(folder)/embeddings.safetensors")
        let cond = try Fixtures.tensor(embeddings, "cond")
        let uncond = try Fixtures.tensor(embeddings, "uncond")
        let conditioning = Conditioning(prompt: cond, negativePrompt: uncond.reshaped([1] + uncond.shape),
                                        fps: settings.fps)
        let shape = [1, model.config.inChannels, settings.frames, settings.height, settings.width]

        var generator = TorchGenerator(seed: settings.seed)
        #expect(maxAbsDifference(generator.randn(count: shape.reduce(1, *)), try reference.floats("initial_noise")) <= 1e-6)

        let pipeline = TextToVideoPipeline(denoiser: GuidedDenoiser(model: model, guidance: settings.guidance))
        var steps: [Int] = []
        let latents = try await pipeline.generate(shape: shape, seed: settings.seed, conditioning: conditioning,
                                            scheduler: scheduler) { step, _ in steps.append(step) }
        #expect(steps == Array(1 ... settings.steps))
        let expected = try reference.floats("latents")
        let scale = maxAbs(expected)
        #expect(maxAbsDifference(latents, expected) <= Self.tolerance * scale)
        _ = backend
    }
}
