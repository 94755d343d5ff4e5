import Tensor

/// diffusers' `TransformerTemporalModel` (one block, `double_self_attention=True`): attention
/// along the frame axis at every spatial position.
struct TransformerTemporal: Sendable {
    let norm: GroupNorm
    let projIn: Linear
    let block: BasicTransformerBlock
    let projOut: Linear

    init(_ loader: WeightLoader, channels: Int, heads: Int, headDim: Int, groups: Int) throws {
        let inner = heads * headDim
        norm = try GroupNorm(loader.scope("norm"), groups: groups, channels: channels, epsilon: 1e-6)
        projIn = try Linear(loader.scope("proj_in"), input: channels, output: inner)
        block = try BasicTransformerBlock(loader.scope("transformer_blocks.0"), dim: inner, heads: heads,
                                          headDim: headDim, crossAttentionDim: nil)
        projOut = try Linear(loader.scope("proj_out"), input: inner, output: channels)
    }

    /// `x [B*F, C, H, W]` with `frames` consecutive rows per video.
    func callAsFunction(_ x: Tensor, frames: Int, _ backend: any Backend) throws -> Tensor {
        let (c, height, width) = (x.shape[1], x.shape[2], x.shape[3])
        let batch = x.shape[0] / frames
        var h = try backend.permute(x.reshaped([batch, frames, c, height, width]), [0, 2, 1, 3, 4])
        h = try norm(h, backend)  // statistics over the group's channels, frames and pixels
        h = try backend.permute(h, [0, 3, 4, 2, 1]).reshaped([batch * height * width, frames, c])
        h = try projIn(h, backend)
        h = try block(h, context: nil, repeats: 1, backend) { attention, input in
            try attention(input, backend)
        }
        h = try projOut(h, backend)
        h = try backend.permute(h.reshaped([batch, height, width, frames, c]), [0, 3, 4, 1, 2])
        return try backend.add(h.reshaped(x.shape), x)
    }
}

/// diffusers' `TemporalConvLayer`: four (GroupNorm, SiLU, Conv3d (3,1,1)) stages along frames,
/// added to the input.
struct TemporalConvLayer: Sendable {
    let norms: [GroupNorm]
    let convs: [TemporalConv3d]

    init(_ loader: WeightLoader, channels: Int, groups: Int) throws {
        var norms: [GroupNorm] = []
        var convs: [TemporalConv3d] = []
        // conv1 is Sequential(GroupNorm, SiLU, Conv3d); conv2..4 have a Dropout before the Conv3d.
        for (stage, convIndex) in [(1, 2), (2, 3), (3, 3), (4, 3)] {
            let scope = loader.scope("conv\(stage)")
            norms.append(try GroupNorm(scope.scope("0"), groups: groups, channels: channels, epsilon: 1e-5))
            convs.append(try TemporalConv3d(scope.scope("\(convIndex)"), input: channels, output: channels))
        }
        self.norms = norms
        self.convs = convs
    }

    /// `x [B*F, C, H, W]` with `frames` consecutive rows per video.
    func callAsFunction(_ x: Tensor, frames: Int, _ backend: any Backend) throws -> Tensor {
        let (c, height, width) = (x.shape[1], x.shape[2], x.shape[3])
        let batch = x.shape[0] / frames
        let identity = try backend.permute(x.reshaped([batch, frames, c, height, width]), [0, 2, 1, 3, 4])
        var h = identity
        for (norm, conv) in zip(norms, convs) {
            h = try conv(backend.activation(norm(h, backend), .silu), backend)
        }
        h = try backend.add(h, identity)
        return try backend.permute(h, [0, 2, 1, 3, 4]).reshaped(x.shape)
    }
}
