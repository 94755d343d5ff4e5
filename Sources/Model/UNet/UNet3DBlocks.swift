import Tensor

/// Inputs shared by every block of one UNet forward.
struct BlockContext {
    let backend: any Backend
    /// SiLU of the time embedding, one row per frame: `[B*F, D]`.
    let activatedTimeEmbedding: Tensor
    /// Prompt embeddings, one row per video: `[B, T, E]`.
    let encoderHiddenStates: Tensor
    /// Frames per video.
    let frames: Int
    /// How the temporal modules see frames beyond these.
    let temporal: any TemporalContext
}

/// One resnet + temporal conv layer, optionally followed by spatial and temporal transformers:
/// the repeating unit of diffusers' 3-D UNet blocks.
struct UNet3DLayer: Sendable {
    let resnet: ResnetBlock2D
    let temporalConv: TemporalConvLayer
    let attention: Transformer2D?
    let temporalAttention: TransformerTemporal?

    func callAsFunction(_ x: Tensor, _ context: BlockContext) async throws -> Tensor {
        let backend = context.backend
        var h = try resnet(x, activatedTimeEmbedding: context.activatedTimeEmbedding, backend)
        h = try await temporalConv(h, frames: context.frames, backend, context.temporal)
        if let attention, let temporalAttention {
            h = try await attention(h, context: context.encoderHiddenStates, frames: context.frames, backend)
            h = try await temporalAttention(h, frames: context.frames, backend, context.temporal)
        }
        return h
    }
}

/// Builds the layers of a block from its diffusers module lists, the first from entry `firstIndex`.
private func makeLayers(_ loader: WeightLoader, inputs: [Int], firstIndex: Int = 0, output: Int, config: UNet3DConfig,
                        headDim: Int, crossAttention: Bool, outputScaleFactor: Float = 1,
                        sites: TemporalSites) throws -> [UNet3DLayer] {
    try inputs.enumerated().map { offset, input in
        let index = firstIndex + offset
        let resnet = try ResnetBlock2D(loader.scope("resnets", index), input: input, output: output,
                                       timeEmbedDim: config.timeEmbedDim, groups: config.normNumGroups,
                                       epsilon: config.normEpsilon, outputScaleFactor: outputScaleFactor)
        let temporalConv = try TemporalConvLayer(loader.scope("temp_convs", index), channels: output,
                                                 groups: config.normNumGroups, sites: sites)
        guard crossAttention else {
            return UNet3DLayer(resnet: resnet, temporalConv: temporalConv, attention: nil, temporalAttention: nil)
        }
        return UNet3DLayer(
            resnet: resnet, temporalConv: temporalConv,
            attention: try Transformer2D(loader.scope("attentions", index), channels: output, headDim: headDim,
                                         groups: config.normNumGroups, crossAttentionDim: config.crossAttentionDim),
            temporalAttention: try TransformerTemporal(loader.scope("temp_attentions", index), channels: output,
                                                       heads: output / headDim, headDim: headDim,
                                                       groups: config.normNumGroups, sites: sites))
    }
}

/// `CrossAttnDownBlock3D` / `DownBlock3D`: layers, then an optional stride-2 conv.
struct DownBlock: Sendable {
    let layers: [UNet3DLayer]
    let downsampler: Conv2d?

    init(_ loader: WeightLoader, index: Int, input: Int, config: UNet3DConfig, sites: TemporalSites) throws {
        let output = config.blockOutChannels[index]
        let inputs = [input] + Array(repeating: output, count: config.layersPerBlock - 1)
        layers = try makeLayers(loader, inputs: inputs, output: output, config: config,
                                headDim: config.attentionHeadDim[index],
                                crossAttention: config.downBlockTypes[index] == .crossAttention, sites: sites)
        let isFinal = index == config.blockOutChannels.count - 1
        downsampler = isFinal ? nil
            : try Conv2d(loader.scope("downsamplers.0.conv"), input: output, output: output, kernel: 3,
                         stride: 2, padding: config.downsamplePadding)
    }

