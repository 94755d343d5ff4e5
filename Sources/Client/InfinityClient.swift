import ClusterWire
import NetworkAddress
import Parallel
import RPC

/// The client of an Infinity cluster: submits generation jobs to `infinity coordinator`,
/// follows their progress and fetches their results, over the coordinator's gRPC service
/// (`infinity.v1.Coordinator`, Protos/infinity/v1/coordinator.proto).
///
/// ```swift
/// let client = try InfinityClient(address: "10.0.0.1:50051", token: token)
/// let job = try await client.submit(GenerationRequest(model: "videocrafter2", embeddings: embeddings,
///                                                     frames: 128, clipFrames: 16, height: 40, width: 64))
/// for try await update in job.updates {
///     if case .completed(let result) = update { save(result.latents) }
/// }
/// await client.close()
/// ```
///
/// Every method throws ``RPCError``: the coordinator's status (`invalidArgument` naming a bad
/// field, `notFound` for an unknown job or model, `unauthenticated` without the right token,
/// `unavailable` when it cannot be reached) or a check of the client's own.
public final class InfinityClient: Sendable {
    /// The coordinator's address.
    public let address: CoordinatorAddress
    private let channel: RPCChannel
    private let callTimeout: Duration

    /// Largest message accepted: job statuses carry their prompt embeddings, and ListJobs up to
    /// the coordinator's whole history of them.
    static let maxReceiveMessageBytes = 1 << 30

    /// A client of the coordinator at `address` (`HOST:PORT`, `[IPv6]:PORT`), sending the
    /// cluster token with every call when `token` is given. Nothing connects until the first
    /// call. Unary calls (everything but ``submit(_:label:checkpointInterval:)`` and
    /// ``result(jobID:)``) fail with `deadlineExceeded` after `callTimeout`.
    public init(address: String, token: String?, callTimeout: Duration = .seconds(30)) throws(RPCError) {
        self.address = try CoordinatorAddress(address)
        if let token, token.isEmpty || token.contains(where: { $0.isNewline }) {
            throw RPCError(code: .invalidArgument, message: "token: must be non-empty and on one line")
        }
        guard callTimeout > .zero else {
            throw RPCError(code: .invalidArgument, message: "callTimeout: must be positive, got \(callTimeout)")
        }
        self.callTimeout = callTimeout
        channel = RPCChannel(host: self.address.host, port: self.address.port, configuration: ChannelConfiguration(
            maxReceiveMessageBytes: Self.maxReceiveMessageBytes, authToken: token, connectTimeout: .seconds(10),
            backoff: .init(initial: .milliseconds(200), maximum: .seconds(5))))
    }

    /// Submits a job and returns once the coordinator accepted it; follow it through the
    /// handle. The request is checked first (``GenerationRequest/validated()``): a bad one throws
    /// `invalidArgument` without contacting the coordinator. `label` is free text shown by
    /// ``jobs()``; `checkpointInterval` asks for a checkpoint every that many steps (0: the
    /// coordinator's setting).
    public func submit(_ request: GenerationRequest, label: String = "", checkpointInterval: Int = 0) async throws(RPCError) -> JobHandle {
        let spec = try request.validated()
        guard (0 ... Int(Int32.max)).contains(checkpointInterval) else {
            throw RPCError(code: .invalidArgument, message: "checkpoint_interval: must be in 0...\(Int32.max), got \(checkpointInterval)")
        }
        let message = SubmitJobRequest(parameters: spec.parameters, label: label, checkpointInterval: Int32(checkpointInterval))
        let stream = try await channel.serverStreaming(CoordinatorMethod.submitJob, request: message, responseType: JobEvent.self)
        var events = stream.makeAsyncIterator()
        guard let first = try await events.next() else {
            throw RPCError(code: .internalError, message: "the coordinator's SubmitJob stream ended before JobAccepted")
        }
        guard case .accepted(let accepted) = first else {
            stream.cancel()
            throw RPCError(code: .internalError, message: "the coordinator's SubmitJob stream began with \(first.name), not JobAccepted")
        }
        let planned = accepted.clipFrames.map { Int($0) }
        guard planned == spec.plan.clipFrames else {
            stream.cancel()
            throw RPCError(code: .internalError, message: "job \(accepted.jobID): the coordinator planned clips of \(planned) frames, "
                + "the request's plan is \(spec.plan.clipFrames)")
        }
        let reader = JobEventReader(jobID: accepted.jobID, grid: [request.frames, request.height, request.width])
        return JobHandle(accepted: accepted, stream: stream, reader: reader, client: self)
    }

