import ClusterWire
import Parallel
import RPC
import Synchronization

/// The clips of one job placement (a job at one epoch), as one worker sees them: which clips
/// it runs, and where every other clip runs.
struct JobRoutes: Sendable {
    /// The job.
    let jobID: String
    /// The placement's epoch.
    let epoch: UInt64
    /// This worker's id.
    let selfID: String
    /// Worker id and address of each clip, in clip order.
    let workers: [(id: String, address: String)]

    /// The clips this worker runs.
    var localClips: [Int] { workers.indices.filter { workers[$0].id == selfID } }
}

/// ``ContextExchange`` across processes: each worker's clips take the parts they need from
/// its own ``ContextMailbox``; a part for clips on another worker travels there by one
/// `PushContext` call per receiving worker (see worker.proto for why push, unary, per worker).
///
/// The collectives are ``MailboxExchange``'s, so a clip's inputs are bit-identical to an
/// in-process run's whatever the placement. A push that fails (the peer died, or refused a
/// superseded epoch) fails the clip's operation; the coordinator then recovers the job.
final class RPCContextExchange: MailboxExchange {
    let clipCount: Int
    let mailbox = ContextMailbox()
    let routes: JobRoutes
    private let localClips: Set<Int>
    private let peers: PeerChannels
    private let pushTimeout: Duration
    /// Time clips spent inside exchange operations, time spent pushing to peers, and bytes
    /// pushed, since the last reset.
    private let statistics = Mutex<ExchangeStatistics>(ExchangeStatistics())

    init(routes: JobRoutes, peers: PeerChannels, pushTimeout: Duration = .seconds(120)) {
        self.routes = routes
        clipCount = routes.workers.count
        localClips = Set(routes.localClips)
        self.peers = peers
        self.pushTimeout = pushTimeout
    }

    /// Readers of a part on this worker: each neighbour part serves one clip; gathered and
    /// reduced parts serve every clip the worker runs.
    private func readers(_ role: ContextMailbox.Role) -> Int {
        role == .head || role == .tail ? 1 : localClips.count
    }

