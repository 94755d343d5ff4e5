/// Where the context parts a process's clips need wait until those clips take them: the
/// receiving half of every ``ContextExchange`` (in-process, the whole exchange; over RPC, the
/// receiver of the peers' pushes).
///
/// A part is posted once, with the number of clips that will read it, and removed when the
/// last reader took it, so the mailbox holds at most one operation's parts per clip beyond the
/// ones in flight. After ``abort(_:)`` every pending and later operation throws.
public actor ContextMailbox {
    /// What a part is for, and so which collective reads it.
    public enum Role: String, Hashable, Sendable {
        /// A clip's first frames, for the previous clip.
        case head
        /// A clip's last frames, for the next clip.
        case tail
        /// A clip's all-gather part, for every clip.
        case gather
        /// A clip's all-reduce values, for every clip.
        case reduce
    }

    /// Names one part: the operation, the role, and the clip that contributed it.
    public struct Slot: Hashable, Sendable, CustomStringConvertible {
        public var key: ExchangeKey
        public var role: Role
        /// The contributing clip.
        public var clip: Int

        /// Creates a slot name.
        public init(key: ExchangeKey, role: Role, clip: Int) {
            self.key = key
            self.role = role
            self.clip = clip
        }

        public var description: String { "\(role.rawValue) of clip \(clip) at \(key)" }
    }

    /// A part's contents.
    public enum Payload: Sendable {
        case tensor(HostTensor)
        case values([Double])
    }

    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<Payload, any Error>
    }

    private var posted: [Slot: (payload: Payload, readers: Int)] = [:]
    private var waiting: [Slot: [Waiter]] = [:]
    private var failure: (any Error)?
    private var nextWaiterID = 0

    /// An empty mailbox.
    public init() {}

    /// Parts posted and not yet taken by all their readers.
    public var pendingCount: Int { posted.count }

    /// Stores `payload` in `slot` for `readers` takers; throws if the slot was already posted
    /// (a duplicate or replayed contribution) or the mailbox is aborted.
    public func post(_ slot: Slot, _ payload: Payload, readers: Int) throws {
        if let failure { throw failure }
        guard readers >= 1 else { return }
        guard posted[slot] == nil else { throw ParallelError("\(slot) was posted twice") }
        posted[slot] = (payload, readers)
        if let waiters = waiting.removeValue(forKey: slot) {
            // Hand the part to everyone already waiting; count them as readers.
            for waiter in waiters {
                consume(slot)
                waiter.continuation.resume(returning: payload)
            }
        }
    }

    /// The part in `slot`, waiting until it is posted; throws `CancellationError` if the
    /// calling task is cancelled meanwhile, or the abort error.
    public func take(_ slot: Slot) async throws -> Payload {
        if let failure { throw failure }
        if let entry = posted[slot] {
            consume(slot)
            return entry.payload
        }
        let id = nextWaiterID
        nextWaiterID += 1
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiting[slot, default: []].append(Waiter(id: id, continuation: continuation))
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id, at: slot) }
        }
    }

    /// Fails every pending and later operation with `error` (the first abort wins).
    public func abort(_ error: any Error) {
        guard failure == nil else { return }
        failure = error
        let pending = waiting.values.flatMap { $0 }
        waiting.removeAll()
        posted.removeAll()
        for waiter in pending { waiter.continuation.resume(throwing: error) }
    }

    private func consume(_ slot: Slot) {
        guard let entry = posted[slot] else { return }
        if entry.readers <= 1 {
            posted.removeValue(forKey: slot)
        } else {
            posted[slot]?.readers -= 1
        }
    }

    private func cancelWaiter(_ id: Int, at slot: Slot) {
        guard let index = waiting[slot]?.firstIndex(where: { $0.id == id }) else { return }
        let waiter = waiting[slot]!.remove(at: index)
        if waiting[slot]!.isEmpty { waiting.removeValue(forKey: slot) }
        waiter.continuation.resume(throwing: CancellationError())
    }
}

