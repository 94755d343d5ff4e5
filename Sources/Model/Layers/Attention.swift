import Tensor

/// diffusers' `Attention` (no projection bias on q/k/v, biased `to_out.0`), computed as
/// `torch.nn.functional.scaled_dot_product_attention` does with scale `1/sqrt(head_dim)`.
struct Attention: Sendable {
    let heads: Int
    let headDim: Int
    let toQ: Linear
    let toK: Linear
    let toV: Linear
    let toOut: Linear

    /// `contextDim` is the width of the keys' source: the query width for self-attention.
    init(_ loader: WeightLoader, queryDim: Int, contextDim: Int, heads: Int, headDim: Int) throws {
        self.heads = heads
        self.headDim = headDim
        let inner = heads * headDim
        toQ = try Linear(loader.scope("to_q"), input: queryDim, output: inner, bias: false)
        toK = try Linear(loader.scope("to_k"), input: contextDim, output: inner, bias: false)
        toV = try Linear(loader.scope("to_v"), input: contextDim, output: inner, bias: false)
        toOut = try Linear(loader.scope("to_out.0"), input: inner, output: queryDim)
    }

    var scale: Float { 1 / Float(headDim).squareRoot() }

    /// Self-attention over `x [B, L, D]`, with an optional additive `bias [L, L]`.
    func callAsFunction(_ x: Tensor, _ backend: any Backend, bias: Tensor? = nil) throws -> Tensor {
        let out = try backend.attention(query: toQ(x, backend), key: toK(x, backend), value: toV(x, backend),
                                        heads: heads, scale: scale, bias: bias)
        return try toOut(out, backend)
    }

    /// Cross-attention from `x [B * repeats, L, D]` to `context [B, T, E]`, where every group of
    /// `repeats` consecutive query rows shares one context row (frames of one video share the
    /// prompt). Keys and values are projected once per context row, then repeated.
    func callAsFunction(_ x: Tensor, context: Tensor, repeats: Int, _ backend: any Backend) throws -> Tensor {
        var key = try toK(context, backend)
        var value = try toV(context, backend)
        if repeats > 1 {
            key = try backend.repeatInterleave(key, times: repeats, axis: 0)
            value = try backend.repeatInterleave(value, times: repeats, axis: 0)
        }
        let out = try backend.attention(query: toQ(x, backend), key: key, value: value,
                                        heads: heads, scale: scale, bias: nil)
        return try toOut(out, backend)
    }
}

/// diffusers' `FeedForward` with the default GEGLU activation and `mult = 4`.
struct FeedForward: Sendable {
    let projection: Linear
    let output: Linear

    init(_ loader: WeightLoader, dim: Int) throws {
        let inner = dim * 4
        projection = try Linear(loader.scope("net.0.proj"), input: dim, output: inner * 2)
        output = try Linear(loader.scope("net.2"), input: inner, output: dim)
    }

    func callAsFunction(_ x: Tensor, _ backend: any Backend) throws -> Tensor {
        try output(backend.linearGEGLU(x, weight: projection.weight, bias: projection.bias), backend)
    }
}

/// diffusers' `BasicTransformerBlock` with `norm_type="layer_norm"`: self-attention, a second
/// attention (cross-attention to the prompt, or a second self-attention when
/// `double_self_attention`), and a GEGLU feed-forward, each pre-normed and residual.
struct BasicTransformerBlock: Sendable {
    let norm1: LayerNorm
    let attn1: Attention
    let norm2: LayerNorm
    let attn2: Attention
    let norm3: LayerNorm
    let ff: FeedForward
    /// True when `attn2` attends to the prompt; false for a second self-attention.
    let crossAttends: Bool

    /// `crossAttentionDim == nil` makes `attn2` a second self-attention.
    init(_ loader: WeightLoader, dim: Int, heads: Int, headDim: Int, crossAttentionDim: Int?) throws {
        norm1 = try LayerNorm(loader.scope("norm1"), dim: dim)
        attn1 = try Attention(loader.scope("attn1"), queryDim: dim, contextDim: dim, heads: heads, headDim: headDim)
        norm2 = try LayerNorm(loader.scope("norm2"), dim: dim)
        attn2 = try Attention(loader.scope("attn2"), queryDim: dim, contextDim: crossAttentionDim ?? dim,
                              heads: heads, headDim: headDim)
        norm3 = try LayerNorm(loader.scope("norm3"), dim: dim)
        ff = try FeedForward(loader.scope("ff"), dim: dim)
        crossAttends = crossAttentionDim != nil
    }

    /// `x [B * repeats, L, dim]`; `context [B, T, E]` is required when the block cross-attends.
    /// `selfAttention(attention, input, index)` computes self-attention `index` (0 for `attn1`,
    /// 1 for a self-attending `attn2`): plain attention unless a caller substitutes a scheme that
    /// sees other clips' frames.
    func callAsFunction(_ x: Tensor, context: Tensor?, repeats: Int, _ backend: any Backend,
                        selfAttention: (Attention, Tensor, Int) async throws -> Tensor) async throws -> Tensor {
        var h = try backend.add(await selfAttention(attn1, norm1(x, backend), 0), x)
        let normed = try norm2(h, backend)
        if crossAttends {
            guard let context else { preconditionFailure("cross-attending transformer block needs a context") }
            h = try backend.add(attn2(normed, context: context, repeats: repeats, backend), h)
        } else {
            h = try backend.add(await selfAttention(attn2, normed, 1), h)
        }
        return try backend.add(ff(norm3(h, backend), backend), h)
    }
}
