import ClusterWire
import Model
import Parallel
import RPC
import Tensor

/// The per-node agent's state: the model it loaded once, and for each job it takes part in the
/// clips it holds at the job's newest epoch. Driven by the coordinator through the Worker
/// service (``WorkerService``): assign, step, checkpoint, restore, abort, drop.
///
/// Each Step runs the worker's clips of the job as concurrent tasks, exchanging context with
/// the job's other clips through an ``RPCContextExchange``; the actor is free meanwhile, so
/// peers' pushes, aborts and heartbeats go on during a step.
public actor WorkerAgent {
    /// The denoiser (its backend's threads are the worker's compute).
    public nonisolated let model: UNet3DConditionModel
    /// Name and hash of the loaded model.
    public nonisolated let identity: ModelIdentity
    /// The model folder's scheduler config (or the text-to-video default).
    public nonisolated let schedulerConfig: SchedulerConfig
    /// Most clips this worker holds at once.
    public nonisolated let maxClips: Int
    /// Channels to peers (and the coordinator).
    public nonisolated let peers: PeerChannels
    /// The id the coordinator gave this worker ("" before registration).
    public private(set) var workerID = ""

    private var jobs: [String: WorkerJob] = [:]

    /// An agent running `model`.
    public init(model: UNet3DConditionModel, identity: ModelIdentity, schedulerConfig: SchedulerConfig,
                maxClips: Int, peers: PeerChannels) {
        self.model = model
        self.identity = identity
        self.schedulerConfig = schedulerConfig
        self.maxClips = maxClips
        self.peers = peers
    }

    /// Sets the id the coordinator assigned.
    public func registered(as id: String) { workerID = id }

    /// Clips held over all jobs.
    public var activeClips: Int { jobs.values.reduce(0) { $0 + $1.clips.count } }

    /// Jobs held.
    public var jobIDs: [String] { jobs.keys.sorted() }

    // MARK: Assignment

    func assign(_ request: AssignClipsRequest) throws(RPCError) -> AssignClipsResponse {
        guard !workerID.isEmpty else { throw RPCError(code: .failedPrecondition, message: "this worker has not registered yet") }
        guard let parameters = request.parameters else { throw RPCError(code: .invalidArgument, message: "parameters: missing") }
        let spec = try JobSpec(parameters)
        guard identity.matches(spec.model) else {
            throw RPCError(code: .failedPrecondition, message: "job \(request.jobID) needs model '\(spec.model)'; this worker holds '\(identity.name)' (\(identity.hash))")
        }
        guard request.clipFrames.map(Int.init) == spec.plan.clipFrames else {
            throw RPCError(code: .invalidArgument, message: "clip_frames \(request.clipFrames) differ from the plan of the parameters \(spec.plan.clipFrames)")
        }
        if let current = jobs[request.jobID], current.epoch >= request.epoch {
            throw RPCError(code: .aborted, message: "job \(request.jobID): epoch \(request.epoch) is not newer than the held epoch \(current.epoch)")
        }
        guard request.routes.count == spec.plan.count,
              request.routes.enumerated().allSatisfy({ $0.offset == Int($0.element.clip) && !$0.element.address.isEmpty }) else {
            throw RPCError(code: .invalidArgument, message: "routes must name a worker and address for each of the \(spec.plan.count) clips, in clip order")
        }
        let routes = JobRoutes(jobID: request.jobID, epoch: request.epoch, selfID: workerID,
                               workers: request.routes.map { ($0.workerID, $0.address) })
        let clips = request.clips.map(Int.init).sorted()
        guard clips == routes.localClips, !clips.isEmpty else {
            throw RPCError(code: .invalidArgument, message: "clips \(clips) are not the clips the routes place on this worker \(routes.localClips)")
        }
        let others = jobs.filter { $0.key != request.jobID }.values.reduce(0) { $0 + $1.clips.count }
        guard others + clips.count <= maxClips else {
            throw RPCError(code: .resourceExhausted, message: "\(clips.count) clips would exceed this worker's capacity (\(maxClips), \(others) held)")
        }
        let job: WorkerJob
        do {
            job = try WorkerJob(spec: spec, routes: routes, clips: clips, restore: request.restore, agent: self)
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(code: .invalidArgument, message: "job \(request.jobID): \(error)")
        }
        if let previous = jobs[request.jobID] {
            let superseded = RPCError(code: .aborted, message: "job \(request.jobID) epoch \(previous.epoch) superseded by epoch \(request.epoch)")
            Task { await previous.exchange.abort(superseded) }
        }
        jobs[request.jobID] = job
        return AssignClipsResponse(timesteps: job.timesteps.map { Int32($0) })
    }

    nonisolated func makeScheduler(_ kind: ClusterWire.SchedulerKind, steps: Int) throws -> any Scheduler {
        try Model.makeScheduler(config: schedulerConfig, kind: kind == .ddim ? .ddim : .dpmSolverMultistep, steps: steps)
    }

    private func job(_ id: String, epoch: UInt64) throws(RPCError) -> WorkerJob {
        guard let job = jobs[id] else { throw RPCError(code: .notFound, message: "job \(id) is not held by this worker") }
        guard job.epoch == epoch else {
            throw RPCError(code: .aborted, message: "job \(id): epoch \(epoch) is not the held epoch \(job.epoch)")
        }
        return job
    }

    // MARK: Steps

    func step(_ request: StepRequest) async throws(RPCError) -> StepResponse {
        let job = try job(request.jobID, epoch: request.epoch)
        if let failure = job.failure { throw failure }
        guard !job.stepping else { throw RPCError(code: .failedPrecondition, message: "job \(request.jobID): a step is already running") }
        guard job.pendingRestore.isEmpty else {
            throw RPCError(code: .failedPrecondition, message: "job \(request.jobID): clips \(job.pendingRestore.sorted()) await their checkpoints")
        }
        let step = Int(request.step)
        guard (0 ..< job.timesteps.count).contains(step), job.timesteps[step] == Int(request.timestep) else {
            throw RPCError(code: .invalidArgument, message: "step \(step) at timestep \(request.timestep) is not in this job's schedule")
        }
        let wanted = request.clips.isEmpty ? job.clips.keys.sorted() : request.clips.map(Int.init).sorted()
        var states: [(Int, ClipRun)] = []
        for clip in wanted {
            guard let run = job.clips[clip] else { throw RPCError(code: .notFound, message: "job \(request.jobID): clip \(clip) is not held here") }
            guard run.state.completedSteps == step else {
                throw RPCError(code: .failedPrecondition, message: "job \(request.jobID) clip \(clip) has completed \(run.state.completedSteps) steps, not \(step)")
            }
            states.append((clip, run))
        }
        job.stepping = true
        defer { job.stepping = false }
        _ = job.exchange.takeStatistics()
        let start = ContinuousClock.now
        let timestep = job.timesteps[step]
        let denoiser = GuidedDenoiser(model: model, guidance: job.spec.guidance)
        let exchange = TimedExchange(base: job.exchange)
        let (plan, config) = (job.spec.plan, job.spec.videoInfinity)
        let results: [(Int, DenoisingState)]
        do {
            results = try await withThrowingTaskGroup(of: (Int, DenoisingState).self) { group in
                for (clip, run) in states {
                    let context = DualScopeContext(clip: clip, plan: plan, config: config, exchange: exchange,
                                                   forward: step, timestep: timestep)
                    group.addTask {
                        var state = run.state
                        do {
                            try await state.step(denoiser: denoiser, timestep: timestep, conditioning: run.conditioning,
                                                 temporal: context)
                        } catch {
                            await exchange.abort(ClipFailure(clip: clip, step: step, underlying: error))
                            throw error
                        }
                        return (clip, state)
                    }
                }
                var results: [(Int, DenoisingState)] = []
                var peerFailure: (any Error)?
                while let result = await group.nextResult() {
                    switch result {
                    case .success(let value): results.append(value)
                    case .failure(let error as ClipFailure): peerFailure = peerFailure ?? error
                    case .failure(let error):
                        group.cancelAll()
                        throw error
                    }
                }
                if let peerFailure { throw peerFailure }
                return results
            }
        } catch {
            let failure = rpcError(error, context: "job \(request.jobID) step \(step + 1)")
            // The exchange is spent (a failed collective cannot be resumed): this epoch is over.
            job.failure = failure.code == .cancelled ? RPCError(code: .aborted, message: failure.message) : failure
            throw failure
        }
        // A newer epoch may have replaced the job while it stepped: its results are void.
        guard jobs[request.jobID] === job else {
            throw RPCError(code: .aborted, message: "job \(request.jobID) epoch \(request.epoch) was superseded during the step")
        }
        for (clip, state) in results { job.clips[clip]?.state = state }
        let elapsed = ContinuousClock.now - start
        let statistics = job.exchange.takeStatistics()
        // Clips wait concurrently: the exchange share is the average clip's.
        let clips = Int64(max(1, wanted.count))
        return StepResponse(clips: wanted.map { Int32($0) }, stepMicros: elapsed.microseconds,
                            exchangeMicros: statistics.waitMicros / clips, pushMicros: statistics.pushMicros / clips)
    }

    // MARK: Checkpoints

    func checkpoint(_ request: GetCheckpointRequest) throws(RPCError) -> DenoisingCheckpoint {
        let job = try job(request.jobID, epoch: request.epoch)
        guard let run = job.clips[Int(request.clip)] else {
            throw RPCError(code: .notFound, message: "job \(request.jobID): clip \(request.clip) is not held here")
        }
        guard !job.stepping else { throw RPCError(code: .failedPrecondition, message: "job \(request.jobID): a step is running") }
        return run.state.checkpoint
    }

    func restore(jobID: String, epoch: UInt64, clip: Int, checkpoint: DenoisingCheckpoint) throws(RPCError) {
        let job = try job(jobID, epoch: epoch)
        guard job.clips[clip] != nil else { throw RPCError(code: .notFound, message: "job \(jobID): clip \(clip) is not held here") }
        do {
            let state = try DenoisingState(restoring: checkpoint, scheduler: try makeScheduler(job.spec.scheduler, steps: job.spec.steps))
            let expected = [1, model.config.inChannels, job.spec.plan.clipFrames[clip], job.spec.height, job.spec.width]
            guard state.shape == expected else {
                throw RPCError(code: .invalidArgument, message: "checkpoint of clip \(clip) has shape \(state.shape), the clip needs \(expected)")
            }
            job.clips[clip]?.state = state
            job.pendingRestore.remove(clip)
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(code: .invalidArgument, message: "checkpoint of clip \(clip): \(error)")
        }
    }

    // MARK: Context, abort, drop

    func pushContext(_ push: ContextPush) async throws(RPCError) {
        let job = try job(push.jobID, epoch: push.epoch)
        try await job.exchange.receive(push)
    }

    func abort(_ request: AbortJobRequest) async {
        guard let job = jobs[request.jobID], job.epoch <= request.epoch else { return }
        let failure = RPCError(code: .aborted, message: "job \(request.jobID) epoch \(job.epoch) aborted: \(request.reason)")
        job.failure = failure
        await job.exchange.abort(failure)
    }

    func drop(_ jobID: String) async -> UInt64 {
        guard let job = jobs.removeValue(forKey: jobID) else { return 0 }
        await job.exchange.abort(RPCError(code: .aborted, message: "job \(jobID) dropped"))
        return UInt64(job.clips.values.reduce(0) { $0 + $1.state.latents.count * 4 })
    }

    /// Drops every job the coordinator no longer runs here.
    public func dropJobs(_ ids: [String]) async {
        for id in ids { _ = await drop(id) }
    }
}

