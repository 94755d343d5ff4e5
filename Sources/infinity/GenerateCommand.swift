import ClusterConfig
import CPUBackend
import Foundation
import Media
import Model
import Parallel
import Tensor

/// `infinity generate`: denoises a video's latents with Video-Infinity's clip parallelism and
/// classifier-free guidance, on in-process workers or on a cluster (`--coordinator HOST:PORT`),
/// and writes them as a video (`.mp4`, `.y4m`, a folder of PNG frames) or as raw latents
/// (`.safetensors`).
enum GenerateCommand {
    static let options = Set([
        "model", "embeddings", "frames", "clip-frames", "height", "width", "steps", "guidance", "seed", "scheduler",
        "fps", "fps-out", "workers", "out", "local-frames", "global-frames", "phase-t", "local-bias", "global-bias",
        "coordinator", "token-file", "negative-prompt", "cluster", "upscale",
    ]).union(BackendOption.optionNames)
    /// Options that may be given several times.
    static let repeatable: Set<String> = ["prompt"]
    /// Options of the in-process form only: with `--coordinator` the cluster's workers run the job.
    static let inProcessOptions = ["workers"] + BackendOption.optionNames.sorted()
    static let flags: Set<String> = [
        "sync-groupnorm", "reference-padding", "reference-global-sampling", "token-count-scale",
    ]

    /// Everything `generate` was asked for, validated.
    struct Request {
        /// The model folder; with `--coordinator`, the model's name (or hash) on the workers.
        var modelPath: String
        /// Where the prompt embeddings come from.
        var conditioning: ConditioningSource
        /// `--out` and the format it names.
        var out: String
        var format: OutputFormat
        var plan: ClipPlan
        var config: VideoInfinityConfig
        var height: Int
        var width: Int
        var steps: Int
        var guidance: Float
        var seed: Int
        var scheduler: SchedulerKind
        /// The frame rate the model is conditioned on (`--fps`).
        var fps: Float
        /// The written video's frame rate (`--fps-out`).
        var fpsOut: Int
        /// Nearest-neighbour enlargement of the written video's frames (`--upscale`).
        var upscale: Int
        var workerCount: Int
        var backend: BackendOption
        /// Set with `--coordinator`: the job runs on that cluster.
        var cluster: ClusterTarget?

        /// The video's frames.
        var frames: Int { plan.clipFrames.reduce(0, +) }
    }

    static func run(_ arguments: ArraySlice<String>) async throws {
        let request = try parse(arguments)
        let latents: (values: [Float], shape: [Int])
        if let cluster = request.cluster {
            latents = try await denoiseOnCluster(request, cluster)
        } else {
            latents = try await denoiseInProcess(request)
        }
        try writeOutput(latents: latents.values, shape: latents.shape, to: request.out, format: request.format,
                        fps: request.fpsOut, upscale: request.upscale)
    }

