import ClusterWire
import Parallel
import RPC

/// What to generate: the parameters of one job, in the units of `infinity generate`.
///
/// ``InfinityClient/submit(_:label:checkpointInterval:)`` checks the request with the
/// coordinator's own rules (``JobSpec``) before anything is sent, so a bad request fails at once
/// with the same `invalidArgument` error, naming the field and its allowed range, that the
/// coordinator would answer.
public struct GenerationRequest: Sendable, Equatable {
    /// The model the workers hold: a worker's model name (its folder's name) or the model's
    /// SHA-256 hash (lowercase hex).
    public var model: String
    /// Prompt embeddings: `prompts [P, T, E]` (clip `c` of `n` uses prompt `c * P / n`) and
    /// `negative [T, E]`. The cluster holds only the UNet: text is encoded by the client.
    public var embeddings: Parallel.PromptEmbeddings
    /// Frames of the video, 1...1,000,000.
    public var frames: Int
    /// The largest clip, in frames, 1...``frames``: the coordinator cuts the video into
    /// `ceil(frames / clipFrames)` clips of near-equal length (``ClipPlan``).
    public var clipFrames: Int
    /// Latent height, 1...4096.
    public var height: Int
    /// Latent width, 1...4096.
    public var width: Int
    /// Denoising steps, 1...1000.
    public var steps: Int
    /// Classifier-free guidance scale, 0...100.
    public var guidance: Float
    /// The base seed; clip `c` draws its noise from `ClipPlan.seed(ofClip: c, base: seed)`.
    public var seed: UInt64
    /// The sampler (`ddim` or `dpmSolverMultistep`).
    public var scheduler: SchedulerKind
    /// The frame rate the model is conditioned on, 0...1000.
    public var fps: Float
    /// Video-Infinity's dual-scope attention and boundary exchange.
    public var videoInfinity: VideoInfinityConfig

    /// A request; the defaults are those of `infinity generate` (one clip of all frames, 30 DDIM
    /// steps, guidance 7.5, seed 0, 24 fps, the reference Video-Infinity parameters).
    public init(model: String, embeddings: Parallel.PromptEmbeddings, frames: Int, clipFrames: Int? = nil,
                height: Int, width: Int, steps: Int = 30, guidance: Float = 7.5, seed: UInt64 = 0,
                scheduler: SchedulerKind = .ddim, fps: Float = 24, videoInfinity: VideoInfinityConfig = VideoInfinityConfig()) {
        self.model = model
        self.embeddings = embeddings
        self.frames = frames
        self.clipFrames = clipFrames ?? frames
        self.height = height
        self.width = width
        self.steps = steps
        self.guidance = guidance
        self.seed = seed
        self.scheduler = scheduler
        self.fps = fps
        self.videoInfinity = videoInfinity
    }

    /// The request checked as the coordinator checks it; throws `invalidArgument` naming the
    /// first bad field and its allowed range.
    public func validated() throws(RPCError) -> JobSpec {
        let config = videoInfinity
        let parameters = JobParameters(
            model: model,
            embeddings: ClusterWire.PromptEmbeddings(prompts: WireTensor(embeddings.prompts),
                                                     negative: WireTensor(embeddings.negative)),
            frames: try Self.int32(frames, field: "frames"), clipFrames: try Self.int32(clipFrames, field: "clip_frames"),
            height: try Self.int32(height, field: "height"), width: try Self.int32(width, field: "width"),
            steps: try Self.int32(steps, field: "steps"), guidance: guidance, seed: seed, scheduler: scheduler, fps: fps,
            videoInfinity: VideoInfinityParameters(
                localFrames: try Self.int32(config.localFrames, field: "video_infinity.local_frames"),
                globalFrames: try Self.int32(config.globalFrames, field: "video_infinity.global_frames"),
                phaseTimestep: try Self.int32(config.phaseTimestep, field: "video_infinity.phase_timestep"),
                localBias: config.localBias, globalBias: config.globalBias, tokenCountScale: config.tokenCountScale,
                referencePadding: config.referencePadding, referenceGlobalSampling: config.referenceGlobalSampling,
                syncGroupNorm: config.syncGroupNorm))
        return try JobSpec(parameters)
    }

    /// `value` as the wire's int32; a value that does not fit is reported as it was given
    /// (clamping it would make the range error quote a number the caller never wrote).
    private static func int32(_ value: Int, field: String) throws(RPCError) -> Int32 {
        guard let narrow = Int32(exactly: value) else {
            throw RPCError(code: .invalidArgument, message: "\(field): \(value) is out of range (it does not fit in int32)")
        }
        return narrow
    }
}
