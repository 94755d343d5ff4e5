import CPUBackend
import Foundation
import Model
import Parallel
import Tensor
import TestSupport
import Testing

/// The lock-step sampler: reproduction of diffusers with one clip, placement independence,
/// bounded communication, failure handling.
@Suite("Clip-parallel pipeline")
struct ClipParallelPipelineTests {
    @Test("a one-clip run reproduces diffusers' TextToVideoSDPipeline", arguments: ["ddim", "dpmpp"])
    func oneClipMatchesDiffusers(scheduler kind: String) async throws {
        let folder = "\(ParallelFixtures.root)/unet-tiny"
        let settings = try DiffusersFixtures.pipelineSettings("unet-tiny", kind)
        let model = try ParallelFixtures.model()
        let scheduler = try makeScheduler(config: SchedulerConfig(contentsOfFile: "\(folder)/scheduler/scheduler_config.json"),
                                          kind: kind == "ddim" ? .ddim : .dpmSolverMultistep, steps: settings.steps)
        let pipeline = try ClipParallelPipeline(workers: [model], plan: ClipPlan(clipFrames: [settings.frames]),
                                                guidance: settings.guidance)
        let latents = try await pipeline.generate(embeddings: DiffusersFixtures.embeddings(), height: settings.height,
                                                  width: settings.width, seed: settings.seed, scheduler: scheduler)
        let expected = try SafeTensorsFile(path: "\(folder)/pipeline-\(kind).safetensors").floats("latents")
        let scale = expected.reduce(0) { max($0, abs($1)) }
        #expect(maxAbsDifference(latents, expected) <= 1e-3 * scale)

        // And bit for bit what the single-video pipeline computes.
        let backend = model.backend
        let embeddings = try DiffusersFixtures.embeddings()
        let single = try await TextToVideoPipeline(denoiser: GuidedDenoiser(model: model, guidance: settings.guidance))
            .generate(shape: [1, 4, settings.frames, settings.height, settings.width], seed: settings.seed,
                      conditioning: embeddings.conditioning(prompt: 0, fps: nil, on: backend), scheduler: scheduler)
        #expect(latents == single)
    }

    @Test("the video does not depend on how clips are placed on workers")
    func placementIndependence() async throws {
        let plan = try ClipPlan(clipFrames: [5, 4, 6, 5])
        var config = VideoInfinityConfig()
        config.localFrames = 2
        config.globalFrames = 6
        let scheduler = try makeScheduler(config: .textToVideoDefault, kind: .dpmSolverMultistep, steps: 2)
        // Workers with their own backends and thread counts.
        let one = try ParallelFixtures.model(backend: CPUBackend(threads: 2))
        let two = try ParallelFixtures.model(backend: CPUBackend(threads: 1))
        let three = try ParallelFixtures.model(backend: CPUBackend(threads: 2))
        func run(_ workers: [UNet3DConditionModel], _ placement: [Int]) async throws -> [Float] {
            try await ClipParallelPipeline(workers: workers, plan: plan, placement: placement, config: config,
                                           guidance: 7.5)
                .generate(embeddings: DiffusersFixtures.embeddings(), height: 4, width: 6, seed: 11, scheduler: scheduler)
        }
        let reference = try await run([one], [0, 0, 0, 0])
        #expect(try await run([one, two], [0, 0, 1, 1]) == reference)
        #expect(try await run([one, two], [1, 0, 1, 0]) == reference)
        #expect(try await run([one, two, three], [2, 1, 0, 2]) == reference)
        #expect(reference.count == 4 * 20 * 4 * 6)
    }

    @Test("bytes exchanged per clip and step do not grow with the video's length")
    func communicationIsBounded() async throws {
        let model = try ParallelFixtures.model()
        let backend = model.backend
        var config = VideoInfinityConfig()
        config.localFrames = 2
        config.globalFrames = 4
        config.syncGroupNorm = true
        var received: [[Int]] = []
        for clips in [3, 6, 12] {
            let plan = try ClipPlan(clipFrames: Array(repeating: 4, count: clips))
            let exchange = InProcessExchange(clipCount: clips)
            var generator = TorchGenerator(seed: 3)
            let sample = try backend.upload(generator.randn(count: 2 * 4 * 4 * clips * 4 * 4),
                                            shape: [2, 4, 4 * clips, 4, 4])
            let context = try backend.upload(generator.randn(count: 2 * 3 * 16), shape: [2, 3, 16])
            _ = try await clipParallelForward(model: model, plan: plan, config: config, sample: sample, timestep: 900,
                                              encoderHiddenStates: context, exchange: exchange)
            received.append(exchange.bytesReceived)
        }
        // An interior clip receives the same bytes however long the video, and every clip at
        // most what an interior clip does.
        #expect(received[0][1] > 0)
        #expect(received.map { $0[1] } == [received[0][1], received[0][1], received[0][1]])
        #expect(received.allSatisfy { $0.allSatisfy { $0 <= received[0][1] } })
    }

