import ClusterWire
import RPC

/// `infinity.v1.Coordinator` (Protos/infinity/v1/coordinator.proto) served by a ``Coordinator``.
public final class CoordinatorService: RPCService {
    private let coordinator: Coordinator

    /// Serves `coordinator`.
    public init(coordinator: Coordinator) {
        self.coordinator = coordinator
    }

    public var serviceName: String { CoordinatorMethods.service }

    public var methods: [ServerMethod] {
        let coordinator = coordinator
        return [
            .serverStreaming("SubmitJob") { (request: SubmitJobRequest, writer: ResponseWriter<JobEvent>, _) in
                let (job, events) = try await coordinator.submit(request)
                // The submitter going away (the call cancelled) cancels the job.
                try await withTaskCancellationHandler {
                    for await event in events {
                        try await writer.write(event)
                    }
                } onCancel: {
                    Task { _ = try? await coordinator.cancel(job.id, reason: "the submitting client went away") }
                }
                if Task.isCancelled { _ = try? await coordinator.cancel(job.id, reason: "the submitting client went away") }
            },
            .unary("CancelJob") { (request: CancelJobRequest, _) in
                CancelJobResponse(state: try await coordinator.cancel(request.jobID, reason: "cancelled by CancelJob"))
            },
            .unary("GetJob") { (request: GetJobRequest, _) in
                try await coordinator.status(request.jobID)
            },
            .unary("ListJobs") { (_: ListJobsRequest, _) in
                await coordinator.listJobs()
            },
            .serverStreaming("GetJobResult") { (request: GetJobResultRequest, writer: ResponseWriter<TensorChunk>, _) in
                let result = try await coordinator.result(request.jobID)
                for chunk in TensorChunking.chunks(of: result) { try await writer.write(chunk) }
            },
            .unary("ListWorkers") { (_: ListWorkersRequest, _) in
                await coordinator.listWorkers()
            },
            .unary("RegisterWorker") { (request: RegisterWorkerRequest, _) in
                try await coordinator.register(request)
            },
            .unary("Heartbeat") { (request: HeartbeatRequest, _) in
                try await coordinator.heartbeat(request)
            },
        ]
    }
}
