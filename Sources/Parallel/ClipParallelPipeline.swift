import Model
import Tensor

/// Prompt embeddings on the host, for workers to upload to their own backends.
public struct PromptEmbeddings: Sendable, Equatable {
    /// Prompt embeddings, one `[T, E]` row block per prompt: `[P, T, E]`.
    public var prompts: HostTensor
    /// Negative-prompt embeddings `[T, E]`.
    public var negative: HostTensor

    /// Checks and wraps embeddings: `prompts [P, T, E]`, `negative [T, E]`.
    public init(prompts: HostTensor, negative: HostTensor) throws {
        guard prompts.shape.count == 3, prompts.shape[0] >= 1 else {
            throw ParallelError("prompt embeddings must be [prompts, tokens, width], got \(prompts.shape)")
        }
        guard negative.shape == Array(prompts.shape.dropFirst()) else {
            throw ParallelError("negative-prompt embeddings must be \(Array(prompts.shape.dropFirst())), got \(negative.shape)")
        }
        self.prompts = prompts
        self.negative = negative
    }

    /// Number of prompts.
    public var count: Int { prompts.shape[0] }

    /// Prompt `index` and the negative prompt, uploaded as a ``Conditioning`` (`[1, T, E]` each).
    public func conditioning(prompt index: Int, fps: Float?, on backend: any Backend) throws -> Conditioning {
        let rows = prompts.shape[1] * prompts.shape[2]
        let prompt = Array(prompts.values[index * rows ..< (index + 1) * rows])
        let shape = [1] + negative.shape
        return Conditioning(prompt: try backend.upload(prompt, shape: shape),
                            negativePrompt: try backend.upload(negative.values, shape: shape), fps: fps)
    }
}

/// Progress of a clip-parallel generation: `step` of `steps` finished for all clips.
public struct GenerationProgress: Sendable, Equatable {
    /// Steps finished.
    public var step: Int
    /// Steps in all.
    public var steps: Int
    /// Clips denoised in lock-step.
    public var clips: Int
}

/// Video-Infinity's sampler: all clips of a video denoised in lock-step, step by step, each
/// clip as its own task on the worker it is placed on, exchanging context through a
/// ``ContextExchange`` at every temporal module.
///
/// Clip `i`'s initial noise is `torch.randn([1, C, F_i, H, W])` from seed `seed + i`, so a
/// one-clip run reproduces diffusers' pipeline; each clip keeps its own scheduler state and
/// noise generator, so memory per clip is bounded by its own frames.
public struct ClipParallelPipeline: Sendable {
    /// The models, one per worker (each on its worker's backend, same weights).
    public let workers: [UNet3DConditionModel]
    /// The clips.
    public let plan: ClipPlan
    /// The worker of each clip.
    public let placement: [Int]
    /// Dual-scope parameters.
    public let config: VideoInfinityConfig
    /// Classifier-free guidance scale.
    public let guidance: Float

    /// A pipeline running `plan`'s clips on `workers` as `placement` says (default: contiguous
    /// runs of clips, balanced by frames).
    public init(workers: [UNet3DConditionModel], plan: ClipPlan, placement: [Int]? = nil,
                config: VideoInfinityConfig = VideoInfinityConfig(), guidance: Float) throws {
        guard !workers.isEmpty else { throw ParallelError("a clip-parallel pipeline needs at least one worker") }
        let placement = placement ?? plan.placement(workers: workers.count)
        guard placement.count == plan.count, placement.allSatisfy({ (0 ..< workers.count).contains($0) }) else {
            throw ParallelError("placement \(placement) must name a worker in 0..<\(workers.count) for each of \(plan.count) clips")
        }
        guard workers.allSatisfy({ $0.config == workers[0].config }) else { throw ParallelError("workers hold models of different architectures") }
        try config.validate(for: plan)
        self.workers = workers
        self.plan = plan
        self.placement = placement
        self.config = config
        self.guidance = guidance
    }

