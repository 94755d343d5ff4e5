// Protos/infinity/v1/job.proto as Swift values: what a generation job is.
// The protobuf-c structs appear only in the internal `WireConvertible` conformances.
import RPC
internal import Wire

/// The sampler driving the denoising loop.
///
/// `infinity.v1.SchedulerKind`; a value this build does not know decodes as `unspecified`.
public enum SchedulerKind: Int32, Sendable, Equatable {
    /// Not set: rejected with INVALID_ARGUMENT.
    case unspecified = 0
    /// diffusers DDIMScheduler (`--scheduler ddim`).
    case ddim = 1
    /// diffusers DPMSolverMultistepScheduler, solver order 2 (`--scheduler dpm++`).
    case dpmSolverMultistep = 2
}

extension SchedulerKind: WireEnum {}

/// Video-Infinity's dual-scope attention and boundary exchange (Parallel.VideoInfinityConfig).
/// Absent in a request: the reference defaults (8, 16, 800, 10, 10, all flags off). Present: every
/// field is taken as sent.
///
/// `infinity.v1.VideoInfinityParameters`.
public struct VideoInfinityParameters: RPCMessage, Hashable {
    /// Frames of local context from each neighbour (`--local-frames`, >= 0, <= shortest clip).
    public var localFrames: Int32
    /// Frames of global context shared by all clips (`--global-frames`, >= 0).
    public var globalFrames: Int32
    /// Timestep at and above which the global bias applies (`--phase-t`).
    public var phaseTimestep: Int32
    /// Added to the local attention logits in the late phase (`--local-bias`, finite).
    public var localBias: Float
    /// Added to the global attention logits in the early phase (`--global-bias`, finite).
    public var globalBias: Float
    /// `--token-count-scale`.
    public var tokenCountScale: Bool
    /// `--reference-padding`.
    public var referencePadding: Bool
    /// `--reference-global-sampling`.
    public var referenceGlobalSampling: Bool
    /// `--sync-groupnorm`: all-reduce the statistics of frame-spanning group norms.
    public var syncGroupNorm: Bool

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(localFrames: Int32 = 0,
                globalFrames: Int32 = 0,
                phaseTimestep: Int32 = 0,
                localBias: Float = 0,
                globalBias: Float = 0,
                tokenCountScale: Bool = false,
                referencePadding: Bool = false,
                referenceGlobalSampling: Bool = false,
                syncGroupNorm: Bool = false) {
        self.localFrames = localFrames
        self.globalFrames = globalFrames
        self.phaseTimestep = phaseTimestep
        self.localBias = localBias
        self.globalBias = globalBias
        self.tokenCountScale = tokenCountScale
        self.referencePadding = referencePadding
        self.referenceGlobalSampling = referenceGlobalSampling
        self.syncGroupNorm = syncGroupNorm
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension VideoInfinityParameters: WireConvertible {
    static let protoName = "infinity.v1.VideoInfinityParameters"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__VideoInfinityParameters>? {
        infinity__v1__video_infinity_parameters__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__VideoInfinityParameters>) {
        infinity__v1__video_infinity_parameters__init(message)
    }

    init(wire: Infinity__V1__VideoInfinityParameters) {
        self.init(
            localFrames: wire.local_frames,
            globalFrames: wire.global_frames,
            phaseTimestep: wire.phase_timestep,
            localBias: wire.local_bias,
            globalBias: wire.global_bias,
            tokenCountScale: wire.token_count_scale != 0,
            referencePadding: wire.reference_padding != 0,
            referenceGlobalSampling: wire.reference_global_sampling != 0,
            syncGroupNorm: wire.sync_group_norm != 0)
    }

    func fill(_ wire: inout Infinity__V1__VideoInfinityParameters, in arena: WireArena) {
        wire.local_frames = localFrames
        wire.global_frames = globalFrames
        wire.phase_timestep = phaseTimestep
        wire.local_bias = localBias
        wire.global_bias = globalBias
        wire.token_count_scale = tokenCountScale ? 1 : 0
        wire.reference_padding = referencePadding ? 1 : 0
        wire.reference_global_sampling = referenceGlobalSampling ? 1 : 0
        wire.sync_group_norm = syncGroupNorm ? 1 : 0
    }
}

/// Text-encoder outputs for classifier-free guidance (Parallel.PromptEmbeddings). The cluster
/// holds only the UNet: clients encode text themselves (or read a safetensors file, as
/// `infinity generate --embeddings` does).
///
/// `infinity.v1.PromptEmbeddings`.
public struct PromptEmbeddings: RPCMessage, Hashable {
    /// [P, T, E] float32: one [T, E] block per prompt. Clip c uses prompt c * P / clips.
    public var prompts: WireTensor?
    /// [T, E] float32: the negative (unconditional) prompt.
    public var negative: WireTensor?

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(prompts: WireTensor? = nil, negative: WireTensor? = nil) {
        self.prompts = prompts
        self.negative = negative
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension PromptEmbeddings: WireConvertible {
    static let protoName = "infinity.v1.PromptEmbeddings"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__PromptEmbeddings>? {
        infinity__v1__prompt_embeddings__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__PromptEmbeddings>) {
        infinity__v1__prompt_embeddings__init(message)
    }

    init(wire: Infinity__V1__PromptEmbeddings) throws(RPCError) {
        self.init(
            prompts: try WireRead.message(wire.prompts, as: WireTensor.self),
            negative: try WireRead.message(wire.negative, as: WireTensor.self))
    }

    func fill(_ wire: inout Infinity__V1__PromptEmbeddings, in arena: WireArena) {
        wire.prompts = arena.message(prompts)
        wire.negative = arena.message(negative)
    }
}

/// Everything that determines a job's result. Two jobs with equal parameters on workers holding
/// the same model (equal model_hash) produce bit-identical latents, however their clips are placed.
///
/// `infinity.v1.JobParameters`.
public struct JobParameters: RPCMessage, Hashable {
    /// The model the job needs: a worker's model name or its model_hash (hex). A job naming a model
    /// no registered worker holds is rejected with NOT_FOUND.
    public var model: String
    /// `embeddings` (field 2).
    public var embeddings: PromptEmbeddings?
    /// Total frames of the video (`--frames`, >= 1).
    public var frames: Int32
    /// Largest clip, in frames (`--clip-frames`, 1..frames): the plan cuts `frames` into
    /// ceil(frames / clip_frames) clips of near-equal length (Parallel.ClipPlan).
    public var clipFrames: Int32
    /// Latent height and width (`--height`, `--width`, 1..4096).
    public var height: Int32
    /// `width` (field 6).
    public var width: Int32
    /// Denoising steps (`--steps`, 1..1000).
    public var steps: Int32
    /// Classifier-free guidance scale (`--guidance`, 0..100).
    public var guidance: Float
    /// Base seed: clip c draws its noise from Parallel.ClipPlan.seed(ofClip: c, base: seed).
    public var seed: UInt64
    /// `scheduler` (field 10).
    public var scheduler: SchedulerKind
    /// Frame rate conditioning for models that take it (`--fps`, 0..1000).
    public var fps: Float
    /// Absent: the reference defaults.
    public var videoInfinity: VideoInfinityParameters?

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(model: String = "",
                embeddings: PromptEmbeddings? = nil,
                frames: Int32 = 0,
                clipFrames: Int32 = 0,
                height: Int32 = 0,
                width: Int32 = 0,
                steps: Int32 = 0,
                guidance: Float = 0,
                seed: UInt64 = 0,
                scheduler: SchedulerKind = .unspecified,
                fps: Float = 0,
                videoInfinity: VideoInfinityParameters? = nil) {
        self.model = model
        self.embeddings = embeddings
        self.frames = frames
        self.clipFrames = clipFrames
        self.height = height
        self.width = width
        self.steps = steps
        self.guidance = guidance
        self.seed = seed
        self.scheduler = scheduler
        self.fps = fps
        self.videoInfinity = videoInfinity
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension JobParameters: WireConvertible {
    static let protoName = "infinity.v1.JobParameters"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__JobParameters>? {
        infinity__v1__job_parameters__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__JobParameters>) {
        infinity__v1__job_parameters__init(message)
    }

    init(wire: Infinity__V1__JobParameters) throws(RPCError) {
        self.init(
            model: WireRead.string(wire.model),
            embeddings: try WireRead.message(wire.embeddings, as: PromptEmbeddings.self),
            frames: wire.frames,
            clipFrames: wire.clip_frames,
            height: wire.height,
            width: wire.width,
            steps: wire.steps,
            guidance: wire.guidance,
            seed: wire.seed,
            scheduler: SchedulerKind(wireValue: wire.scheduler.rawValue),
            fps: wire.fps,
            videoInfinity: try WireRead.message(wire.video_infinity, as: VideoInfinityParameters.self))
    }

    func fill(_ wire: inout Infinity__V1__JobParameters, in arena: WireArena) {
        wire.model = arena.string(model)
        wire.embeddings = arena.message(embeddings)
        wire.frames = frames
        wire.clip_frames = clipFrames
        wire.height = height
        wire.width = width
        wire.steps = steps
        wire.guidance = guidance
        wire.seed = seed
        wire.scheduler = Infinity__V1__SchedulerKind(rawValue: scheduler.wireValue)
        wire.fps = fps
        wire.video_infinity = arena.message(videoInfinity)
    }
}
