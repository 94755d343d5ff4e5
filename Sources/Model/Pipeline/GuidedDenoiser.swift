import Tensor

/// One video's conditioning: prompt embeddings for the guided and unguided halves of
/// classifier-free guidance, and the fps value for fps-conditioned models.
public struct Conditioning: Sendable {
    /// Embeddings of the prompt, `[1, T, E]`.
    public var prompt: Tensor
    /// Embeddings of the negative (empty) prompt, `[1, T, E]`.
    public var negativePrompt: Tensor
    /// Frames per second for fps-conditioned models; ignored by others.
    public var fps: Float?

    /// Creates a conditioning; both embeddings must be `[1, T, E]` on the model's backend.
    public init(prompt: Tensor, negativePrompt: Tensor, fps: Float? = nil) {
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.fps = fps
    }
}

/// The noise prediction of `TextToVideoSDPipeline`'s loop body: the unguided and guided halves
/// batched through the UNet in one forward (`[uncond, cond]`), combined as
/// `uncond + guidance * (cond - uncond)`. With `guidance <= 1` only the prompt half runs, as
/// diffusers does.
public struct GuidedDenoiser: Sendable {
    /// The denoiser.
    public let model: UNet3DConditionModel
    /// Classifier-free guidance scale.
    public let guidance: Float

    /// Creates a denoiser guiding `model` with scale `guidance`.
    public init(model: UNet3DConditionModel, guidance: Float) {
        self.model = model
        self.guidance = guidance
    }

    /// Whether both halves run (diffusers' `do_classifier_free_guidance`).
    public var usesGuidance: Bool { guidance > 1 }

    /// The guided noise prediction for `latents [1, C, F, H, W]` (flat values) at `timestep`;
    /// `temporal` is handed to the UNet forward (see ``TemporalContext``).
    public func noisePrediction(latents: [Float], shape: [Int], timestep: Int, conditioning: Conditioning,
                                temporal: any TemporalContext = PlainTemporalContext()) async throws -> [Float] {
        let backend = model.backend
        let halves = usesGuidance ? 2 : 1
        let sample = try backend.upload(usesGuidance ? latents + latents : latents,
                                        shape: [halves] + shape.dropFirst())
        let context = usesGuidance
            ? try backend.concat([conditioning.negativePrompt, conditioning.prompt], axis: 0)
            : conditioning.prompt
        let timesteps = try backend.upload(Array(repeating: Float(timestep), count: halves), shape: [halves])
        let fps = try conditioning.fps.map { try backend.upload(Array(repeating: $0, count: halves), shape: [halves]) }
        let prediction = try backend.download(
            await model(sample: sample, timestep: timesteps, encoderHiddenStates: context,
                        fps: model.config.fpsConditioning ? fps : nil, temporal: temporal))
        guard usesGuidance else { return prediction }
        let half = latents.count
        return (0 ..< half).map { index in
            let unconditional = prediction[index]
            return unconditional + guidance * (prediction[half + index] - unconditional)
        }
    }
}