    /// Returns the block output and the states the up path concatenates (one per layer, plus
    /// the downsampled output).
    func callAsFunction(_ x: Tensor, _ context: BlockContext) async throws -> (Tensor, [Tensor]) {
        var h = x
        var states: [Tensor] = []
        for layer in layers {
            h = try await layer(h, context)
            states.append(h)
        }
        if let downsampler {
            h = try downsampler(h, context.backend)
            states.append(h)
        }
        return (h, states)
    }
}

/// `UNetMidBlock3DCrossAttn`: resnet + temporal conv, then (transformers, resnet, temporal conv).
struct MidBlock: Sendable {
    let first: UNet3DLayer
    let attention: Transformer2D
    let temporalAttention: TransformerTemporal
    let second: UNet3DLayer

    init(_ loader: WeightLoader, config: UNet3DConfig, sites: TemporalSites) throws {
        let channels = config.blockOutChannels.last!
        let headDim = config.attentionHeadDim.last!
        // The mid block's module lists hold resnets/temp_convs 0 and 1 around attentions 0;
        // they are built in forward order so the temporal sites follow it.
        first = try makeLayers(loader, inputs: [channels], output: channels, config: config, headDim: headDim,
                               crossAttention: false, outputScaleFactor: config.midBlockScaleFactor, sites: sites)[0]
        attention = try Transformer2D(loader.scope("attentions.0"), channels: channels, headDim: headDim,
                                      groups: config.normNumGroups, crossAttentionDim: config.crossAttentionDim)
        temporalAttention = try TransformerTemporal(loader.scope("temp_attentions.0"), channels: channels,
                                                    heads: channels / headDim, headDim: headDim,
                                                    groups: config.normNumGroups, sites: sites)
        second = try makeLayers(loader, inputs: [channels], firstIndex: 1, output: channels, config: config,
                                headDim: headDim, crossAttention: false,
                                outputScaleFactor: config.midBlockScaleFactor, sites: sites)[0]
    }

    func callAsFunction(_ x: Tensor, _ context: BlockContext) async throws -> Tensor {
        var h = try await first(x, context)
        h = try await attention(h, context: context.encoderHiddenStates, frames: context.frames, context.backend)
        h = try await temporalAttention(h, frames: context.frames, context.backend, context.temporal)
        return try await second(h, context)
    }
}

/// `CrossAttnUpBlock3D` / `UpBlock3D`: each layer first concatenates a skip state on channels;
/// then an optional nearest 2x upsample (to the skip's size) and 3x3 conv.
struct UpBlock: Sendable {
    let layers: [UNet3DLayer]
    let upsampler: Conv2d?

    /// The number of skip states the block consumes.
    var skipCount: Int { layers.count }

    init(_ loader: WeightLoader, index: Int, config: UNet3DConfig, sites: TemporalSites) throws {
        let reversed = Array(config.blockOutChannels.reversed())
        let blocks = reversed.count
        let output = reversed[index]
        let previous = reversed[max(index - 1, 0)]
        let input = reversed[min(index + 1, blocks - 1)]
        let count = config.layersPerBlock + 1
        // Layer j sees the running state (prev block's output first, then this block's) plus skip j.
        let inputs = (0 ..< count).map { j in
            (j == 0 ? previous : output) + (j == count - 1 ? input : output)
        }
        layers = try makeLayers(loader, inputs: inputs, output: output, config: config,
                                headDim: Array(config.attentionHeadDim.reversed())[index],
                                crossAttention: config.upBlockTypes[index] == .crossAttention, sites: sites)
        upsampler = index == blocks - 1 ? nil
            : try Conv2d(loader.scope("upsamplers.0.conv"), input: output, output: output, kernel: 3, padding: 1)
    }

    /// `skips` are consumed from the end; `upsampleSize` is the spatial size to upsample to.
    func callAsFunction(_ x: Tensor, skips: [Tensor], upsampleSize: (Int, Int), _ context: BlockContext) async throws -> Tensor {
        let backend = context.backend
        var h = x
        for (layer, skip) in zip(layers, skips.reversed()) {
            h = try await layer(backend.concat([h, skip], axis: 1), context)
        }
        if let upsampler {
            h = try upsampler(backend.upsampleNearest(h, height: upsampleSize.0, width: upsampleSize.1), backend)
        }
        return h
    }
}
