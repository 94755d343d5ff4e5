import Tensor

/// How a UNet forward's temporal modules see frames beyond the ones it holds.
///
/// The UNet calls its context at each of the three kinds of module whose computation spans
/// frames: temporal attention, temporal convolution, and the group norms whose statistics span
/// frames. Each call hands over the module's input and the pieces of its computation, so a
/// context can exchange frames with the other clips of a video (Video-Infinity's clip
/// parallelism) without reaching into the model's weights. ``PlainTemporalContext`` computes
/// exactly what diffusers does on one device.
///
/// Sites are numbered in forward order, separately per kind, and are the same in every
/// forward of a model, so clips running the same model agree on them.
public protocol TemporalContext: Sendable {
    /// Temporal self-attention: returns the attention output before `to_out`, `[R, F, heads*d]`.
    func temporalAttention(_ call: TemporalAttentionCall) async throws -> Tensor
    /// A `TemporalConvLayer`: returns the layer output `[B, C, F, H, W]`.
    func temporalConvolution(_ call: TemporalConvolutionCall) async throws -> Tensor
    /// A group norm whose statistics span frames: returns the normalised tensor (activated,
    /// when the call has an activation; see ``GroupNormCall/normalize()``).
    func groupNorm(_ call: GroupNormCall) async throws -> Tensor
}

/// The single-device behaviour: every module sees exactly the frames it is given.
public struct PlainTemporalContext: TemporalContext {
    /// The plain context.
    public init() {}

    public func temporalAttention(_ call: TemporalAttentionCall) async throws -> Tensor {
        let (key, value) = try call.keysAndValues(call.input)
        return try call.backend.attention(query: call.query(call.input), key: key, value: value,
                                          heads: call.heads, scale: call.scale, bias: nil)
    }

    public func temporalConvolution(_ call: TemporalConvolutionCall) async throws -> Tensor {
        try await call.output(padded: call.input, ownFrames: 0 ..< call.frames, context: self)
    }

    public func groupNorm(_ call: GroupNormCall) async throws -> Tensor {
        try call.normalize()
    }
}

/// One temporal self-attention (`attn1` or `attn2` of a `TransformerTemporalModel` block).
public struct TemporalAttentionCall: Sendable {
    /// Index of this attention among the forward's temporal attentions.
    public let site: Int
    /// The block's normed hidden states, `[R, F, D]` with `R = B*H*W` rows in `(b, h, w)` order.
    public let input: Tensor
    /// Number of heads.
    public let heads: Int
    /// Size of each head.
    public let headDim: Int
    /// The backend the model runs on.
    public let backend: any Backend
    let attention: Attention

    /// The default logit scale, `1/sqrt(headDim)`.
    public var scale: Float { attention.scale }

    /// `to_q(x)` for frames `x [R, F', D]`.
    public func query(_ x: Tensor) throws -> Tensor {
        try attention.toQ(x, backend)
    }

    /// `(to_k(x), to_v(x))` for frames `x [R, F', D]` (no bias: zero frames give zero keys).
    public func keysAndValues(_ x: Tensor) throws -> (key: Tensor, value: Tensor) {
        (try attention.toK(x, backend), try attention.toV(x, backend))
    }
}

/// One `TemporalConvLayer`: four (GroupNorm, SiLU, Conv3d (3,1,1) padding 1) stages and a residual.
public struct TemporalConvolutionCall: Sendable {
    /// Index of this layer among the forward's temporal convolutions.
    public let site: Int
    /// The layer input `h`, `[B, C, F, H, W]`.
    public let input: Tensor
    /// The backend the model runs on.
    public let backend: any Backend
    let layer: TemporalConvLayer
    /// Group-norm site of the first stage; stage `k` uses `normSite + k`.
    let normSite: Int

    /// Frames of the input.
    public var frames: Int { input.shape[2] }

    /// Runs the four stages on `padded` (the input with context frames around it) and returns
    /// `input + result[ownFrames]`. The stages' group norms go through `context`, which learns
    /// which frames are the clip's own through `ownFrames`.
    public func output(padded: Tensor, ownFrames: Range<Int>, context: any TemporalContext) async throws -> Tensor {
        precondition(ownFrames.count == frames, "ownFrames \(ownFrames) must cover the input's \(frames) frames")
        var h = padded
        for (stage, (norm, conv)) in zip(layer.norms, layer.convs).enumerated() {
            let activated = try await context.groupNorm(GroupNormCall(site: normSite + stage, input: h,
                                                                      ownFrames: ownFrames, norm: norm,
                                                                      activation: .silu, backend: backend))
            h = try conv(activated, backend)
        }
        if ownFrames.count != h.shape[2] {
            h = try backend.slice(h, axis: 2, start: ownFrames.lowerBound, length: ownFrames.count)
        }
        return try backend.add(h, input)
    }
}

/// One group norm over `[B, C, F, H, W]` whose statistics span frames.
public struct GroupNormCall: Sendable {
    /// Index of this norm among the forward's frame-spanning group norms.
    public let site: Int
    /// The tensor to normalise, `[B, C, F', H, W]` (for a temporal conv stage: the padded clip).
    public let input: Tensor
    /// The frames of `input` that belong to the clip (the others are context from neighbours).
    public let ownFrames: Range<Int>
    let norm: GroupNorm
    /// The activation applied to the normalised tensor (a temporal conv stage's SiLU), or nil.
    public let activation: Activation?
    /// The backend the model runs on.
    public let backend: any Backend

    init(site: Int, input: Tensor, ownFrames: Range<Int>, norm: GroupNorm, activation: Activation? = nil,
         backend: any Backend) {
        (self.site, self.input, self.ownFrames, self.norm) = (site, input, ownFrames, norm)
        (self.activation, self.backend) = (activation, backend)
    }

    /// Number of groups.
    public var groups: Int { norm.groups }

    /// Normalises with statistics over the whole `input`, as `torch.nn.GroupNorm` does, then
    /// applies ``activation`` in the same pass.
    public func normalize() throws -> Tensor {
        guard let activation else { return try norm(input, backend) }
        return try norm(input, backend, then: activation)
    }

    /// Per (batch row, group) sums of the clip's own frames: `sum`, `sumOfSquares` (both
    /// `[B * groups]`, in float64) and the element count behind each.
    public func ownFrameSums() throws -> GroupSums {
        let own = ownFrames.count == input.shape[2] ? input
            : try backend.slice(input, axis: 2, start: ownFrames.lowerBound, length: ownFrames.count)
        return try backend.groupSums(own, groups: groups)
    }

    /// Normalises every frame of `input` with the given per (batch row, group) statistics, then
    /// applies the norm's affine parameters and ``activation``.
    public func normalize(mean: [Float], variance: [Float]) throws -> Tensor {
        let normed = try backend.groupNorm(input, groups: groups, mean: mean, variance: variance,
                                           weight: norm.weight, bias: norm.bias, epsilon: norm.epsilon)
        guard let activation else { return normed }
        return try backend.activation(normed, activation)
    }
}
