/// One client call's shared core: the queues between the calling task and the loop, and the
/// loop-side state (stream id, state machine, deadline timer).
///
/// `@unchecked Sendable`: the `var`s are touched only on the loop thread; other threads use the
/// `let` queues (which lock) and ``cancel(_:)`` (which posts to the loop).
final class ClientStreamCore: @unchecked Sendable {
    let loop: EventLoop
    let headers: [HeaderField]
    /// Monotonic nanoseconds; nil for no deadline.
    let deadline: UInt64?
    private(set) var inbound: InboundMessageBuffer!
    private(set) var outbound: OutboundMessageBuffer!

    // Loop-thread state.
    var streamID: Int32 = 0
    weak var connection: ClientConnection?
    var machine: ClientCallStateMachine
    var headerBlock: [HeaderField] = []
    var deadlineTimer: TimerQueue.ID?
    var withheldCredit = 0
    /// Whether our END_STREAM went out (else a finished call resets the stream).
    var requestEnded = false
    /// Connections tried: a call that finds its connection closing before it started moves on.
    var attempts = 0
    /// For a moved call: whether it waits for a connection.
    let waitForReady: Bool
    private(set) var isDone = false

    init(loop: EventLoop, headers: [HeaderField], deadline: UInt64?, waitForReady: Bool, maxReceiveMessageBytes: Int) {
        self.loop = loop
        self.waitForReady = waitForReady
        self.headers = headers
        self.deadline = deadline
        machine = ClientCallStateMachine(maxReceiveMessageBytes: maxReceiveMessageBytes)
        outbound = OutboundMessageBuffer(needsKickInitially: false) { [weak self] in
            loop.execute { [weak self] in self?.kick() }
        }
        inbound = InboundMessageBuffer { [weak self] in
            loop.execute { [weak self] in self?.releaseCredit() }
        }
    }

    /// Ends the call from any thread (caller cancellation, a request that cannot be sent).
    func cancel(_ error: RPCError) {
        loop.execute { [self] in finish(.failure(error)) }
    }

    /// Records the outcome once: wakes the reader, fails writers, and resets the stream if
    /// either side is still open: with CANCEL when the call ends on this side (cancellation,
    /// deadline, a bad response), with NO_ERROR when the server ended it before we finished
    /// sending.
    func finish(_ result: Result<Metadata, RPCError>, serverEnded: Bool = false) {
        guard !isDone else { return }
        isDone = true
        _ = machine.cancel()
        if let deadlineTimer { loop.cancelTimer(deadlineTimer) }
        deadlineTimer = nil
        inbound.finish(result)
        switch result {
        case .success: outbound.fail(RPCError(code: .cancelled, message: "the call already finished"))
        case .failure(let error): outbound.fail(error)
        }
        if let connection, streamID > 0, connection.streams[streamID] === self {
            if !serverEnded {
                connection.session?.resetStream(streamID, errorCode: 0x8)
            } else if !requestEnded {
                connection.session?.resetStream(streamID, errorCode: 0x0)
            }
            connection.loop.scheduleFlush(connection)
        }
    }

    /// New request bytes are queued: wake the parked stream.
    func kick() {
        guard let connection, streamID > 0, !isDone else { return }
        connection.session?.resumeData(stream: streamID)
        connection.loop.scheduleFlush(connection)
    }

    /// The reader caught up: hand back the withheld credit.
    func releaseCredit() {
        guard let connection, streamID > 0, withheldCredit > 0 else { return }
        connection.session?.consume(stream: streamID, bytes: withheldCredit)
        withheldCredit = 0
        connection.loop.scheduleFlush(connection)
    }
}
