import Checksums
import ClusterWire
import Foundation
import Model
import Parallel
import RPC

/// How a coordinator runs.
public struct CoordinatorSettings: Sendable {
    /// Checkpoint every clip after this many completed steps (jobs may ask for another interval).
    public var checkpointInterval: Int
    /// Also write each checkpoint under this folder (`<job>/clip-<n>.ckpt`); nil: memory only.
    public var checkpointDirectory: String?
    /// How often workers heartbeat, and how long a silent worker counts as alive.
    public var heartbeatInterval: Duration
    public var heartbeatTimeout: Duration
    /// Recoveries a job may go through before it fails.
    public var maxRecoveries: Int
    /// Finished jobs remembered for GetJob and GetJobResult.
    public var finishedJobsKept: Int

    /// Settings; see each property.
    public init(checkpointInterval: Int = 2, checkpointDirectory: String? = nil, heartbeatInterval: Duration = .milliseconds(500),
                heartbeatTimeout: Duration = .seconds(3), maxRecoveries: Int = 16, finishedJobsKept: Int = 64) {
        self.checkpointInterval = checkpointInterval
        self.checkpointDirectory = checkpointDirectory
        self.heartbeatInterval = heartbeatInterval
        self.heartbeatTimeout = heartbeatTimeout
        self.maxRecoveries = maxRecoveries
        self.finishedJobsKept = finishedJobsKept
    }
}

/// The version string workers and coordinator compare at registration: checkpoints (scheduler
/// and generator state) move only between workers of one version.
public let clusterVersion = "infinity-cluster/1"