    /// Denoises the video and returns its latents `[C, F_total, H, W]` (flat, row-major).
    ///
    /// `height` and `width` are latent sizes. `exchange` defaults to an in-process exchange;
    /// `progress` is called after each lock-step step.
    public func generate(embeddings: PromptEmbeddings, height: Int, width: Int, seed: UInt64,
                         scheduler: any Scheduler, fps: Float? = nil, exchange: (any ContextExchange)? = nil,
                         progress: @Sendable (GenerationProgress) -> Void = { _ in }) async throws -> [Float] {
        let exchange = exchange ?? InProcessExchange(clipCount: plan.count)
        guard exchange.clipCount == plan.count else {
            throw ParallelError("the exchange serves \(exchange.clipCount) clips, the plan has \(plan.count)")
        }
        let channels = workers[0].config.inChannels
        var clips: [ClipState] = try (0 ..< plan.count).map { clip in
            let model = workers[placement[clip]]
            let shape = [1, channels, plan.clipFrames[clip], height, width]
            let conditioning = try embeddings.conditioning(prompt: plan.prompt(ofClip: clip, prompts: embeddings.count),
                                                           fps: model.config.fpsConditioning ? (fps ?? 24) : nil,
                                                           on: model.backend)
            return ClipState(denoising: try DenoisingState(shape: shape, seed: plan.seed(ofClip: clip, base: seed),
                                                           scheduler: scheduler),
                             conditioning: conditioning)
        }

        let timesteps = scheduler.timesteps
        for (step, timestep) in timesteps.enumerated() {
            clips = try await withThrowingTaskGroup(of: (Int, ClipState).self) { group in
                for (index, state) in clips.enumerated() {
                    let denoiser = GuidedDenoiser(model: workers[placement[index]], guidance: guidance)
                    let context = DualScopeContext(clip: index, plan: plan, config: config, exchange: exchange,
                                                   forward: step, timestep: timestep)
                    group.addTask {
                        do {
                            return (index, try await state.stepped(denoiser: denoiser, timestep: timestep, context: context))
                        } catch {
                            // Peers waiting for this clip's context must fail too, not hang.
                            await exchange.abort(ClipFailure(clip: index, step: step, underlying: error))
                            throw error
                        }
                    }
                }
                var next = clips
                // A failing clip aborts the exchange, so its peers fail too, with a ClipFailure
                // that names it: report the failing clip's own error, whichever ends first.
                var peerFailure: (any Error)?
                while let result = await group.nextResult() {
                    switch result {
                    case .success(let (index, state)):
                        next[index] = state
                    case .failure(let error as ClipFailure):
                        peerFailure = peerFailure ?? error
                    case .failure(let error):
                        group.cancelAll()
                        throw error
                    }
                }
                if let peerFailure { throw peerFailure }
                return next
            }
            progress(GenerationProgress(step: step + 1, steps: timesteps.count, clips: plan.count))
        }

        return plan.assemble(clips.map(\.latents), channels: channels, plane: height * width)
    }
}

/// One clip's denoising state between steps, with its prompt.
struct ClipState: Sendable {
    var denoising: DenoisingState
    let conditioning: Conditioning

    /// The state after one guided step at `timestep`.
    func stepped(denoiser: GuidedDenoiser, timestep: Int, context: DualScopeContext) async throws -> ClipState {
        var next = self
        try await next.denoising.step(denoiser: denoiser, timestep: timestep, conditioning: conditioning,
                                      temporal: context)
        return next
    }

    var latents: [Float] { denoising.latents }
}

/// The error peers of a failed clip see.
public struct ClipFailure: Error, Sendable, CustomStringConvertible {
    /// The clip that failed.
    public let clip: Int
    /// The step it failed in (0-based).
    public let step: Int
    /// Why it failed.
    public let underlying: any Error

    /// Names `clip`'s failure at `step` (0-based).
    public init(clip: Int, step: Int, underlying: any Error) {
        self.clip = clip
        self.step = step
        self.underlying = underlying
    }

    public var description: String { "clip \(clip) failed at step \(step + 1): \(underlying)" }
}
