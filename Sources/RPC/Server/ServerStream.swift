/// One call on a server connection, on the loop thread: its state machine, the request being
/// assembled, the handler task and the queues shared with it.
///
/// `@unchecked Sendable` because closures posted back to the loop refer to it; it is only
/// touched on the loop thread.
final class ServerStream: @unchecked Sendable {
    let id: Int32
    weak var connection: ServerConnection?
    var machine: ServerCallStateMachine
    /// The header block being received.
    var headers: [HeaderField] = []
    var method: ServerMethod?
    var context: ServerCallContext?
    /// The request of a single-request method, until the client ends its side.
    var requestMessage: [UInt8]?
    /// The requests of a streaming method.
    var inbound: InboundMessageBuffer?
    /// Created lazily: most of its users are handlers, and a rejected call needs none.
    private(set) var outbound: OutboundMessageBuffer!
    var task: Task<Void, Never>?
    var deadlineTimer: TimerQueue.ID?
    /// Credit withheld from the client while the handler is behind.
    var withheldCredit = 0
    /// Whether HEADERS (response or trailers-only) were submitted.
    var responseSubmitted = false

    init(id: Int32, connection: ServerConnection, maxReceiveMessageBytes: Int) {
        self.id = id
        self.connection = connection
        machine = ServerCallStateMachine(maxReceiveMessageBytes: maxReceiveMessageBytes)
        let loop = connection.loop
        outbound = OutboundMessageBuffer(needsKickInitially: true) { [weak self] in
            loop.execute { [weak self] in self?.kick() }
        }
    }

    /// Makes the request stream of a streaming method; reading from it releases withheld credit.
    func makeInbound() -> InboundMessageBuffer {
        let loop = connection!.loop
        let buffer = InboundMessageBuffer { [weak self] in
            loop.execute { [weak self] in self?.releaseCredit() }
        }
        inbound = buffer
        return buffer
    }

    /// New output (or the status) is queued: start the response or wake the parked stream.
    func kick() {
        guard let connection, connection.streams[id] === self else { return }
        if responseSubmitted {
            connection.session.resumeData(stream: id)
        } else {
            let (hasMessages, end) = outbound.hasPendingOutput
            if !hasMessages, case .status(let code, let message, let metadata)? = end {
                guard machine.sendStatus() == .trailersOnly else { return }
                responseSubmitted = true
                var fields = [HeaderField(":status", "200"), HeaderField("content-type", "application/grpc")]
                ServerStream.appendStatus(code: code, message: message, metadata: metadata, to: &fields)
                connection.submitResponse(stream: id, headers: fields, hasBody: false)
            } else if hasMessages || end != nil {
                guard machine.sendMessages() == .startResponseAndSend else { return }
                responseSubmitted = true
                var fields = [HeaderField(":status", "200"), HeaderField("content-type", "application/grpc")]
                context?.initialMetadata.appendWire(to: &fields)
                connection.submitResponse(stream: id, headers: fields, hasBody: true)
            } else {
                return
            }
        }
        connection.loop.scheduleFlush(connection)
    }

    /// nghttp2 asks for response body bytes.
    func readData(into buffer: UnsafeMutableRawBufferPointer) -> HTTP2DataRead {
        switch outbound.read(into: buffer) {
        case .deferred:
            return .deferred
        case .bytes(let count, nil):
            return .bytes(count, .more)
        case .bytes(let count, .status(let code, let message, let metadata)?):
            guard machine.sendStatus() == .trailers else { return .bytes(count, .endStream) }
            var fields: [HeaderField] = []
            ServerStream.appendStatus(code: code, message: message, metadata: metadata, to: &fields)
            return .bytes(count, .trailers(fields))
        case .bytes(let count, .endStream?):
            return .bytes(count, .endStream)
        }
    }

    /// Ends the call early with a status (bad request, deadline): cancels the handler, fails
    /// its queues and sends the status.
    func terminate(with error: RPCError) {
        task?.cancel()
        inbound?.finish(.failure(error))
        outbound.abort(with: .status(code: error.code, message: error.message, metadata: error.metadata),
                       writerError: error, kickLoop: false)
        kick()
    }

    /// The deadline timer fired.
    func deadlineExpired() {
        deadlineTimer = nil
        guard !machine.isClosed else { return }
        terminate(with: RPCError(code: .deadlineExceeded, message: "the call's deadline passed on the server"))
    }

    /// The stream is gone (closed by nghttp2, reset by the client, or the connection closed).
    func closed(errorCode: UInt32) {
        if let deadlineTimer { connection?.loop.cancelTimer(deadlineTimer) }
        deadlineTimer = nil
        let wasRunning = machine.receiveReset()
        let error = RPCError(code: .cancelled, message: errorCode == 0 && !wasRunning
                             ? "the call is over" : "the client cancelled the call")
        if wasRunning { task?.cancel() }
        inbound?.finish(.failure(error))
        outbound.fail(error)
    }

    /// The handler caught up: hand back the credit withheld meanwhile.
    func releaseCredit() {
        guard let connection, withheldCredit > 0, connection.streams[id] === self else { return }
        connection.session.consume(stream: id, bytes: withheldCredit)
        withheldCredit = 0
        connection.loop.scheduleFlush(connection)
    }

    /// `grpc-status`, `grpc-message` (percent-encoded, omitted when empty) and the metadata.
    static func appendStatus(code: StatusCode, message: String, metadata: Metadata, to fields: inout [HeaderField]) {
        fields.append(HeaderField("grpc-status", statusText[code.rawValue]))
        if !message.isEmpty { fields.append(HeaderField("grpc-message", PercentEncoding.encode(message))) }
        metadata.appendWire(to: &fields)
    }

    private static let statusText = (0...16).map { String($0) }
}
