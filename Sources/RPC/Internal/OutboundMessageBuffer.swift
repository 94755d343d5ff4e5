import Synchronization

/// How the outgoing side of a stream ends.
enum OutboundEnd: Sendable {
    /// Client: END_STREAM after the last request message.
    case endStream
    /// Server: the status and trailing metadata.
    case status(code: StatusCode, message: String, metadata: Metadata)
}

/// The messages a task has written to one stream and the loop has not yet handed to nghttp2,
/// shared between the writing task and the loop thread.
///
/// Writers suspend above ``highWaterBytes`` until the loop drains the queue below
/// ``lowWaterBytes``: the backpressure that keeps a fast handler from queueing without bound
/// toward a slow peer. A write only wakes the loop when nghttp2 has parked the stream
/// (`needsKick`), so a burst of writes costs one wake-up.
final class OutboundMessageBuffer: Sendable {
    private struct State {
        var frames: [FramedMessage] = []
        var head = 0
        var queuedBytes = 0
        var end: OutboundEnd?
        /// Whether the loop must be told about new data (stream parked or response not started).
        var needsKick: Bool
        /// Set when the stream is gone: writes fail with it.
        var failure: RPCError?
        var waiter: CheckedContinuation<Void, any Error>?
    }

    let highWaterBytes: Int
    let lowWaterBytes: Int
    private let state: Mutex<State>
    /// Posts the stream's "data available" to its loop.
    private let kick: @Sendable () -> Void

    init(needsKickInitially: Bool, highWaterBytes: Int = 1 << 20, kick: @escaping @Sendable () -> Void) {
        self.highWaterBytes = highWaterBytes
        self.lowWaterBytes = highWaterBytes / 2
        self.kick = kick
        state = Mutex(State(needsKick: needsKickInitially))
    }

    // MARK: Writer side (any task)

    /// Queues one message's payload (the prefix is added on the way out); suspends while the
    /// queue is above the high-water mark.
    func write(_ payload: [UInt8]) async throws(RPCError) {
        let (mustKick, mustWait) = try state.withLock { (state) throws(RPCError) -> (Bool, Bool) in
            if let failure = state.failure { throw failure }
            guard state.end == nil else {
                throw RPCError(code: .internalError, message: "cannot write a message after the stream was finished")
            }
            state.frames.append(FramedMessage(payload))
            state.queuedBytes += payload.count + 5
            let mustKick = state.needsKick
            state.needsKick = false
            return (mustKick, state.queuedBytes > highWaterBytes)
        }
        if mustKick { kick() }
        if mustWait { try await waitForRoom() }
    }

    /// Queues a final message and the end in one step (a unary response or request).
    func writeLast(_ payload: [UInt8]?, end: OutboundEnd) {
        let mustKick = state.withLock { state -> Bool in
            guard state.failure == nil, state.end == nil else { return false }
            if let payload {
                state.frames.append(FramedMessage(payload))
                state.queuedBytes += payload.count + 5
            }
            state.end = end
            let mustKick = state.needsKick
            state.needsKick = false
            return mustKick
        }
        if mustKick { kick() }
    }

    /// Ends the stream after the queued messages; later ends are ignored.
    func finish(_ end: OutboundEnd) {
        writeLast(nil, end: end)
    }

    private func waitForRoom() async throws(RPCError) {
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Result<Void, RPCError>? = state.withLock { state in
                    if let failure = state.failure { return .failure(failure) }
                    if state.queuedBytes <= lowWaterBytes { return .success(()) }
                    state.waiter = continuation
                    return nil
                }
                if let resumeNow { continuation.resume(with: resumeNow) }
            }
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(code: .internalError, message: "unexpected error \(error)")
        }
    }

    // MARK: Loop side

    /// What the loop learns when it asks for bytes.
    enum ReadResult {
        /// `count` bytes copied; `end` is set if they were the last.
        case bytes(Int, end: OutboundEnd?)
        /// Nothing queued: the stream is parked until the next write kicks it.
        case deferred
    }

    /// Copies queued bytes into nghttp2's buffer.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        var waiter: CheckedContinuation<Void, any Error>?
        let result = state.withLock { state -> ReadResult in
            var written = 0
            while written < buffer.count, state.head < state.frames.count {
                let target = UnsafeMutableRawBufferPointer(rebasing: buffer[written...])
                let copied = state.frames[state.head].copy(into: target)
                written += copied
                state.queuedBytes -= copied
                if state.frames[state.head].remaining == 0 {
                    state.head += 1
                }
            }
            // Compact the consumed prefix now and then instead of removing from the front each time.
            if state.head == state.frames.count {
                state.frames.removeAll(keepingCapacity: state.frames.capacity <= 64)
                state.head = 0
            } else if state.head >= 64 {
                state.frames.removeFirst(state.head)
                state.head = 0
            }
            if state.queuedBytes <= lowWaterBytes, let pending = state.waiter {
                waiter = pending
                state.waiter = nil
            }
            if state.head == state.frames.count, let end = state.end {
                return .bytes(written, end: end)
            }
            if written == 0 {
                state.needsKick = true
                return .deferred
            }
            return .bytes(written, end: nil)
        }
        waiter?.resume()
        return result
    }

    /// Whether anything is queued or the end is known (the server then starts its response).
    var hasPendingOutput: (messages: Bool, end: OutboundEnd?) {
        state.withLock { ($0.head < $0.frames.count, $0.end) }
    }

    /// The stream is gone (reset, deadline, connection lost): drop what is queued, fail writers.
    func fail(_ error: RPCError) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            if state.failure == nil { state.failure = error }
            state.frames.removeAll()
            state.head = 0
            state.queuedBytes = 0
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(throwing: error)
    }

    /// The server ends the call early (deadline, bad request): the queued messages are dropped
    /// and this status is what goes out; writers fail with `writerError`.
    /// `kickLoop` is false when the caller is the loop itself and starts the output directly.
    func abort(with end: OutboundEnd, writerError: RPCError, kickLoop: Bool = true) {
        let (waiter, mustKick) = state.withLock { state -> (CheckedContinuation<Void, any Error>?, Bool) in
            if state.failure == nil { state.failure = writerError }
            state.frames.removeAll()
            state.head = 0
            state.queuedBytes = 0
            state.end = end
            let mustKick = state.needsKick
            state.needsKick = false
            defer { state.waiter = nil }
            return (state.waiter, mustKick)
        }
        waiter?.resume(throwing: writerError)
        if mustKick && kickLoop { kick() }
    }
}