    func deliver(_ slot: ContextMailbox.Slot, _ payload: ContextMailbox.Payload, to receivers: [Int]) async throws {
        var remoteWorkers: [String] = []
        var deliverLocally = false
        for clip in receivers {
            let worker = routes.workers[clip]
            if worker.id == routes.selfID {
                deliverLocally = true
            } else if !remoteWorkers.contains(worker.address) {
                remoteWorkers.append(worker.address)
            }
        }
        if !remoteWorkers.isEmpty {
            let start = ContinuousClock.now
            defer { statistics.withLock { $0.pushMicros += (ContinuousClock.now - start).microseconds } }
            // Encoded once, sent to every receiving worker.
            let request = RawMessage(push(slot, payload).serializedBytes())
            statistics.withLock { $0.pushedBytes += request.bytes.count * remoteWorkers.count }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for address in remoteWorkers {
                    let channel = try peers.channel(address)
                    let options = CallOptions(timeout: pushTimeout)
                    group.addTask {
                        do {
                            _ = try await channel.unary(WorkerMethods.pushContext, request: request,
                                                        responseType: PushContextResponse.self, options: options)
                        } catch {
                            throw PeerFailure(address: address, underlying: error)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        if deliverLocally {
            try await mailbox.post(slot, payload, readers: readers(slot.role))
        }
    }

    /// Stores a peer's contribution for this worker's clips.
    func receive(_ push: ContextPush) async throws(RPCError) {
        guard let kind = ExchangeKey.Kind(push.kind) else {
            throw RPCError(code: .invalidArgument, message: "contribution: kind \(push.kind) is not an exchange kind")
        }
        let clip = Int(push.fromClip)
        guard (0 ..< clipCount).contains(clip) else {
            throw RPCError(code: .invalidArgument, message: "contribution: from_clip \(clip) is not a clip of this \(clipCount)-clip job")
        }
        let role: ContextMailbox.Role
        let payload: ContextMailbox.Payload
        switch push.part {
        case .head, .tail, .gather:
            guard let tensor = push.tensor else {
                throw RPCError(code: .invalidArgument, message: "contribution: \(push.part) part without a tensor")
            }
            payload = .tensor(tensor)
            role = push.part == .head ? .head : push.part == .tail ? .tail : .gather
        case .reduce:
            payload = .values(push.values)
            role = .reduce
        case .unspecified:
            throw RPCError(code: .invalidArgument, message: "contribution: part not set")
        }
        let slot = ContextMailbox.Slot(key: ExchangeKey(forward: Int(push.forward), kind: kind, site: Int(push.site)),
                                       role: role, clip: clip)
        do {
            try await mailbox.post(slot, payload, readers: readers(role))
        } catch {
            throw RPCError(code: .aborted, message: "job \(routes.jobID) epoch \(routes.epoch): \(error)")
        }
    }

    private func push(_ slot: ContextMailbox.Slot, _ payload: ContextMailbox.Payload) -> ContextPush {
        let part: ContextPart = switch slot.role {
        case .head: .head
        case .tail: .tail
        case .gather: .gather
        case .reduce: .reduce
        }
        var push = ContextPush(jobID: routes.jobID, epoch: routes.epoch, forward: Int64(slot.key.forward),
                               kind: ExchangeKind(slot.key.kind), site: Int32(slot.key.site), fromClip: Int32(slot.clip), part: part)
        switch payload {
        case .tensor(let tensor): push.tensor = tensor
        case .values(let values): push.values = values
        }
        return push
    }

    /// Adds time a clip spent in an exchange operation.
    func addWait(_ duration: Duration) {
        statistics.withLock { $0.waitMicros += duration.microseconds }
    }

    /// The statistics since the last call, and resets them.
    func takeStatistics() -> ExchangeStatistics {
        statistics.withLock { value in
            defer { value = ExchangeStatistics() }
            return value
        }
    }
}

/// What a worker's clips spent on context exchange during a step (summed over clips).
struct ExchangeStatistics: Sendable {
    /// Time inside exchange operations, waits for peers included.
    var waitMicros: Int64 = 0
    /// Time spent pushing contributions to peer workers.
    var pushMicros: Int64 = 0
    /// Bytes pushed.
    var pushedBytes = 0
}

extension Duration {
    /// Whole microseconds.
    var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
}

/// A push to a peer worker failed.
struct PeerFailure: Error, CustomStringConvertible {
    let address: String
    let underlying: any Error
    var description: String { "context push to worker at \(address) failed: \(underlying)" }
}

/// Forwards a clip's exchange operations and records how long each took: the share of a step
/// spent waiting on context is what the exchange costs.
struct TimedExchange: ContextExchange {
    let base: RPCContextExchange
    var clipCount: Int { base.clipCount }

    private func timed<T>(_ operation: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        defer { base.addWait(ContinuousClock.now - start) }
        return try await operation()
    }

    func exchangeNeighbours(_ key: ExchangeKey, clip: Int, head: HostTensor, tail: HostTensor)
        async throws -> (previousTail: HostTensor?, nextHead: HostTensor?) {
        try await timed { try await base.exchangeNeighbours(key, clip: clip, head: head, tail: tail) }
    }

    func allGather(_ key: ExchangeKey, clip: Int, part: HostTensor) async throws -> [HostTensor] {
        try await timed { try await base.allGather(key, clip: clip, part: part) }
    }

    func allReduce(_ key: ExchangeKey, clip: Int, values: [Double]) async throws -> [Double] {
        try await timed { try await base.allReduce(key, clip: clip, values: values) }
    }

    func abort(_ error: any Error) async {
        await base.abort(error)
    }
}

extension ExchangeKey.Kind {
    init?(_ kind: ExchangeKind) {
        switch kind {
        case .attention: self = .attention
        case .convolution: self = .convolution
        case .groupNorm: self = .groupNorm
        case .unspecified: return nil
        }
    }
}

extension ExchangeKind {
    init(_ kind: ExchangeKey.Kind) {
        switch kind {
        case .attention: self = .attention
        case .convolution: self = .convolution
        case .groupNorm: self = .groupNorm
        }
    }
}
