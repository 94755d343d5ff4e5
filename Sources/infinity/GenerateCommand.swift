import Foundation
import Model
import Tensor

/// `infinity generate`: denoises one video's latents with classifier-free guidance.
enum GenerateCommand {
    static func run(_ arguments: ArraySlice<String>) async throws {
        let options = try Arguments(arguments, options: [
            "model", "embeddings", "frames", "height", "width", "steps", "guidance", "seed", "scheduler",
            "fps", "out", "backend", "threads",
        ])
        // Every flag is checked before the model loads, so a typo fails fast.
        let modelPath = try options.required("model")
        let embeddingsPath = try options.required("embeddings")
        let frames = try options.int("frames", range: 1 ... 100_000)
        let height = try options.int("height", range: 1 ... 4096)
        let width = try options.int("width", range: 1 ... 4096)
        let steps = try options.int("steps", default: 30, range: 1 ... 1000)
        let guidance = try options.float("guidance", default: 7.5, range: 0 ... 100)
        let seed = try options.int("seed", default: 0, range: 0 ... Int.max)
        let kind: SchedulerKind = try options.choice("scheduler", default: "ddim", from: ["ddim", "dpm++"]) == "ddim"
            ? .ddim : .dpmSolverMultistep
        let out = try options.required("out")
        let fpsValue = try options.float("fps", default: 24, range: 0 ... 1000)
        let backend = try makeBackend(options)
        let folder = try ModelFolder(path: modelPath)
        let model = try UNet3DConditionModel.load(folder: folder, backend: backend)

        let schedulerConfig = try folder.schedulerConfigPath.map { try SchedulerConfig(contentsOfFile: $0) }
            ?? SchedulerConfig.textToVideoDefault
        let scheduler = try makeScheduler(config: schedulerConfig, kind: kind, steps: steps)

        let embeddings = try SafeTensorsFile(path: embeddingsPath)
        let dim = model.config.crossAttentionDim
        guard let condShape = embeddings.shape(of: "cond"), condShape.count == 3, condShape[0] >= 1,
              condShape[2] == dim else {
            throw ModelError("\(embeddings.path): 'cond' must be [prompts, tokens, \(dim)], got \(embeddings.shape(of: "cond").map { "\($0)" } ?? "nothing")")
        }
        guard condShape[0] == 1 else {
            throw ModelError("\(embeddings.path): 'cond' holds \(condShape[0]) prompts; one video takes one prompt")
        }
        guard let uncondShape = embeddings.shape(of: "uncond"), uncondShape == Array(condShape.dropFirst()) else {
            throw ModelError("\(embeddings.path): 'uncond' must be \(Array(condShape.dropFirst())), got \(embeddings.shape(of: "uncond").map { "\($0)" } ?? "nothing")")
        }
        let tokens = condShape[1]
        let conditioning = Conditioning(
            prompt: try backend.upload(embeddings.floats("cond"), shape: [1, tokens, dim]),
            negativePrompt: try backend.upload(embeddings.floats("uncond"), shape: [1, tokens, dim]),
            fps: model.config.fpsConditioning ? fpsValue : nil)

        let shape = [1, model.config.inChannels, frames, height, width]
        let pipeline = TextToVideoPipeline(denoiser: GuidedDenoiser(model: model, guidance: guidance))
        let latents = try await pipeline.generate(shape: shape, seed: UInt64(seed), conditioning: conditioning,
                                            scheduler: scheduler) { step, total in
            print("step \(step)/\(total)")
        }
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: out).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        try SafeTensorsWriter.write([(name: "latents", shape: Array(shape.dropFirst()), values: latents)], to: out)
        print("wrote \(out): latents \(Array(shape.dropFirst()))")
    }
}