/// The Coordinator actor: the worker registry with failure detection, the job queue, placement of
/// clips on workers by capacity, lock-step driving of every job's steps, checkpoints, and
/// recovery when a worker fails (its clips are re-placed on live workers, or on one that joins,
/// and every clip resumes from the last checkpoint, so the result is bit-identical to a
/// fault-free run).
public actor Coordinator {
    public let settings: CoordinatorSettings
    let peers: PeerChannels
    private var workers: [String: WorkerRecord] = [:]
    private var workerOrder: [String] = []
    private var detector: FailureDetector
    private var clusterModelHash: String?
    private var jobs: [String: JobRecord] = [:]
    private var queue: [String] = []
    private var finishedOrder: [String] = []
    private var nextWorkerNumber = 1
    private var nextJobNumber = 1
    private var monitor: Task<Void, Never>?

    /// A coordinator with no workers or jobs; `token` authenticates its calls to workers.
    public init(settings: CoordinatorSettings, token: String?) {
        self.settings = settings
        peers = PeerChannels(token: token)
        detector = FailureDetector(timeout: settings.heartbeatTimeout)
    }

    /// Starts failure detection (heartbeat timeouts).
    public func start() {
        guard monitor == nil else { return }
        let interval = settings.heartbeatInterval
        monitor = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval / 2)
                await self?.checkHeartbeats()
            }
        }
    }

    /// Stops failure detection and every job's driver; closes channels.
    public func stop() async {
        monitor?.cancel()
        monitor = nil
        for job in jobs.values where !job.state.isFinal { job.cancelRequested = "the coordinator is shutting down" }
        await peers.closeAll()
    }

    // MARK: Workers

    func register(_ request: RegisterWorkerRequest) throws(RPCError) -> RegisterWorkerResponse {
        guard request.version == clusterVersion else {
            throw RPCError(code: .failedPrecondition, message: "worker version '\(request.version)' differs from the coordinator's '\(clusterVersion)'")
        }
        guard let capacity = request.capacity, capacity.maxClips >= 1 else {
            throw RPCError(code: .invalidArgument, message: "capacity.max_clips must be >= 1")
        }
        _ = try parseAddress(request.address)
        guard request.modelHash.count == 64, request.modelHash.allSatisfy(\.isHexDigit) else {
            throw RPCError(code: .invalidArgument, message: "model_hash must be 64 hex digits (SHA-256), got '\(request.modelHash)'")
        }
        if let hash = clusterModelHash, hash != request.modelHash {
            throw RPCError(code: .failedPrecondition, message: "worker at \(request.address) holds model '\(request.modelName)' with hash \(request.modelHash); the cluster's workers hold \(hash)")
        }
        clusterModelHash = request.modelHash
        // A worker re-registering (it lost its heartbeat, or restarted) is a new worker: its
        // old clips were re-placed when it was declared failed.
        let id = "w\(nextWorkerNumber)"
        nextWorkerNumber += 1
        workers[id] = WorkerRecord(id: id, address: request.address, modelName: request.modelName, modelHash: request.modelHash,
                                   capacity: capacity)
        workerOrder.append(id)
        detector.heard(from: id, at: .now)
        log("worker \(id) registered at \(request.address) (\(capacity.maxClips) clips, model \(request.modelName))")
        schedule()
        return RegisterWorkerResponse(workerID: id, heartbeatIntervalMs: Int32(settings.heartbeatInterval.milliseconds),
                                      heartbeatTimeoutMs: Int32(settings.heartbeatTimeout.milliseconds))
    }

    func heartbeat(_ request: HeartbeatRequest) throws(RPCError) -> HeartbeatResponse {
        guard let worker = workers[request.workerID], worker.state == .ready else {
            throw RPCError(code: .notFound, message: "worker \(request.workerID) is not registered (or was declared failed): register again")
        }
        worker.lastHeartbeat = Date()
        detector.heard(from: worker.id, at: .now)
        let drop = request.jobIDs.filter { id in
            guard let job = jobs[id], !job.state.isFinal else { return true }
            return !job.placement.contains(worker.id)
        }
        return HeartbeatResponse(dropJobIDs: drop)
    }

    func listWorkers() -> ListWorkersResponse {
        ListWorkersResponse(workers: workerOrder.compactMap { workers[$0] }.map(\.info))
    }

    /// Workers ready for clips.
    public var readyWorkerCount: Int { workers.values.filter { $0.state == .ready }.count }

    private func checkHeartbeats() {
        for id in detector.expired(at: .now) {
            markFailed(id, reason: "no heartbeat for \(settings.heartbeatTimeout.milliseconds) ms")
        }
    }

    private func markFailed(_ id: String, reason: String) {
        detector.forget(id)
        guard let worker = workers[id], worker.state != .failed else { return }
        worker.state = .failed
        worker.failureReason = reason
        log("worker \(id) at \(worker.address) failed: \(reason)")
        let address = worker.address
        Task { await peers.drop(address) }
    }

    // MARK: Jobs

    /// Accepts a job; the returned stream carries its events until it ends.
    func submit(_ request: SubmitJobRequest) throws(RPCError) -> (JobRecord, AsyncStream<JobEvent>) {
        guard let parameters = request.parameters else { throw RPCError(code: .invalidArgument, message: "parameters: missing") }
        let spec = try JobSpec(parameters)
        guard request.checkpointInterval >= 0 else {
            throw RPCError(code: .invalidArgument, message: "checkpoint_interval must be >= 0, got \(request.checkpointInterval)")
        }
        let holders = workers.values.filter { $0.state == .ready && ($0.modelName == spec.model || $0.modelHash == spec.model.lowercased()) }
        guard !holders.isEmpty else {
            let known = Set(workers.values.filter { $0.state == .ready }.map(\.modelName)).sorted()
            throw RPCError(code: .notFound, message: "no registered worker holds model '\(spec.model)' (workers hold: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
        }
        let id = "job-\(nextJobNumber)"
        nextJobNumber += 1
        let (stream, continuation) = AsyncStream.makeStream(of: JobEvent.self, bufferingPolicy: .unbounded)
        let job = JobRecord(id: id, label: request.label, spec: spec,
                            checkpointInterval: request.checkpointInterval > 0 ? Int(request.checkpointInterval) : settings.checkpointInterval,
                            events: continuation)
        jobs[id] = job
        queue.append(id)
        job.emit(.accepted(JobAccepted(jobID: id, clipFrames: spec.plan.clipFrames.map { Int32($0) }, queuePosition: Int32(queue.count - 1))))
        log("\(id) accepted: \(spec.plan.totalFrames) frames as \(spec.plan.count) clips, \(spec.steps) steps")
        schedule()
        return (job, stream)
    }

    /// Cancels a job; returns its state afterwards.
    func cancel(_ id: String, reason: String) throws(RPCError) -> JobState {
        guard let job = jobs[id] else { throw RPCError(code: .notFound, message: "job \(id) is not known") }
        guard !job.state.isFinal else { return job.state }
        if let index = queue.firstIndex(of: id) {
            queue.remove(at: index)
            finish(job, state: .cancelled, error: RPCError(code: .cancelled, message: reason))
            return .cancelled
        }
        job.cancelRequested = reason
        return .cancelled
    }

    func status(_ id: String) throws(RPCError) -> JobStatus {
        guard let job = jobs[id] else { throw RPCError(code: .notFound, message: "job \(id) is not known") }
        return job.status
    }

    func listJobs() -> ListJobsResponse {
        let active = jobs.values.filter { !$0.state.isFinal }.sorted { $0.number < $1.number }
        let finished = finishedOrder.reversed().compactMap { jobs[$0] }
        return ListJobsResponse(jobs: (active + finished).map(\.status))
    }

    func result(_ id: String) throws(RPCError) -> HostTensor {
        guard let job = jobs[id] else { throw RPCError(code: .notFound, message: "job \(id) is not known") }
        guard let result = job.result else {
            throw RPCError(code: .failedPrecondition, message: "job \(id) is \(job.state) and has no result")
        }
        return result
    }

    /// Places queued jobs, in order, while capacity allows; starts their drivers.
    private func schedule() {
        while let id = queue.first, let job = jobs[id] {
            guard let placement = place(job) else { return }
            queue.removeFirst()
            occupy(job, placement)
            job.state = .running
            job.startedAt = .now
            Task { await self.drive(job) }
        }
    }

    private func place(_ job: JobRecord) -> [String]? {
        let slots = workerOrder.compactMap { workers[$0] }.filter { $0.state == .ready }
            .map { WorkerSlot(workerID: $0.id, freeClips: Int($0.capacity.maxClips) - $0.placedClips) }
        return PlacementPolicy.place(clipCount: job.spec.plan.count, on: slots)
    }

    private func occupy(_ job: JobRecord, _ placement: [String]) {
        job.placement = placement
        job.epoch += 1
        for id in placement { workers[id]?.placedClips += 1 }
    }

    private func release(_ job: JobRecord) {
        for id in job.placement { workers[id]?.placedClips -= 1 }
        job.placement = []
    }

    private func finish(_ job: JobRecord, state: JobState, error: RPCError? = nil) {
        guard !job.state.isFinal else { return }
        release(job)
        job.state = state
        job.finishedAt = Date()
        if let error {
            job.errorMessage = error.message
            job.emit(.failed(JobFailed(code: Int32(error.code.rawValue), message: error.message)))
        }
        job.finishEvents()
        finishedOrder.append(job.id)
        while finishedOrder.count > settings.finishedJobsKept {
            jobs.removeValue(forKey: finishedOrder.removeFirst())
        }
        log("\(job.id) \(state)\(error.map { ": \($0.message)" } ?? "")")
        schedule()
    }

    // MARK: Driving a job

    /// Where the driver's workers are: id and address per clip, this epoch.
    private func routes(_ job: JobRecord) -> [ClipRoute] {
        job.placement.enumerated().map { clip, id in ClipRoute(clip: Int32(clip), workerID: id, address: workers[id]?.address ?? "") }
    }

    private func drive(_ job: JobRecord) async {
        while true {
            do {
                try await runPlacement(job)
                return
            } catch {
                if let reason = job.cancelRequested {
                    await abortOnWorkers(job, reason: reason, drop: true)
                    finish(job, state: .cancelled, error: RPCError(code: .cancelled, message: reason))
                    return
                }
                let failed = await failedWorkers(of: job)
                let rpcFailure = rpcError(error, context: job.id)
                guard !failed.isEmpty else {
                    await abortOnWorkers(job, reason: rpcFailure.message, drop: true)
                    finish(job, state: .failed, error: rpcFailure)
                    return
                }
                for id in failed where workers[id]?.state == .ready { markFailed(id, reason: "unreachable: \(rpcFailure.message)") }
                guard job.recoveries < settings.maxRecoveries else {
                    await abortOnWorkers(job, reason: "too many recoveries", drop: true)
                    finish(job, state: .failed, error: RPCError(code: .unavailable, message: "\(job.id) failed after \(job.recoveries) recoveries; last: \(rpcFailure.message)"))
                    return
                }
                job.recoveries += 1
                job.state = .recovering
                let resumeStep = job.checkpoint?.step ?? 0
                job.emit(.recovering(JobRecovering(failedWorkerIDs: failed, reason: rpcFailure.message, resumeStep: Int32(resumeStep))))
                log("\(job.id) recovering from the loss of \(failed.joined(separator: ", ")) at step \(job.step); resuming from step \(resumeStep)")
                await abortOnWorkers(job, reason: "recovering from the loss of \(failed.joined(separator: ", "))", drop: true)
                release(job)
                // Wait for room on live workers (or for a worker to join).
                while true {
                    if let reason = job.cancelRequested {
                        finish(job, state: .cancelled, error: RPCError(code: .cancelled, message: reason))
                        return
                    }
                    if readyWorkerCount == 0 {
                        finish(job, state: .failed, error: RPCError(code: .unavailable, message: "\(job.id): no worker left (lost \(failed.joined(separator: ", ")))"))
                        return
                    }
                    if let placement = place(job) {
                        occupy(job, placement)
                        job.state = .running
                        break
                    }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    /// Runs the job at its current placement from its last checkpoint (or from the start) to
    /// the end; throws on any failure.
    private func runPlacement(_ job: JobRecord) async throws {
        let spec = job.spec
        let epoch = job.epoch
        let routes = routes(job)
        let byWorker = Dictionary(grouping: routes, by: \.workerID)
        let resume = job.checkpoint
        // Assign.
        let parameters = spec.parameters
        let clipFrames = spec.plan.clipFrames.map { Int32($0) }
        let timesteps = try await forEachWorker(job, byWorker) { id, address, clips in
            let request = AssignClipsRequest(jobID: job.id, epoch: epoch, parameters: parameters, clipFrames: clipFrames,
                                             clips: clips.map(\.clip), routes: routes, restore: resume != nil)
            return try await self.peers.channel(address).unary(WorkerMethods.assignClips, request: request,
                                                               responseType: AssignClipsResponse.self).timesteps
        }
        let schedule = timesteps.values.first ?? []
        guard timesteps.values.allSatisfy({ $0 == schedule }), schedule.count == spec.steps else {
            throw RPCError(code: .internalError, message: "workers disagree on the schedule: \(timesteps)")
        }
        // Restore.
        if let resume {
            _ = try await forEachWorker(job, byWorker) { _, address, clips in
                for route in clips {
                    let chunks = CheckpointStreaming.chunks(resume.clips[Int(route.clip)], jobID: job.id, epoch: epoch, clip: Int(route.clip))
                    _ = try await self.peers.channel(address).clientStreaming(
                        WorkerMethods.putCheckpoint, requests: chunks.async, responseType: PutCheckpointResponse.self)
                }
                return clips.count
            }
        }
        job.step = resume?.step ?? 0
        job.emit(.placement(JobPlacement(workerIDs: job.placement, epoch: epoch)))
        // Steps.
        for step in job.step ..< spec.steps {
            let timestep = schedule[step]
            let responses = try await forEachWorker(job, byWorker) { _, address, _ in
                let response = try await self.peers.channel(address).unary(
                    WorkerMethods.step, request: StepRequest(jobID: job.id, epoch: epoch, step: Int32(step), timestep: timestep),
                    responseType: StepResponse.self)
                return [response.stepMicros, response.exchangeMicros, response.pushMicros]
            }
            job.step = step + 1
            // Checkpoint before reporting the step: a job that reported step k at a checkpoint
            // interval resumes from k whatever fails next.
            if (step + 1) % job.checkpointInterval == 0 && step + 1 < spec.steps {
                job.checkpoint = JobCheckpoint(step: step + 1, clips: try await fetchClips(job, routes, epoch: epoch))
                try writeCheckpointToDisk(job)
            }
            let totals = responses.values.reduce((Int64(0), Int64(0), Int64(0))) { ($0.0 + $1[0], $0.1 + $1[1], $0.2 + $1[2]) }
            job.lastExchangeFraction = totals.0 > 0 ? Double(totals.1) / Double(totals.0) : 0
            job.stepMicros += totals.0
            job.exchangeMicros += totals.1
            job.pushMicros += totals.2
            job.emit(.progress(JobProgress(step: Int32(step + 1), steps: Int32(spec.steps), clips: Int32(spec.plan.count),
                                           elapsedMs: Int64((ContinuousClock.now - job.startedAt).milliseconds),
                                           exchangeFraction: job.lastExchangeFraction)))
        }
        // Result.
        let clips = try await fetchClips(job, routes, epoch: epoch)
        guard clips.allSatisfy({ $0.completedSteps == spec.steps }) else {
            throw RPCError(code: .internalError, message: "a clip's final state is not at step \(spec.steps)")
        }
        let result = assemble(clips, plan: spec.plan)
        let bytes = result.values.withUnsafeBytes { Array($0) }
        for chunk in TensorChunking.chunks(of: result) { job.emit(.resultChunk(chunk)) }
        job.emit(.completed(JobCompleted(shape: result.shape.map { Int64($0) }, crc32: CRC32.checksum(bytes))))
        job.result = result
        let seconds = Double((ContinuousClock.now - job.startedAt).milliseconds) / 1000
        func rounded(_ value: Double, _ digits: Double) -> Double { (value * digits).rounded() / digits }
        log("\(job.id) finished \(spec.steps) steps of \(spec.plan.totalFrames) frames in \(rounded(seconds, 100)) s "
            + "(\(rounded(Double(spec.plan.totalFrames) / seconds, 10)) frames/s); of the workers' step time, context exchange took "
            + "\(rounded(100 * Double(job.exchangeMicros) / Double(max(1, job.stepMicros)), 10))% (pushing to peers "
            + "\(rounded(100 * Double(job.pushMicros) / Double(max(1, job.stepMicros)), 10))%, the rest waiting for peers)")
        await abortOnWorkers(job, reason: "completed", drop: true)
        finish(job, state: .completed)
    }

    /// Runs `body` for every worker of the placement concurrently, together with a watcher
    /// that throws as soon as one of them is declared failed or the job is cancelled: a hung
    /// worker cannot stall the job past its heartbeat timeout.
    private func forEachWorker<T: Sendable>(_ job: JobRecord, _ byWorker: [String: [ClipRoute]],
                                            _ body: @escaping @Sendable (String, String, [ClipRoute]) async throws -> T) async throws -> [String: T] {
        let ids = Array(byWorker.keys)
        let addresses = ids.map { workers[$0]?.address ?? "" }
        return try await withThrowingTaskGroup(of: (String, T)?.self) { group in
            for (id, address) in zip(ids, addresses) {
                let clips = byWorker[id] ?? []
                group.addTask {
                    do {
                        return (id, try await body(id, address, clips))
                    } catch {
                        throw WorkerCallFailure(workerID: id, underlying: error)
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    if let problem = await self.interruption(job, ids) { throw problem }
                    try await Task.sleep(for: .milliseconds(50))
                }
                return nil
            }
            var results: [String: T] = [:]
            while results.count < ids.count, let next = try await group.next() {
                if let (id, value) = next { results[id] = value }
            }
            group.cancelAll()
            return results
        }
    }

    private func interruption(_ job: JobRecord, _ ids: [String]) -> (any Error)? {
        if let reason = job.cancelRequested { return RPCError(code: .cancelled, message: reason) }
        if let lost = ids.first(where: { workers[$0]?.state != .ready }) {
            return RPCError(code: .unavailable, message: "worker \(lost) failed: \(workers[lost]?.failureReason ?? "unknown")")
        }
        return nil
    }

    private func fetchClips(_ job: JobRecord, _ routes: [ClipRoute], epoch: UInt64) async throws -> [DenoisingCheckpoint] {
        let byWorker = Dictionary(grouping: routes, by: \.workerID)
        let fetched = try await forEachWorker(job, byWorker) { _, address, clips in
            var result: [(Int, DenoisingCheckpoint)] = []
            for route in clips {
                let stream = try await self.peers.channel(address).serverStreaming(
                    WorkerMethods.getCheckpoint, request: GetCheckpointRequest(jobID: job.id, epoch: epoch, clip: route.clip),
                    responseType: CheckpointChunk.self)
                result.append((Int(route.clip), try await CheckpointStreaming.assemble(stream).checkpoint))
            }
            return result
        }
        let all = Dictionary(uniqueKeysWithValues: fetched.values.flatMap { $0 })
        return (0 ..< routes.count).map { all[$0]! }
    }

    /// Workers of `job` that are failed or do not answer a health check within a second.
    private func failedWorkers(of job: JobRecord) async -> [String] {
        let ids = Array(Set(job.placement)).sorted()
        var failed: [String] = []
        for id in ids {
            guard let worker = workers[id] else { continue }
            if worker.state != .ready { failed.append(id); continue }
            let healthy: Bool
            do {
                let channel = try peers.channel(worker.address)
                let response = try await channel.unary(HealthService.check, request: HealthCheckRequest(),
                                                       responseType: HealthCheckResponse.self, options: CallOptions(timeout: .seconds(1)))
                healthy = response.status == .serving
            } catch {
                healthy = false
            }
            if !healthy { failed.append(id) }
        }
        return failed
    }

    private func abortOnWorkers(_ job: JobRecord, reason: String, drop: Bool) async {
        let epoch = job.epoch
        for id in Set(job.placement) {
            guard let worker = workers[id], worker.state == .ready, let channel = try? peers.channel(worker.address) else { continue }
            let options = CallOptions(timeout: .seconds(2))
            if drop {
                _ = try? await channel.unary(WorkerMethods.dropJob, request: DropJobRequest(jobID: job.id), responseType: DropJobResponse.self, options: options)
            } else {
                _ = try? await channel.unary(WorkerMethods.abortJob, request: AbortJobRequest(jobID: job.id, epoch: epoch, reason: reason),
                                             responseType: AbortJobResponse.self, options: options)
            }
        }
    }

    private func writeCheckpointToDisk(_ job: JobRecord) throws {
        guard let directory = settings.checkpointDirectory, let checkpoint = job.checkpoint else { return }
        let folder = URL(fileURLWithPath: directory).appendingPathComponent(job.id)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (clip, state) in checkpoint.clips.enumerated() {
            var bytes: [UInt8] = []
            for chunk in CheckpointStreaming.chunks(state, jobID: job.id, epoch: job.epoch, clip: clip) {
                let message = chunk.serializedBytes()
                withUnsafeBytes(of: UInt32(message.count).littleEndian) { bytes.append(contentsOf: $0) }
                bytes.append(contentsOf: message)
            }
            try Data(bytes).write(to: folder.appendingPathComponent("clip-\(clip).ckpt"), options: .atomic)
        }
    }

    private func assemble(_ clips: [DenoisingCheckpoint], plan: ClipPlan) -> HostTensor {
        let shape = clips[0].shape
        let (channels, height, width) = (shape[1], shape[3], shape[4])
        return HostTensor(shape: [channels, plan.totalFrames, height, width],
                          values: plan.assemble(clips.map(\.latents), channels: channels, plane: height * width))
    }

    private nonisolated func log(_ message: String) {
        FileHandle.standardError.write(Data("coordinator: \(message)\n".utf8))
    }
}

/// A call to a worker failed.
struct WorkerCallFailure: Error, CustomStringConvertible {
    let workerID: String
    let underlying: any Error
    var description: String { "worker \(workerID): \(underlying)" }
}

/// The clips' states at a completed step, from which a job resumes after a failure.
struct JobCheckpoint: Sendable {
    let step: Int
    let clips: [DenoisingCheckpoint]
}

/// A registered worker. Only the coordinator actor touches it.
final class WorkerRecord: @unchecked Sendable {
    // @unchecked: created and mutated only on the Coordinator actor.
    let id: String
    let address: String
    let modelName: String
    let modelHash: String
    let capacity: WorkerCapacity
    var state: WorkerState = .ready
    var placedClips = 0
    var lastHeartbeat = Date()
    var failureReason: String?

    init(id: String, address: String, modelName: String, modelHash: String, capacity: WorkerCapacity) {
        self.id = id
        self.address = address
        self.modelName = modelName
        self.modelHash = modelHash
        self.capacity = capacity
    }

    var info: WorkerInfo {
        WorkerInfo(workerID: id, address: address, modelName: modelName, modelHash: modelHash, capacity: capacity, state: state,
                   activeClips: Int32(placedClips), lastHeartbeatUnixMs: Int64(lastHeartbeat.timeIntervalSince1970 * 1000),
                   version: clusterVersion)
    }
}

/// A job. Only the coordinator actor touches it.
final class JobRecord: @unchecked Sendable {
    // @unchecked: created and mutated only on the Coordinator actor.
    let id: String
    let number: Int
    let label: String
    let spec: JobSpec
    let checkpointInterval: Int
    private let events: AsyncStream<JobEvent>.Continuation
    var state: JobState = .queued
    var placement: [String] = []
    var epoch: UInt64 = 0
    var step = 0
    var checkpoint: JobCheckpoint?
    var recoveries = 0
    var errorMessage = ""
    var cancelRequested: String?
    var result: HostTensor?
    var lastExchangeFraction = 0.0
    /// Workers' step time and exchange waiting, summed over the job's steps (microseconds).
    var stepMicros: Int64 = 0
    var exchangeMicros: Int64 = 0
    var pushMicros: Int64 = 0
    let submittedAt = Date()
    var startedAt = ContinuousClock.now
    var finishedAt: Date?

    init(id: String, label: String, spec: JobSpec, checkpointInterval: Int, events: AsyncStream<JobEvent>.Continuation) {
        self.id = id
        number = Int(id.split(separator: "-").last ?? "0") ?? 0
        self.label = label
        self.spec = spec
        self.checkpointInterval = checkpointInterval
        self.events = events
    }

    func emit(_ event: JobEvent) { events.yield(event) }
    func finishEvents() { events.finish() }

    var status: JobStatus {
        JobStatus(jobID: id, label: label, state: state, step: Int32(step), steps: Int32(spec.steps),
                  workerIDs: state.isFinal ? [] : placement, checkpointStep: Int32(checkpoint?.step ?? 0),
                  recoveries: Int32(recoveries), errorMessage: errorMessage,
                  submittedUnixMs: Int64(submittedAt.timeIntervalSince1970 * 1000),
                  finishedUnixMs: finishedAt.map { Int64($0.timeIntervalSince1970 * 1000) } ?? 0, parameters: spec.parameters)
    }
}

extension JobState {
    /// Completed, failed or cancelled.
    public var isFinal: Bool { self == .completed || self == .failed || self == .cancelled }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

extension Array where Element: Sendable {
    /// The elements as an async sequence (for client-streaming calls).
    var async: AsyncStream<Element> {
        AsyncStream { continuation in
            for element in self { continuation.yield(element) }
            continuation.finish()
        }
    }
}