    /// Reads and checks every option; nothing here loads the model, so a typo fails fast.
    static func parse(_ arguments: ArraySlice<String>) throws -> Request {
        let options = try Arguments(arguments, flags: flags, options: options, repeatable: repeatable)
        // --cluster FILE: the coordinator, token, model and defaults come from a cluster.toml.
        var configuration: ClusterConfiguration?
        if let path = options.string("cluster") {
            do {
                configuration = try ClusterConfiguration(contentsOfFile: path)
            } catch {
                throw Arguments.Failure(description: "--cluster: \(error.description)")
            }
        }
        let defaults = configuration?.generation
        let cluster = try ClusterTarget(options, cluster: configuration)
        let modelArgument = try options.string("model") ?? configuration?.model.path ?? options.required("model")
        let modelPath = try cluster.map { try $0.modelName(modelArgument) } ?? modelArgument
        let conditioning = try ConditioningSource(options, modelFolder: modelArgument)
        let out = try options.required("out")
        let format = try OutputWriting.prepare(path: out)
        let frames = try options.int("frames", default: defaults?.frames, range: 1 ... 1_000_000)
        let clipFrames = try options.int("clip-frames", default: defaults?.clipFrames ?? frames, range: 1 ... 1_000_000)
        let height = try options.int("height", default: defaults?.height, range: 1 ... 4096)
        let width = try options.int("width", default: defaults?.width, range: 1 ... 4096)
        let steps = try options.int("steps", default: defaults?.steps ?? 30, range: 1 ... 1000)
        let guidance = try options.float("guidance", default: defaults.map { Float($0.guidance) } ?? 7.5, range: 0 ... 100)
        let seed = try options.int("seed", default: defaults?.seed ?? 0, range: 0 ... Int.max)
        let kind: SchedulerKind = try options.choice("scheduler", default: defaults?.scheduler.rawValue ?? "ddim",
                                                     from: ["ddim", "dpm++"]) == "ddim" ? .ddim : .dpmSolverMultistep
        let fps = try options.float("fps", default: defaults.map { Float($0.fps) } ?? 24, range: 0 ... 1000)
        // --fps conditions the model (VideoCrafter2's fps embedding); --fps-out is the video's rate.
        let fpsOut = try options.int("fps-out", default: 8, range: 1 ... 240)
        let upscale = try options.int("upscale", default: 1, range: 1 ... 64)
        let workerCount = try inProcessWorkers(options.string("workers") ?? "in-process:1")
        let backend = try BackendOption(options)
        var config = VideoInfinityConfig()
        if let given = configuration?.videoInfinity {
            config.localFrames = given.localFrames
            config.globalFrames = given.globalFrames
            config.phaseTimestep = given.phaseTimestep
            config.localBias = Float(given.localBias)
            config.globalBias = Float(given.globalBias)
            config.syncGroupNorm = given.syncGroupNorm
            config.referencePadding = given.referencePadding
            config.referenceGlobalSampling = given.referenceGlobalSampling
            config.tokenCountScale = given.tokenCountScale
        }
        config.localFrames = try options.int("local-frames", default: config.localFrames, range: 0 ... 10_000)
        config.globalFrames = try options.int("global-frames", default: config.globalFrames, range: 0 ... 10_000)
        config.phaseTimestep = try options.int("phase-t", default: config.phaseTimestep, range: 0 ... 100_000)
        config.localBias = try options.float("local-bias", default: config.localBias, range: -1e4 ... 1e4)
        config.globalBias = try options.float("global-bias", default: config.globalBias, range: -1e4 ... 1e4)
        config.syncGroupNorm = config.syncGroupNorm || options.flag("sync-groupnorm")
        config.referencePadding = config.referencePadding || options.flag("reference-padding")
        config.referenceGlobalSampling = config.referenceGlobalSampling || options.flag("reference-global-sampling")
        config.tokenCountScale = config.tokenCountScale || options.flag("token-count-scale")
        let plan = try ClipPlan(totalFrames: frames, maxClipFrames: clipFrames)
        try config.validate(for: plan)
        return Request(modelPath: modelPath, conditioning: conditioning, out: out, format: format, plan: plan,
                       config: config, height: height, width: width, steps: steps, guidance: guidance, seed: seed,
                       scheduler: kind, fps: fps, fpsOut: fpsOut, upscale: upscale, workerCount: workerCount, backend: backend,
                       cluster: cluster)
    }

    /// Loads the model on the request's in-process workers and denoises the video, printing
    /// progress; returns the latents and their shape `[C, F, H, W]`.
    static func denoiseInProcess(_ request: Request) async throws -> (values: [Float], shape: [Int]) {
        let folder = try ModelFolder(path: request.modelPath)
        let workerCount = request.workerCount
        // Each in-process worker has its own backend and copy of the model, as a node would
        // (CPU workers share the threads; Vulkan workers each open the device).
        let workers = try (0 ..< workerCount).map { _ in
            try UNet3DConditionModel.load(folder: folder,
                                          backend: request.backend.make(threads: max(1, request.backend.threads / workerCount)))
        }
        let channels = workers[0].config.inChannels
        // A model whose latents no decoder can show fails now, not after denoising.
        if request.format.isVideo { _ = try LatentDecoder.isApproximate(channels: channels) }
        let schedulerConfig = try folder.schedulerConfigPath.map { try SchedulerConfig(contentsOfFile: $0) }
            ?? SchedulerConfig.textToVideoDefault
        let scheduler = try makeScheduler(config: schedulerConfig, kind: request.scheduler, steps: request.steps)
        let embeddings = try request.conditioning.embeddings(width: workers[0].config.crossAttentionDim)

        let plan = request.plan
        let pipeline = try ClipParallelPipeline(workers: workers, plan: plan, config: request.config, guidance: request.guidance)
        say("generating \(request.frames) frames as \(plan.count) clip\(plan.count == 1 ? "" : "s") of \(plan.clipFrames.max()!) frames or fewer on \(workerCount) in-process worker\(workerCount == 1 ? "" : "s"), \(embeddings.count) prompt\(embeddings.count == 1 ? "" : "s")")
        let start = Date()
        let show = OutputWriting.progressPrinter()
        show(ProgressSnapshot(step: 0, steps: request.steps, clips: plan.count, elapsed: 0))
        let latents = try await pipeline.generate(embeddings: embeddings, height: request.height, width: request.width,
                                                  seed: UInt64(request.seed), scheduler: scheduler, fps: request.fps) { progress in
            show(ProgressSnapshot(step: progress.step, steps: progress.steps, clips: progress.clips,
                                  elapsed: Date().timeIntervalSince(start)))
        }
        return (latents, [channels, request.frames, request.height, request.width])
    }

