import Foundation
import Model
import Parallel
import Tensor
import TestSupport
import Testing

/// The clip-parallel forward against the Python reference written from the spec
/// (Tests/ModelTests/Fixtures/parallel, made by scripts/fixtures/make_parallel_fixtures.py).
@Suite("Dual-scope clip-parallel forward")
struct DualScopeParityTests {
    struct Settings: Decodable {
        let clip_frames: [Int]
        let local_frames: Int
        let global_frames: Int
        let phase_t: Int
        let local_bias: Float
        let global_bias: Float
        let token_num_scale: Bool
        let reference_padding: Bool
        let reference_global: Bool
        let sync_groupnorm: Bool
        let timestep: Int

        var config: VideoInfinityConfig {
            var config = VideoInfinityConfig()
            config.localFrames = local_frames
            config.globalFrames = global_frames
            config.phaseTimestep = phase_t
            config.localBias = local_bias
            config.globalBias = global_bias
            config.tokenCountScale = token_num_scale
            config.referencePadding = reference_padding
            config.referenceGlobalSampling = reference_global
            config.syncGroupNorm = sync_groupnorm
            return config
        }
    }

    @Test("3 unequal clips match the Python reference within 1e-4",
          arguments: ["ours-global-phase", "ours-local-phase", "reference", "synced-groupnorm", "defaults"])
    func matchesReference(name: String) async throws {
        let folder = "\(ParallelFixtures.root)/parallel"
        let settings = try JSONDecoder().decode(Settings.self,
                                                from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name).json")))
        let file = try SafeTensorsFile(path: "\(folder)/\(name).safetensors")
        let model = try ParallelFixtures.model()
        let plan = try ClipPlan(clipFrames: settings.clip_frames)
        try settings.config.validate(for: plan)
        let output = try await clipParallelForward(
            model: model, plan: plan, config: settings.config, sample: ParallelFixtures.tensor(file, "sample"),
            timestep: settings.timestep, encoderHiddenStates: ParallelFixtures.tensor(file, "encoder_hidden_states"))
        let values = try ParallelFixtures.backend.download(output)
        #expect(maxAbsDifference(values, try file.floats("output")) <= 1e-4)
    }

    @Test("the reference and our defaults differ where the spec says they do")
    func flagsMatter() throws {
        let folder = "\(ParallelFixtures.root)/parallel"
        let ours = try SafeTensorsFile(path: "\(folder)/ours-global-phase.safetensors").floats("output")
        let reference = try SafeTensorsFile(path: "\(folder)/reference.safetensors").floats("output")
        #expect(maxAbsDifference(ours, reference) > 0.1)
    }

    @Test("one clip is the plain forward, bit for bit")
    func oneClipIsPlain() async throws {
        let model = try ParallelFixtures.model()
        let file = try SafeTensorsFile(path: "\(ParallelFixtures.root)/parallel/single-clip.safetensors")
        let sample = try ParallelFixtures.tensor(file, "sample")
        let context = try ParallelFixtures.tensor(file, "encoder_hidden_states")
        let timestep = Int(try file.floats("timestep")[0])
        let plain = try await model(sample: sample, timestep: ParallelFixtures.tensor(file, "timestep"),
                                    encoderHiddenStates: context)
        let parallel = try await clipParallelForward(model: model, plan: ClipPlan(clipFrames: [18]),
                                                     config: VideoInfinityConfig(), sample: sample,
                                                     timestep: timestep, encoderHiddenStates: context)
        let backend = ParallelFixtures.backend
        #expect(try backend.download(parallel) == backend.download(plain))
        #expect(maxAbsDifference(try backend.download(plain), try file.floats("output")) <= 1e-4)
    }

    @Test("N clips with synced group norms equal one device running the same masked attention",
          arguments: [[6, 7, 5], [4, 4, 4, 6], [9, 9]])
    func equivalence(clipFrames: [Int]) async throws {
        let model = try ParallelFixtures.model()
        let file = try SafeTensorsFile(path: "\(ParallelFixtures.root)/parallel/synced-groupnorm.safetensors")
        let sample = try ParallelFixtures.tensor(file, "sample")
        let context = try ParallelFixtures.tensor(file, "encoder_hidden_states")
        for (localFrames, globalFrames, timestep) in [(2, 4, 500), (4, 18, 900), (2, 0, 900)] {
            var config = VideoInfinityConfig()
            config.localFrames = localFrames
            config.globalFrames = globalFrames
            config.syncGroupNorm = true
            let clips = try await clipParallelForward(model: model, plan: ClipPlan(clipFrames: clipFrames),
                                                      config: config, sample: sample, timestep: timestep,
                                                      encoderHiddenStates: context)
            let single = try await clipParallelForward(model: model, plan: ClipPlan(clipFrames: [18]), config: config,
                                                       sample: sample, timestep: timestep,
                                                       encoderHiddenStates: context, forced: true)
            let backend = ParallelFixtures.backend
            #expect(maxAbsDifference(try backend.download(clips), try backend.download(single)) <= 1e-5,
                    "p \(localFrames), top_k \(globalFrames), t \(timestep)")
        }
    }
}
