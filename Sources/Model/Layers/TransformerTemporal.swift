import Tensor

/// Hands out site numbers to the temporal modules in forward order while a model is built.
final class TemporalSites {
    private(set) var attention = 0
    private(set) var convolution = 0
    private(set) var groupNorm = 0

    /// The first of `count` consecutive temporal-attention sites.
    func nextAttention(_ count: Int = 1) -> Int { defer { attention += count }; return attention }
    /// The next temporal-convolution site.
    func nextConvolution() -> Int { defer { convolution += 1 }; return convolution }
    /// The first of `count` consecutive frame-spanning group-norm sites.
    func nextGroupNorm(_ count: Int = 1) -> Int { defer { groupNorm += count }; return groupNorm }
}

/// diffusers' `TransformerTemporalModel` (one block, `double_self_attention=True`): attention
/// along the frame axis at every spatial position.
struct TransformerTemporal: Sendable {
    let norm: GroupNorm
    let projIn: Linear
    let block: BasicTransformerBlock
    let projOut: Linear
    /// Site of `norm` among the frame-spanning group norms.
    let normSite: Int
    /// Site of `attn1` among the temporal attentions; `attn2` is the next.
    let attentionSite: Int

    init(_ loader: WeightLoader, channels: Int, heads: Int, headDim: Int, groups: Int, sites: TemporalSites) throws {
        let inner = heads * headDim
        norm = try GroupNorm(loader.scope("norm"), groups: groups, channels: channels, epsilon: 1e-6)
        projIn = try Linear(loader.scope("proj_in"), input: channels, output: inner)
        block = try BasicTransformerBlock(loader.scope("transformer_blocks.0"), dim: inner, heads: heads,
                                          headDim: headDim, crossAttentionDim: nil)
        projOut = try Linear(loader.scope("proj_out"), input: inner, output: channels)
        normSite = sites.nextGroupNorm()
        attentionSite = sites.nextAttention(2)
    }

    /// `x [B*F, C, H, W]` with `frames` consecutive rows per video.
    func callAsFunction(_ x: Tensor, frames: Int, _ backend: any Backend, _ context: any TemporalContext) async throws -> Tensor {
        let (c, height, width) = (x.shape[1], x.shape[2], x.shape[3])
        let batch = x.shape[0] / frames
        var h = try backend.permute(x.reshaped([batch, frames, c, height, width]), [0, 2, 1, 3, 4])
        // Statistics over the group's channels, frames and pixels.
        h = try await context.groupNorm(GroupNormCall(site: normSite, input: h, ownFrames: 0 ..< frames, norm: norm,
                                                      backend: backend))
        h = try backend.permute(h, [0, 3, 4, 2, 1]).reshaped([batch * height * width, frames, c])
        h = try projIn(h, backend)
        h = try await block(h, context: nil, repeats: 1, backend) { attention, input, index in
            let call = TemporalAttentionCall(site: attentionSite + index, input: input, heads: attention.heads,
                                             headDim: attention.headDim, backend: backend, attention: attention)
            return try attention.toOut(await context.temporalAttention(call), backend)
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
    /// Site of this layer among the temporal convolutions.
    let site: Int
    /// Site of the first stage's norm among the frame-spanning group norms (four consecutive).
    let normSite: Int

    init(_ loader: WeightLoader, channels: Int, groups: Int, sites: TemporalSites) throws {
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
        site = sites.nextConvolution()
        normSite = sites.nextGroupNorm(norms.count)
    }

    /// `x [B*F, C, H, W]` with `frames` consecutive rows per video.
    func callAsFunction(_ x: Tensor, frames: Int, _ backend: any Backend, _ context: any TemporalContext) async throws -> Tensor {
        let (c, height, width) = (x.shape[1], x.shape[2], x.shape[3])
        let batch = x.shape[0] / frames
        let input = try backend.permute(x.reshaped([batch, frames, c, height, width]), [0, 2, 1, 3, 4])
        let h = try await context.temporalConvolution(
            TemporalConvolutionCall(site: site, input: input, backend: backend, layer: self, normSite: normSite))
        return try backend.permute(h, [0, 2, 1, 3, 4]).reshaped(x.shape)
    }
}