/// A ``ContextExchange`` built on a ``ContextMailbox``: a transport only says how a part
/// reaches the clips that need it (``deliver(_:_:to:)``); the three collectives are the same
/// for every transport, so their results never depend on where the clips run.
public protocol MailboxExchange: ContextExchange {
    /// Where the parts this process's clips need arrive.
    var mailbox: ContextMailbox { get }

    /// Sends the part `slot.clip` contributed to the clips `receivers` (ascending, non-empty),
    /// which take it from their process's mailbox.
    func deliver(_ slot: ContextMailbox.Slot, _ payload: ContextMailbox.Payload, to receivers: [Int]) async throws

    /// Called with the bytes clip `clip` received in one operation (for transport statistics).
    func noteReceived(bytes: Int, clip: Int)
}

extension MailboxExchange {
    public func noteReceived(bytes: Int, clip: Int) {}

    public func exchangeNeighbours(_ key: ExchangeKey, clip: Int, head: HostTensor, tail: HostTensor)
        async throws -> (previousTail: HostTensor?, nextHead: HostTensor?) {
        try checkClip(clip)
        if clip > 0 { try await deliver(.init(key: key, role: .head, clip: clip), .tensor(head), to: [clip - 1]) }
        if clip < clipCount - 1 { try await deliver(.init(key: key, role: .tail, clip: clip), .tensor(tail), to: [clip + 1]) }
        let previous = clip > 0 ? try await tensor(.init(key: key, role: .tail, clip: clip - 1), for: clip) : nil
        let next = clip < clipCount - 1 ? try await tensor(.init(key: key, role: .head, clip: clip + 1), for: clip) : nil
        return (previous, next)
    }

    public func allGather(_ key: ExchangeKey, clip: Int, part: HostTensor) async throws -> [HostTensor] {
        try checkClip(clip)
        try await deliver(.init(key: key, role: .gather, clip: clip), .tensor(part), to: Array(0 ..< clipCount))
        var parts: [HostTensor] = []
        for peer in 0 ..< clipCount {
            parts.append(try await tensor(.init(key: key, role: .gather, clip: peer), for: clip))
        }
        return parts
    }

    public func allReduce(_ key: ExchangeKey, clip: Int, values: [Double]) async throws -> [Double] {
        try checkClip(clip)
        try await deliver(.init(key: key, role: .reduce, clip: clip), .values(values), to: Array(0 ..< clipCount))
        var sum = [Double](repeating: 0, count: values.count)
        for peer in 0 ..< clipCount {
            guard case .values(let part) = try await mailbox.take(.init(key: key, role: .reduce, clip: peer)) else {
                throw ParallelError("all-reduce at \(key): clip \(peer) sent a tensor")
            }
            guard part.count == sum.count else {
                throw ParallelError("all-reduce at \(key): clip \(peer) sent \(part.count) values, clip \(clip) \(sum.count)")
            }
            for index in sum.indices { sum[index] += part[index] }
        }
        // A reducing transport hands each clip one sum, however many clips there are.
        noteReceived(bytes: sum.count * MemoryLayout<Double>.size, clip: clip)
        return sum
    }

    public func abort(_ error: any Error) async {
        await mailbox.abort(error)
    }

    private func checkClip(_ clip: Int) throws {
        guard (0 ..< clipCount).contains(clip) else {
            throw ParallelError("clip \(clip) is not part of this \(clipCount)-clip exchange")
        }
    }

    private func tensor(_ slot: ContextMailbox.Slot, for clip: Int) async throws -> HostTensor {
        guard case .tensor(let tensor) = try await mailbox.take(slot) else {
            throw ParallelError("\(slot) holds values, not frames")
        }
        noteReceived(bytes: tensor.byteCount, clip: clip)
        return tensor
    }
}
