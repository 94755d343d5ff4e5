import Parallel
import RPC

/// A job's parameters, checked field by field: what the coordinator accepts and what every
/// worker of the job runs. Built from ``JobParameters`` (``init(_:)`` throws INVALID_ARGUMENT
/// naming the field) and back (``parameters``), so client, coordinator and workers share one
/// reading of the wire.
public struct JobSpec: Sendable, Equatable {
    /// The model name or hash the job asks for.
    public var model: String
    /// Prompt embeddings (`prompts [P, T, E]`, `negative [T, E]`).
    public var embeddings: Parallel.PromptEmbeddings
    /// The clips.
    public var plan: ClipPlan
    /// Latent height and width.
    public var height: Int
    public var width: Int
    /// Denoising steps.
    public var steps: Int
    /// Classifier-free guidance scale.
    public var guidance: Float
    /// Base seed.
    public var seed: UInt64
    /// The sampler.
    public var scheduler: SchedulerKind
    /// fps conditioning.
    public var fps: Float
    /// Video-Infinity parameters.
    public var videoInfinity: VideoInfinityConfig

    /// Largest latent a job may ask for, in float32 elements per channel (frames x height x
    /// width): 2^28, a 1 GiB latent per channel.
    public static let maxLatentElements = 1 << 28

    /// Reads and checks `parameters`.
    public init(_ parameters: JobParameters) throws(RPCError) {
        func invalid(_ message: String) -> RPCError { RPCError(code: .invalidArgument, message: message) }
        model = parameters.model
        guard !model.isEmpty else { throw invalid("model: empty; name the model (a worker's model name or hash)") }
        guard (1 ... 1_000_000).contains(parameters.frames) else {
            throw invalid("frames: must be in 1...1000000, got \(parameters.frames)")
        }
        guard (1 ... parameters.frames).contains(parameters.clipFrames) else {
            throw invalid("clip_frames: must be in 1...frames (\(parameters.frames)), got \(parameters.clipFrames)")
        }
        guard (1 ... 4096).contains(parameters.height) else { throw invalid("height: must be in 1...4096, got \(parameters.height)") }
        guard (1 ... 4096).contains(parameters.width) else { throw invalid("width: must be in 1...4096, got \(parameters.width)") }
        let elements = Int(parameters.frames) * Int(parameters.height) * Int(parameters.width)
        guard elements <= Self.maxLatentElements else {
            throw invalid("frames x height x width = \(parameters.frames) x \(parameters.height) x \(parameters.width) = "
                + "\(elements) latent elements per channel exceeds the limit of \(Self.maxLatentElements)")
        }
        guard (1 ... 1000).contains(parameters.steps) else { throw invalid("steps: must be in 1...1000, got \(parameters.steps)") }
        guard parameters.guidance.isFinite, (0 ... 100).contains(parameters.guidance) else {
            throw invalid("guidance: must be in 0...100, got \(parameters.guidance)")
        }
        guard parameters.fps.isFinite, (0 ... 1000).contains(parameters.fps) else {
            throw invalid("fps: must be in 0...1000, got \(parameters.fps)")
        }
        guard parameters.scheduler != .unspecified else { throw invalid("scheduler: not set (DDIM or DPM_SOLVER_MULTISTEP)") }
        guard let wireEmbeddings = parameters.embeddings else { throw invalid("embeddings: missing") }
        guard let prompts = wireEmbeddings.prompts else { throw invalid("embeddings.prompts: missing") }
        guard let negative = wireEmbeddings.negative else { throw invalid("embeddings.negative: missing") }
        do {
            embeddings = try Parallel.PromptEmbeddings(prompts: try prompts.hostTensor(field: "embeddings.prompts"),
                                                       negative: try negative.hostTensor(field: "embeddings.negative"))
        } catch let error as RPCError {
            throw error
        } catch {
            throw invalid("embeddings: \(error)")
        }
        guard embeddings.prompts.shape.allSatisfy({ $0 >= 1 }) else {
            throw invalid("embeddings.prompts: every extent must be >= 1, got \(embeddings.prompts.shape)")
        }
        do {
            plan = try ClipPlan(totalFrames: Int(parameters.frames), maxClipFrames: Int(parameters.clipFrames))
        } catch {
            throw invalid("clip_frames: \(error)")
        }
        var config = VideoInfinityConfig()
        if let given = parameters.videoInfinity {
            guard given.localFrames >= 0, given.globalFrames >= 0, given.phaseTimestep >= 0 else {
                throw invalid("video_infinity: local_frames, global_frames and phase_timestep must be >= 0, got "
                    + "\(given.localFrames), \(given.globalFrames), \(given.phaseTimestep)")
            }
            guard given.localBias.isFinite, given.globalBias.isFinite else {
                throw invalid("video_infinity: local_bias and global_bias must be finite")
            }
            config.localFrames = Int(given.localFrames)
            config.globalFrames = Int(given.globalFrames)
            config.phaseTimestep = Int(given.phaseTimestep)
            config.localBias = given.localBias
            config.globalBias = given.globalBias
            config.tokenCountScale = given.tokenCountScale
            config.referencePadding = given.referencePadding
            config.referenceGlobalSampling = given.referenceGlobalSampling
            config.syncGroupNorm = given.syncGroupNorm
        }
        do {
            try config.validate(for: plan)
        } catch {
            throw invalid("video_infinity: \(error)")
        }
        videoInfinity = config
        height = Int(parameters.height)
        width = Int(parameters.width)
        steps = Int(parameters.steps)
        guidance = parameters.guidance
        seed = parameters.seed
        scheduler = parameters.scheduler
        fps = parameters.fps
    }

    /// The wire form (Video-Infinity parameters always sent explicitly).
    public var parameters: JobParameters {
        let config = videoInfinity
        return JobParameters(
            model: model,
            embeddings: PromptEmbeddings(prompts: WireTensor(embeddings.prompts), negative: WireTensor(embeddings.negative)),
            frames: Int32(plan.totalFrames), clipFrames: Int32(plan.clipFrames.max() ?? 1),
            height: Int32(height), width: Int32(width), steps: Int32(steps), guidance: guidance, seed: seed,
            scheduler: scheduler, fps: fps,
            videoInfinity: VideoInfinityParameters(
                localFrames: Int32(config.localFrames), globalFrames: Int32(config.globalFrames),
                phaseTimestep: Int32(config.phaseTimestep), localBias: config.localBias, globalBias: config.globalBias,
                tokenCountScale: config.tokenCountScale, referencePadding: config.referencePadding,
                referenceGlobalSampling: config.referenceGlobalSampling, syncGroupNorm: config.syncGroupNorm))
    }
}