    /// An exchange that fails one clip's operation at a chosen site.
    struct FailingExchange: ContextExchange {
        let base: InProcessExchange
        let clip: Int
        let site: Int
        var clipCount: Int { base.clipCount }

        struct Injected: Error, CustomStringConvertible {
            var description: String { "injected transport failure" }
        }

        func exchangeNeighbours(_ key: ExchangeKey, clip: Int, head: HostTensor, tail: HostTensor)
            async throws -> (previousTail: HostTensor?, nextHead: HostTensor?) {
            if clip == self.clip && key.kind == .attention && key.site == site { throw Injected() }
            return try await base.exchangeNeighbours(key, clip: clip, head: head, tail: tail)
        }

        func allGather(_ key: ExchangeKey, clip: Int, part: HostTensor) async throws -> [HostTensor] {
            try await base.allGather(key, clip: clip, part: part)
        }

        func allReduce(_ key: ExchangeKey, clip: Int, values: [Double]) async throws -> [Double] {
            try await base.allReduce(key, clip: clip, values: values)
        }

        func abort(_ error: any Error) async {
            await base.abort(error)
        }
    }

    @Test("a failing clip fails the step with its error; its peers do not hang", .timeLimit(.minutes(1)))
    func failurePropagates() async throws {
        let model = try ParallelFixtures.model()
        let plan = try ClipPlan(clipFrames: [4, 4, 4])
        var config = VideoInfinityConfig()
        config.localFrames = 2
        config.globalFrames = 4
        let exchange = FailingExchange(base: InProcessExchange(clipCount: 3), clip: 1, site: 3)
        let pipeline = try ClipParallelPipeline(workers: [model], plan: plan, config: config, guidance: 7.5)
        let scheduler = try makeScheduler(config: .textToVideoDefault, kind: .ddim, steps: 2)
        await #expect(throws: FailingExchange.Injected.self) {
            _ = try await pipeline.generate(embeddings: DiffusersFixtures.embeddings(), height: 4, width: 4, seed: 0,
                                            scheduler: scheduler, exchange: exchange)
        }
        // The peers saw the clip's failure, named.
        await #expect(throws: ClipFailure.self) {
            _ = try await exchange.base.allReduce(ExchangeKey(forward: 9, kind: .groupNorm, site: 0), clip: 0, values: [1])
        }
    }

    @Test("bad plans and parameters are rejected by name")
    func validation() throws {
        #expect(throws: ParallelError("clip frames (20) cannot exceed the video's frames (16)")) {
            try ClipPlan(totalFrames: 16, maxClipFrames: 20)
        }
        #expect(throws: ParallelError("a video needs at least 1 frame, got 0")) { try ClipPlan(totalFrames: 0, maxClipFrames: 4) }
        #expect(throws: ParallelError("clip 1 has 0 frames; every clip needs at least 1")) { try ClipPlan(clipFrames: [3, 0]) }
        var config = VideoInfinityConfig()
        #expect(throws: ParallelError("local frames (8) cannot exceed the shortest clip (6 frames)")) {
            try config.validate(for: ClipPlan(clipFrames: [6, 8]))
        }
        config.localFrames = 2
        #expect(throws: ParallelError("clips need at least 4 frames (the temporal convolutions' context); the shortest has 3")) {
            try config.validate(for: ClipPlan(clipFrames: [3, 8]))
        }
        try config.validate(for: ClipPlan(clipFrames: [3]))
    }

    @Test("plans: equal-as-possible clips, seeds, multi-prompt mapping, balanced placement")
    func plans() throws {
        let plan = try ClipPlan(totalFrames: 100, maxClipFrames: 16)
        #expect(plan.clipFrames == [15, 15, 14, 14, 14, 14, 14])
        #expect(plan.frameRange(2) == 30 ..< 44)
        #expect(plan.clip(holding: 44) == 3)
        #expect((0 ..< 7).map { plan.seed(ofClip: $0, base: 40) } == [40, 41, 42, 43, 44, 45, 46])
        #expect((0 ..< 7).map { plan.prompt(ofClip: $0, prompts: 3) } == [0, 0, 0, 1, 1, 2, 2])
        // Each clip goes to the worker whose share of the frames holds its middle frame.
        #expect(plan.placement(workers: 3) == [0, 0, 1, 1, 1, 2, 2])
        #expect(plan.placement(workers: 1) == [0, 0, 0, 0, 0, 0, 0])
        #expect(try ClipPlan(totalFrames: 32, maxClipFrames: 16).placement(workers: 4) == [1, 3])
    }
}
