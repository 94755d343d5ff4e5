import Tensor

/// diffusers' `UNet3DConditionModel`, the text-to-video denoiser of the ModelScope /
/// VideoCrafter2 family, running its forward pass on a ``Backend``.
///
/// Computes exactly what diffusers computes (same module order, same reshapes); the weights
/// live on the backend, uploaded once at load.
public final class UNet3DConditionModel: Sendable {
    /// The architecture.
    public let config: UNet3DConfig
    /// Where the weights live and the forward runs.
    public let backend: any Backend

    let convIn: Conv2d
    let timeEmbedding: TimestepEmbedding
    let fpsEmbedding: TimestepEmbedding?
    let transformerIn: TransformerTemporal
    let downBlocks: [DownBlock]
    let midBlock: MidBlock
    let upBlocks: [UpBlock]
    let normOut: GroupNorm
    let convOut: Conv2d

    /// Number of temporal attention calls in one forward (two per `TransformerTemporalModel`).
    public let temporalAttentionSites: Int
    /// Number of `TemporalConvLayer`s.
    public let temporalConvolutionSites: Int
    /// Number of group norms whose statistics span frames.
    public let groupNormSites: Int

    /// Builds the model from `config`, loading every parameter through `loader`.
    /// Throws when a tensor is missing, has the wrong shape, or the checkpoint holds
    /// parameters the architecture does not use (a sign of a mismatched config).
    public init(config: UNet3DConfig, loader: WeightLoader) throws {
        self.config = config
        let c0 = config.blockOutChannels[0]
        convIn = try Conv2d(loader.scope("conv_in"), input: config.inChannels, output: c0, kernel: 3, padding: 1)
        timeEmbedding = try TimestepEmbedding(loader.scope("time_embedding"), input: c0, output: config.timeEmbedDim)
        fpsEmbedding = config.fpsConditioning
            ? try TimestepEmbedding(loader.scope("fps_embedding"), input: c0, output: config.timeEmbedDim) : nil
        let sites = TemporalSites()
        transformerIn = try TransformerTemporal(loader.scope("transformer_in"), channels: c0, heads: 8,
                                                headDim: config.attentionHeadDim[0], groups: config.normNumGroups,
                                                sites: sites)
        var input = c0
        downBlocks = try config.blockOutChannels.indices.map { index in
            defer { input = config.blockOutChannels[index] }
            return try DownBlock(loader.scope("down_blocks", index), index: index, input: input, config: config,
                                 sites: sites)
        }
        midBlock = try MidBlock(loader.scope("mid_block"), config: config, sites: sites)
        upBlocks = try config.blockOutChannels.indices.map { index in
            try UpBlock(loader.scope("up_blocks", index), index: index, config: config, sites: sites)
        }
        temporalAttentionSites = sites.attention
        temporalConvolutionSites = sites.convolution
        groupNormSites = sites.groupNorm
        normOut = try GroupNorm(loader.scope("conv_norm_out"), groups: config.normNumGroups, channels: c0,
                                epsilon: config.normEpsilon)
        convOut = try Conv2d(loader.scope("conv_out"), input: c0, output: config.outChannels, kernel: 3, padding: 1)
        backend = loader.backend
        try loader.checkAllUsed()
    }

    /// The noise prediction for `sample [B, C, F, H, W]` at `timestep [B]` with prompt
    /// embeddings `encoderHiddenStates [B, T, E]` and, for fps-conditioned models, `fps [B]`.
    /// `temporal` decides what the temporal modules see beyond the sample's frames (by default
    /// nothing: the plain single-device forward).
    public func callAsFunction(sample: Tensor, timestep: Tensor, encoderHiddenStates: Tensor, fps: Tensor? = nil,
                               temporal: any TemporalContext = PlainTemporalContext()) async throws -> Tensor {
        try validate(sample: sample, timestep: timestep, encoderHiddenStates: encoderHiddenStates, fps: fps)
        let (batch, channels, frames, height, width) =
            (sample.shape[0], sample.shape[1], sample.shape[2], sample.shape[3], sample.shape[4])
        var embedding = try timeEmbedding(timestepProjection(timestep), backend)
        if let fpsEmbedding, let fps {
            embedding = try backend.add(embedding, fpsEmbedding(timestepProjection(fps), backend))
        }
        embedding = try backend.repeatInterleave(embedding, times: frames, axis: 0)
        let context = BlockContext(backend: backend,
                                   activatedTimeEmbedding: try backend.activation(embedding, .silu),
                                   encoderHiddenStates: encoderHiddenStates, frames: frames, temporal: temporal)

        var h = try backend.permute(sample, [0, 2, 1, 3, 4]).reshaped([batch * frames, channels, height, width])
        h = try convIn(h, backend)
        h = try await transformerIn(h, frames: frames, backend, temporal)

        var skips = [h]
        for block in downBlocks {
            let (output, states) = try await block(h, context)
            h = output
            skips += states
        }
        h = try await midBlock(h, context)
        for block in upBlocks {
            let used = Array(skips.suffix(block.skipCount))
            skips.removeLast(block.skipCount)
            let target = skips.last.map { ($0.shape[2], $0.shape[3]) } ?? (h.shape[2], h.shape[3])
            h = try await block(h, skips: used, upsampleSize: target, context)
        }
        h = try convOut(backend.activation(normOut(h, backend), .silu), backend)
        return try backend.permute(h.reshaped([batch, frames, config.outChannels, height, width]), [0, 2, 1, 3, 4])
    }

    /// diffusers' `Timesteps(block_out_channels[0], flip_sin_to_cos=True, downscale_freq_shift=0)`.
    func timestepProjection(_ timestep: Tensor) throws -> Tensor {
        try backend.timestepEmbedding(timestep, dim: config.blockOutChannels[0], flipSinToCos: true,
                                      downscaleFreqShift: 0, maxPeriod: 10000)
    }

    private func validate(sample: Tensor, timestep: Tensor, encoderHiddenStates: Tensor, fps: Tensor?) throws {
        guard sample.rank == 5 else {
            throw ModelError("sample must be [batch, channels, frames, height, width], got shape \(sample.shape)")
        }
        let batch = sample.shape[0]
        guard batch > 0, sample.shape[2] > 0, sample.shape[3] > 0, sample.shape[4] > 0 else {
            throw ModelError("sample has an empty axis: shape \(sample.shape)")
        }
        guard sample.shape[1] == config.inChannels else {
            throw ModelError("sample has \(sample.shape[1]) channels, the model takes \(config.inChannels)")
        }
        guard timestep.shape == [batch] else {
            throw ModelError("timestep must be [\(batch)] (one per batch row), got shape \(timestep.shape)")
        }
        guard encoderHiddenStates.rank == 3, encoderHiddenStates.shape[0] == batch,
              encoderHiddenStates.shape[1] > 0, encoderHiddenStates.shape[2] == config.crossAttentionDim else {
            throw ModelError("encoder_hidden_states must be [\(batch), tokens, \(config.crossAttentionDim)], got shape \(encoderHiddenStates.shape)")
        }
        if config.fpsConditioning {
            guard let fps else { throw ModelError("the model is fps-conditioned: an fps value per batch row is required") }
            guard fps.shape == [batch] else {
                throw ModelError("fps must be [\(batch)] (one per batch row), got shape \(fps.shape)")
            }
        } else if fps != nil {
            throw ModelError("fps was given but the model has no fps conditioning")
        }
    }
}