    /// Where a generation's prompt embeddings come from: a safetensors file (`--embeddings`) or
    /// prompts (`--prompt`, repeatable; `--negative-prompt`) encoded here by the model folder's
    /// text encoder (on a cluster too: the workers hold only the UNet).
    enum ConditioningSource {
        case file(String)
        case prompts([String], negative: String, modelFolder: String)

        init(_ options: Arguments, modelFolder: String) throws {
            let prompts = options.strings("prompt")
            switch (options.string("embeddings"), prompts.isEmpty) {
            case (let path?, true):
                guard options.string("negative-prompt") == nil else {
                    throw Arguments.Failure(description: "--negative-prompt goes with --prompt; --embeddings holds its own 'uncond'")
                }
                self = .file(path)
            case (nil, false):
                self = .prompts(prompts, negative: options.string("negative-prompt") ?? "", modelFolder: modelFolder)
            case (_?, false):
                throw Arguments.Failure(description: "give either --prompt TEXT (repeatable) or --embeddings FILE, not both")
            case (nil, true):
                throw Arguments.Failure(description: "missing --prompt TEXT (repeatable, one per part of the video) or --embeddings FILE")
            }
        }

        /// The embeddings, checked against the model's cross-attention width when known.
        func embeddings(width: Int?) throws -> PromptEmbeddings {
            switch self {
            case .file(let path):
                return try readEmbeddings(path, width: width)
            case .prompts(let prompts, let negative, let folderPath):
                let folder: ModelFolder
                do {
                    folder = try ModelFolder(path: folderPath)
                } catch {
                    throw Arguments.Failure(description: "--prompt needs --model to be the model's folder (its text encoder runs here): \(error)")
                }
                let encoder = try TinyTextEncoder.load(modelFolder: folder, backend: CPUBackend(threads: 1))
                let encoded = try encoder.encode(prompts + [negative])
                let (count, tokens, channels) = (encoded.shape[0], encoded.shape[1], encoded.shape[2])
                if let width, width != channels {
                    throw ModelError("the text encoder's width \(channels) differs from the UNet's cross-attention width \(width)")
                }
                let rows = tokens * channels
                return try PromptEmbeddings(prompts: HostTensor(shape: [count - 1, tokens, channels], values: Array(encoded.values[..<((count - 1) * rows)])),
                                            negative: HostTensor(shape: [tokens, channels], values: Array(encoded.values[((count - 1) * rows)...])))
            }
        }
    }

    /// The worker count of `in-process:N`.
    static func inProcessWorkers(_ text: String) throws -> Int {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, parts[0] == "in-process", let count = Int(parts[1]), (1 ... 256).contains(count) else {
            throw Arguments.Failure(description: "--workers must be in-process:N with N in 1...256, got '\(text)'")
        }
        return count
    }

    /// Reads `cond [P, T, D]` and `uncond [T, D]` prompt embeddings; `width` is the model's D
    /// when it is known here (nil when the model is on a cluster's workers).
    static func readEmbeddings(_ path: String, width: Int?) throws -> PromptEmbeddings {
        let file = try SafeTensorsFile(path: path)
        func read(_ name: String, rank: Int) throws -> HostTensor {
            guard let shape = file.shape(of: name), shape.count == rank, width == nil || shape.last == width else {
                let d = width.map { "\($0)" } ?? "width"
                let expected = rank == 3 ? "[prompts, tokens, \(d)]" : "[tokens, \(d)]"
                throw ModelError("\(path): '\(name)' must be \(expected), got \(file.shape(of: name).map { "\($0)" } ?? "nothing")")
            }
            return HostTensor(shape: shape, values: try file.floats(name))
        }
        do {
            return try PromptEmbeddings(prompts: read("cond", rank: 3), negative: read("uncond", rank: 2))
        } catch let error as ParallelError {
            throw ModelError("\(path): \(error.message)")
        }
    }
}
