import Client
import ClusterConfig
import ClusterWire
import Foundation
import Media
import Model
import Parallel
import RPC

/// `generate --coordinator HOST:PORT`: the cluster that runs the job and the token it takes.
struct ClusterTarget {
    /// The coordinator.
    var address: CoordinatorAddress
    /// The cluster token, from `--token-file` or `INFINITY_CLUSTER_TOKEN`.
    var token: String?

    /// The target `options` name; nil without `--coordinator`. Throws for an in-process option
    /// given with it, `--token-file` without it, a malformed address or an unreadable token file.
    init?(_ options: Arguments, cluster configuration: ClusterConfiguration?) throws {
        let text: String
        if let configuration {
            guard options.string("coordinator") == nil else {
                throw Arguments.Failure(description: "--coordinator and --cluster both name the coordinator; give one")
            }
            text = configuration.coordinator.advertiseAddress.description
        } else {
            guard let given = options.string("coordinator") else {
                if options.string("token-file") != nil {
                    throw Arguments.Failure(description: "--token-file is only used with --coordinator HOST:PORT or --cluster FILE")
                }
                return nil
            }
            text = given
        }
        for name in GenerateCommand.inProcessOptions where options.string(name) != nil {
            throw Arguments.Failure(description: "--\(name) is not allowed with --coordinator or --cluster: the cluster's workers "
                + "run the job with their own backend and threads")
        }
        do {
            address = try CoordinatorAddress(text)
        } catch {
            throw Arguments.Failure(description: "--coordinator: \(error.message)")
        }
        token = try CoordinatorCommand.clusterToken(file: options.string("token-file") ?? configuration?.coordinator.tokenFile)
    }

    /// The model as the workers name it: `--model` gives its name or hash; a folder path stands
    /// for its last component (a worker's model name is its folder's name).
    func modelName(_ text: String) throws -> String {
        guard let name = text.split(separator: "/").last.map(String.init), name != ".", name != ".." else {
            throw Arguments.Failure(description: "--model with --coordinator must name the model the workers hold "
                + "(its folder's name or its hash), got '\(text)'")
        }
        return name
    }
}

extension GenerateCommand {
    /// Submits the request to the cluster's coordinator and follows it with the in-process
    /// form's progress line (plus the context-exchange share, and a line per recovery); returns
    /// the latents and their shape `[C, F, H, W]` (C as the workers' model has it).
    static func denoiseOnCluster(_ request: Request, _ cluster: ClusterTarget) async throws -> (values: [Float], shape: [Int]) {
        let embeddings = try request.conditioning.embeddings(width: nil)
        let job = GenerationRequest(
            model: request.modelPath, embeddings: embeddings, frames: request.frames, clipFrames: request.plan.clipFrames.max(),
            height: request.height, width: request.width, steps: request.steps, guidance: request.guidance,
            seed: UInt64(request.seed), scheduler: request.scheduler == .ddim ? .ddim : .dpmSolverMultistep,
            fps: request.fps, videoInfinity: request.config)
        do {
            _ = try job.validated()
        } catch {
            throw Arguments.Failure(description: error.message)
        }

        let client = try InfinityClient(address: cluster.address.description, token: cluster.token)
        do {
            let latents = try await follow(job, request: request, on: client, at: cluster.address)
            await client.close()
            return latents
        } catch {
            await client.close()
            throw error
        }
    }

    private static func follow(_ job: GenerationRequest, request: Request, on client: InfinityClient,
                               at address: CoordinatorAddress) async throws -> (values: [Float], shape: [Int]) {
        let handle: JobHandle
        do throws(RPCError) {
            handle = try await client.submit(job, label: URL(fileURLWithPath: request.out).lastPathComponent)
        } catch {
            guard error.code == .unauthenticated else { throw error }
            throw RPCError(code: error.code, message: "\(error.message) (pass --token-file FILE or set \(CoordinatorCommand.tokenVariable))")
        }
        let plan = request.plan
        let prompts = job.embeddings.count
        let queued = handle.queuePosition > 0 ? "; queued at position \(handle.queuePosition)" : ""
        say("submitted job \(handle.jobID) to \(address): \(request.frames) frames as \(plan.count) clip\(plan.count == 1 ? "" : "s") of \(plan.clipFrames.max()!) frames or fewer, model \(job.model), \(prompts) prompt\(prompts == 1 ? "" : "s")\(queued)")

        let show = OutputWriting.progressPrinter()
        let notice = OutputWriting.noticePrinter()
        var result: GenerationResult?
        for try await update in handle.updates {
            switch update {
            case .placed(let workerIDs, let epoch):
                let workers = Set(workerIDs).count
                notice("\(epoch == 1 ? "running" : "resumed") on \(workers) worker\(workers == 1 ? "" : "s") (clip by clip: \(workerIDs.joined(separator: ", ")))")
                if epoch == 1 { show(ProgressSnapshot(step: 0, steps: request.steps, clips: plan.count, elapsed: 0)) }
            case .progress(let step, let steps, let clips, let elapsed, let exchangeFraction):
                // One clip exchanges nothing: a share would only say "0%".
                show(ProgressSnapshot(step: step, steps: steps, clips: clips, elapsed: seconds(elapsed),
                                      exchangeFraction: clips > 1 ? exchangeFraction : nil))
            case .recovering(let failedWorkerIDs, let reason, let resumeStep):
                notice("recovering: lost \(failedWorkerIDs.joined(separator: ", ")) (\(reason)); resuming from step \(resumeStep)")
            case .completed(let completed):
                result = completed
            case .failed(let code, let message):
                throw RPCError(code: code, message: "job \(handle.jobID) failed: \(message)")
            }
        }
        guard let latents = result?.latents else {
            throw RPCError(code: .internalError, message: "job \(handle.jobID): the updates ended without a result")
        }
        try keepIfUndecodable(latents, request: request)
        return (latents.values, latents.shape)
    }

    /// The latents' channel count is known only now (the model is on the workers): when no
    /// decoder can show them, the latents are saved beside `--out` before failing, so the
    /// cluster's work is not lost.
    private static func keepIfUndecodable(_ latents: HostTensor, request: Request) throws {
        guard request.format.isVideo else { return }
        do {
            _ = try LatentDecoder.isApproximate(channels: latents.shape.first ?? 0)
        } catch {
            let path = (request.out.hasSuffix("/") ? String(request.out.dropLast()) : request.out) + ".latents.safetensors"
            try writeOutput(latents: latents.values, shape: latents.shape, to: path, format: .safetensors, fps: request.fpsOut)
            throw Arguments.Failure(description: "--out \(request.out): \(error); the latents are saved in \(path)")
        }
    }

    /// `duration` in seconds.
    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