/// One clip's state on its worker.
struct ClipRun: Sendable {
    var state: DenoisingState
    let conditioning: Conditioning
}

/// A job's placement on this worker at one epoch. Only the agent's actor touches it.
final class WorkerJob: @unchecked Sendable {
    // @unchecked: created, read and mutated only on the WorkerAgent actor; step tasks get
    // copies of the values they need.
    let spec: JobSpec
    let epoch: UInt64
    let exchange: RPCContextExchange
    let timesteps: [Int]
    var clips: [Int: ClipRun] = [:]
    var pendingRestore: Set<Int> = []
    var stepping = false
    var failure: RPCError?

    init(spec: JobSpec, routes: JobRoutes, clips: [Int], restore: Bool, agent: WorkerAgent) throws {
        self.spec = spec
        epoch = routes.epoch
        exchange = RPCContextExchange(routes: routes, peers: agent.peers)
        let model = agent.model
        let scheduler = try agent.makeScheduler(spec.scheduler, steps: spec.steps)
        timesteps = scheduler.timesteps
        guard spec.embeddings.prompts.shape[2] == model.config.crossAttentionDim else {
            throw RPCError(code: .invalidArgument, message: "embeddings width \(spec.embeddings.prompts.shape[2]) does not match the model's cross-attention width \(model.config.crossAttentionDim)")
        }
        for clip in clips {
            let shape = [1, model.config.inChannels, spec.plan.clipFrames[clip], spec.height, spec.width]
            let conditioning = try spec.embeddings.conditioning(
                prompt: spec.plan.prompt(ofClip: clip, prompts: spec.embeddings.count),
                fps: model.config.fpsConditioning ? spec.fps : nil, on: model.backend)
            let state = try DenoisingState(shape: shape, seed: spec.plan.seed(ofClip: clip, base: spec.seed), scheduler: scheduler)
            self.clips[clip] = ClipRun(state: state, conditioning: conditioning)
        }
        if restore { pendingRestore = Set(clips) }
    }
}
