/// The parameters of Video-Infinity's dual-scope attention and boundary exchange, with the
/// reference implementation's defaults.
public struct VideoInfinityConfig: Sendable, Equatable {
    /// Frames `p` of local context each clip's temporal attention takes from each neighbour
    /// (window `2p + 1` centred on the query).
    public var localFrames = 8
    /// Frames `top_k` of global context shared across all clips.
    public var globalFrames = 16
    /// Timestep at and above which the global bias applies (early, noisy steps); below it the
    /// local bias does.
    public var phaseTimestep = 800
    /// Added to the local columns of the attention logits in the late phase.
    public var localBias: Float = 10
    /// Added to the global columns of the attention logits in the early phase.
    public var globalBias: Float = 10
    /// Multiply the logit scale by `log(2p + 1 + G) / log(16)` (visible keys vs. a 16-frame clip).
    public var tokenCountScale = false
    /// Attend to the zero frames padding the video's ends and pad the temporal conv with zero
    /// frames there, as the reference implementation does (ours masks and omits them).
    public var referencePadding = false
    /// Sample global frames as the reference does (`top_k / N` from each clip's start) instead of
    /// evenly over the whole video.
    public var referenceGlobalSampling = false
    /// All-reduce the statistics of the group norms that span frames over all clips.
    public var syncGroupNorm = false

    /// Frames each temporal convolution takes from each neighbour: the receptive field of its
    /// four (3, 1, 1) convolutions.
    public static let convolutionContextFrames = 4

    /// The reference defaults.
    public init() {}

    /// Checks the parameters against a plan; throws naming the parameter.
    public func validate(for plan: ClipPlan) throws {
        guard localFrames >= 0 else { throw ParallelError("local frames must be >= 0, got \(localFrames)") }
        guard globalFrames >= 0 else { throw ParallelError("global frames must be >= 0, got \(globalFrames)") }
        guard localBias.isFinite, globalBias.isFinite else {
            throw ParallelError("local and global biases must be finite, got \(localBias) and \(globalBias)")
        }
        guard plan.count > 1 else { return }
        let shortest = plan.clipFrames.min()!
        guard localFrames <= shortest else {
            throw ParallelError("local frames (\(localFrames)) cannot exceed the shortest clip (\(shortest) frames)")
        }
        guard Self.convolutionContextFrames <= shortest else {
            throw ParallelError("clips need at least \(Self.convolutionContextFrames) frames (the temporal convolutions' context); the shortest has \(shortest)")
        }
    }
}
