/// The in-process ``ContextExchange``: clips running as tasks of one process post their parts
/// to a shared mailbox and wait for their peers'.
///
/// Each posted part is kept until every clip that needs it has taken it, so memory holds at
/// most one operation's parts per clip beyond the ones in flight. The exchange counts the
/// bytes each clip receives, which is what a network transport would carry (for an
/// all-reduce: the sum, as a reducing transport delivers it).
public actor InProcessExchange: ContextExchange {
    /// A part posted by one clip for one operation.
    private struct Slot: Hashable {
        var key: ExchangeKey
        var role: Role
        var clip: Int
    }

    private enum Role: Hashable {
        case head, tail, gather, reduce
    }

    private enum Payload {
        case tensor(HostTensor)
        case values([Double])
    }

    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<Payload, any Error>
    }

    public nonisolated let clipCount: Int
    private var posted: [Slot: (payload: Payload, readers: Int)] = [:]
    private var waiting: [Slot: [Waiter]] = [:]
    private var failure: (any Error)?
    private var nextWaiterID = 0
    private var received: [Int]

    /// An exchange for `clipCount` clips.
    public init(clipCount: Int) {
        precondition(clipCount >= 1, "an exchange needs at least one clip")
        self.clipCount = clipCount
        received = Array(repeating: 0, count: clipCount)
    }

    /// Bytes each clip has received so far.
    public var bytesReceived: [Int] { received }

    public func exchangeNeighbours(_ key: ExchangeKey, clip: Int, head: HostTensor, tail: HostTensor)
        async throws -> (previousTail: HostTensor?, nextHead: HostTensor?) {
        try checkClip(clip)
        if clip > 0 { try post(Slot(key: key, role: .head, clip: clip), .tensor(head), readers: 1) }
        if clip < clipCount - 1 { try post(Slot(key: key, role: .tail, clip: clip), .tensor(tail), readers: 1) }
        let previous = clip > 0 ? try await tensor(Slot(key: key, role: .tail, clip: clip - 1), for: clip) : nil
        let next = clip < clipCount - 1 ? try await tensor(Slot(key: key, role: .head, clip: clip + 1), for: clip) : nil
        return (previous, next)
    }

    public func allGather(_ key: ExchangeKey, clip: Int, part: HostTensor) async throws -> [HostTensor] {
        try checkClip(clip)
        try post(Slot(key: key, role: .gather, clip: clip), .tensor(part), readers: clipCount)
        var parts: [HostTensor] = []
        for peer in 0 ..< clipCount {
            parts.append(try await tensor(Slot(key: key, role: .gather, clip: peer), for: clip))
        }
        return parts
    }

    public func allReduce(_ key: ExchangeKey, clip: Int, values: [Double]) async throws -> [Double] {
        try checkClip(clip)
        try post(Slot(key: key, role: .reduce, clip: clip), .values(values), readers: clipCount)
        var sum = [Double](repeating: 0, count: values.count)
        for peer in 0 ..< clipCount {
            guard case .values(let part) = try await take(Slot(key: key, role: .reduce, clip: peer)) else {
                preconditionFailure("all-reduce slot holds a tensor")
            }
            guard part.count == sum.count else {
                throw ParallelError("all-reduce at \(key): clip \(peer) sent \(part.count) values, clip \(clip) \(sum.count)")
            }
            for index in sum.indices { sum[index] += part[index] }
        }
        // A transport reduces once and hands each clip the sum (reduce + broadcast, or a ring):
        // a clip receives one sum's worth of bytes, however many clips there are.
        received[clip] += sum.count * MemoryLayout<Double>.size
        return sum
    }

    public func abort(_ error: any Error) {
        guard failure == nil else { return }
        failure = error
        let pending = waiting.values.flatMap { $0 }
        waiting.removeAll()
        posted.removeAll()
        for waiter in pending { waiter.continuation.resume(throwing: error) }
    }

    // MARK: Mailbox

    private func checkClip(_ clip: Int) throws {
        if let failure { throw failure }
        guard (0 ..< clipCount).contains(clip) else {
            throw ParallelError("clip \(clip) is not part of this \(clipCount)-clip exchange")
        }
    }

    private func post(_ slot: Slot, _ payload: Payload, readers: Int) throws {
        if let failure { throw failure }
        guard posted[slot] == nil else {
            throw ParallelError("clip \(slot.clip) posted twice at \(slot.key)")
        }
        posted[slot] = (payload, readers)
        if let waiters = waiting.removeValue(forKey: slot) {
            // Hand the part to everyone already waiting; count them as readers.
            for waiter in waiters {
                consume(slot)
                waiter.continuation.resume(returning: payload)
            }
        }
    }

    private func tensor(_ slot: Slot, for clip: Int) async throws -> HostTensor {
        guard case .tensor(let tensor) = try await take(slot) else { preconditionFailure("tensor slot holds values") }
        received[clip] += tensor.byteCount
        return tensor
    }

    /// The part in `slot`, waiting until its clip posts it.
    private func take(_ slot: Slot) async throws -> Payload {
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
