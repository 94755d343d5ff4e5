import ClusterWire
import RPC

/// `infinity.v1.Worker` (Protos/infinity/v1/worker.proto) served by a ``WorkerAgent``.
public final class WorkerService: RPCService {
    private let agent: WorkerAgent

    /// Serves `agent`.
    public init(agent: WorkerAgent) {
        self.agent = agent
    }

    public var serviceName: String { WorkerMethods.service }

    public var methods: [ServerMethod] {
        let agent = agent
        return [
            .unary("AssignClips") { (request: AssignClipsRequest, _) in
                try await agent.assign(request)
            },
            .unary("Step") { (request: StepRequest, _) in
                try await agent.step(request)
            },
            .serverStreaming("GetCheckpoint") { (request: GetCheckpointRequest, writer: ResponseWriter<CheckpointChunk>, _) in
                let checkpoint = try await agent.checkpoint(request)
                for chunk in CheckpointStreaming.chunks(checkpoint, jobID: request.jobID, epoch: request.epoch, clip: Int(request.clip)) {
                    try await writer.write(chunk)
                }
            },
            .clientStreaming("PutCheckpoint") { (requests: RequestStream<CheckpointChunk>, _) in
                let (header, checkpoint) = try await CheckpointStreaming.assemble(requests)
                try await agent.restore(jobID: header.jobID, epoch: header.epoch, clip: Int(header.clip), checkpoint: checkpoint)
                return PutCheckpointResponse(clip: header.clip, completedSteps: header.completedSteps, receivedBytes: header.totalBytes)
            },
            // Decoded straight into host tensors (ContextPush): the exchange's hot path.
            .unary("PushContext") { (request: ContextPush, _) in
                try await agent.pushContext(request)
                return PushContextResponse()
            },
            .unary("AbortJob") { (request: AbortJobRequest, _) in
                await agent.abort(request)
                return AbortJobResponse()
            },
            .unary("DropJob") { (request: DropJobRequest, _) in
                DropJobResponse(releasedBytes: await agent.drop(request.jobID))
            },
        ]
    }
}
