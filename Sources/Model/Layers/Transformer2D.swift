import Tensor

/// diffusers' `Transformer2DModel` as `UNet3DConditionModel` builds it (continuous input,
/// `use_linear_projection=True`, one block): spatial self-attention within each frame and
/// cross-attention to the prompt.
struct Transformer2D: Sendable {
    let norm: GroupNorm
    let projIn: Linear
    let block: BasicTransformerBlock
    let projOut: Linear

    init(_ loader: WeightLoader, channels: Int, headDim: Int, groups: Int, crossAttentionDim: Int) throws {
        let heads = channels / headDim
        let inner = heads * headDim
        norm = try GroupNorm(loader.scope("norm"), groups: groups, channels: channels, epsilon: 1e-6)
        projIn = try Linear(loader.scope("proj_in"), input: channels, output: inner)
        block = try BasicTransformerBlock(loader.scope("transformer_blocks.0"), dim: inner, heads: heads,
                                          headDim: headDim, crossAttentionDim: crossAttentionDim)
        projOut = try Linear(loader.scope("proj_out"), input: inner, output: channels)
    }

    /// `x [B*F, C, H, W]`, `context [B, T, E]` shared by the `frames` consecutive rows of each video.
    func callAsFunction(_ x: Tensor, context: Tensor, frames: Int, _ backend: any Backend) async throws -> Tensor {
        let (n, c, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var h = try norm(x, backend)
        h = try backend.permute(h, [0, 2, 3, 1]).reshaped([n, height * width, c])
        h = try projIn(h, backend)
        h = try await block(h, context: context, repeats: frames, backend) { attention, input, _ in
            try attention(input, backend)
        }
        h = try projOut(h, backend)
        h = try backend.permute(h.reshaped([n, height, width, c]), [0, 3, 1, 2])
        return try backend.add(h, x)
    }
}