    /// Cancels a queued or running job; returns its state after the call (`cancelled`, or the
    /// final state it had already reached). `notFound` for an unknown job.
    @discardableResult
    public func cancel(jobID: String) async throws(RPCError) -> JobState {
        try await unary(CoordinatorMethod.cancelJob, CancelJobRequest(jobID: jobID), CancelJobResponse.self).state
    }

    /// A job's status; `notFound` for an unknown job.
    public func status(jobID: String) async throws(RPCError) -> JobStatus {
        try await unary(CoordinatorMethod.getJob, GetJobRequest(jobID: jobID), JobStatus.self)
    }

    /// Every job the coordinator knows: queued and running ones, then finished ones it still
    /// remembers, newest first.
    public func jobs() async throws(RPCError) -> [JobStatus] {
        try await unary(CoordinatorMethod.listJobs, ListJobsRequest(), ListJobsResponse.self).jobs
    }

    /// Every registered worker and its state, in registration order.
    public func workers() async throws(RPCError) -> [WorkerInfo] {
        try await unary(CoordinatorMethod.listWorkers, ListWorkersRequest(), ListWorkersResponse.self).workers
    }

    /// A completed job's latents (GetJobResult), for a client that lost its SubmitJob stream;
    /// `failedPrecondition` if the job has not completed, `notFound` for an unknown job. The
    /// chunks are checked as a whole tensor (header first, contiguous, exactly its size); this
    /// stream carries no CRC-32.
    public func result(jobID: String) async throws(RPCError) -> GenerationResult {
        let chunks = try await channel.serverStreaming(CoordinatorMethod.getJobResult, request: GetJobResultRequest(jobID: jobID),
                                                       responseType: TensorChunk.self)
        var assembler = TensorAssembler(name: "job \(jobID): result")
        for try await chunk in chunks {
            try assembler.add(chunk)
        }
        return GenerationResult(latents: try assembler.finish())
    }

    /// Closes the connection once the calls in flight end; later calls fail with `unavailable`.
    public func close() async {
        await channel.close()
    }

    private func unary<Request: RPCMessage, Response: RPCMessage>(
        _ method: MethodDescriptor, _ request: Request, _ response: Response.Type
    ) async throws(RPCError) -> Response {
        try await channel.unary(method, request: request, responseType: response, options: CallOptions(timeout: callTimeout))
    }
}

extension JobEvent {
    /// The event's field name, for errors (a description would include a chunk's bytes).
    var name: String {
        switch self {
        case .accepted: "accepted"
        case .placement: "placement"
        case .progress: "progress"
        case .recovering: "recovering"
        case .resultChunk: "result_chunk"
        case .completed: "completed"
        case .failed: "failed"
        }
    }
}

/// The methods of `infinity.v1.Coordinator` a client calls (the worker-facing RegisterWorker and
/// Heartbeat are not among them).
enum CoordinatorMethod {
    static let service = "infinity.v1.Coordinator"
    static let submitJob = MethodDescriptor(service: service, method: "SubmitJob")
    static let cancelJob = MethodDescriptor(service: service, method: "CancelJob")
    static let getJob = MethodDescriptor(service: service, method: "GetJob")
    static let listJobs = MethodDescriptor(service: service, method: "ListJobs")
    static let getJobResult = MethodDescriptor(service: service, method: "GetJobResult")
    static let listWorkers = MethodDescriptor(service: service, method: "ListWorkers")
}

/// A coordinator's `HOST:PORT` (`[IPv6]:PORT` for an IPv6 literal).
public struct CoordinatorAddress: Sendable, Hashable, CustomStringConvertible {
    /// The host name or address, without brackets.
    public let host: String
    /// The TCP port, 1...65535.
    public let port: Int

    /// Parses `text`; throws `invalidArgument` naming the text unless it is `HOST:PORT` with a
    /// non-empty host and a port in 1...65535.
    public init(_ text: String) throws(RPCError) {
        do {
            let endpoint = try Endpoint(text)
            (host, port) = (endpoint.host, endpoint.port)
        } catch {
            throw RPCError(code: .invalidArgument, message: "coordinator address '\(text)' \(error)")
        }
    }

    /// `HOST:PORT`, with brackets around an IPv6 host.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
