import Synchronization

/// A client channel to one gRPC server: one HTTP/2 connection multiplexing every call,
/// reconnected with exponential backoff after it fails or closes.
///
/// ```swift
/// let channel = RPCChannel(host: "127.0.0.1", port: 50051)
/// let reply: EchoResponse = try await channel.unary(echoGet, request: request,
///                                                   options: CallOptions(timeout: .seconds(1)))
/// ```
///
/// Calls fail fast with `unavailable` while the server cannot be reached, unless
/// ``CallOptions/waitForReady`` asks them to wait (until their deadline).
public final class RPCChannel: Sendable {
    /// The server's host.
    public let host: String
    /// The server's port.
    public let port: Int
    /// The configuration given at creation.
    public let configuration: ChannelConfiguration

    private enum Connection {
        case idle
        case connecting(ClientConnection)
        case ready(ClientConnection)
        case backingOff(until: UInt64, error: RPCError)
        case closed
    }

    private struct State {
        var connection = Connection.idle
        var waiters: [UInt64: CheckedContinuation<ClientConnection, any Error>] = [:]
        var nextWaiterID: UInt64 = 0
        var backoff: Duration
        /// Connections draining after GOAWAY or a channel close, kept to close them.
        var draining: [ObjectIdentifier: ClientConnection] = [:]
    }

    private let state: Mutex<State>

    /// Creates a channel; it connects on the first call.
    public init(host: String, port: Int, configuration: ChannelConfiguration = ChannelConfiguration()) {
        self.host = host
        self.port = port
        self.configuration = configuration
        state = Mutex(State(backoff: configuration.backoff.initial))
    }

    deinit {
        let connections: [ClientConnection] = state.withLock { state in
            var all = Array(state.draining.values)
            switch state.connection {
            case .ready(let connection), .connecting(let connection): all.append(connection)
            default: break
            }
            return all
        }
        for connection in connections {
            connection.loop.execute { connection.shutdown() }
        }
    }

    // MARK: Calls

    /// A unary call.
    public func unary<Request: RPCMessage, Response: RPCMessage>(
        _ method: MethodDescriptor, request: Request, responseType: Response.Type = Response.self,
        options: CallOptions = CallOptions()
    ) async throws(RPCError) -> Response {
        try await unaryCall(method, request: request, responseType: responseType, options: options).message
    }

    /// A unary call, returning the response with its metadata.
    public func unaryCall<Request: RPCMessage, Response: RPCMessage>(
        _ method: MethodDescriptor, request: Request, responseType: Response.Type = Response.self,
        options: CallOptions = CallOptions()
    ) async throws(RPCError) -> UnaryResponse<Response> {
        let bytes = request.serializedBytes()
        try checkSize(bytes.count, limit: configuration.maxSendMessageBytes, what: "request")
        let handle = CallHandle(core: try await startCall(method, options: options))
        handle.core.outbound.writeLast(bytes, end: .endStream)
        return try await singleResponse(handle, Response.self)
    }

    /// A server-streaming call: one request, responses as an async sequence.
    public func serverStreaming<Request: RPCMessage, Response: RPCMessage>(
        _ method: MethodDescriptor, request: Request, responseType: Response.Type = Response.self,
        options: CallOptions = CallOptions()
    ) async throws(RPCError) -> ResponseStream<Response> {
        let bytes = request.serializedBytes()
        try checkSize(bytes.count, limit: configuration.maxSendMessageBytes, what: "request")
        let handle = CallHandle(core: try await startCall(method, options: options))
        handle.core.outbound.writeLast(bytes, end: .endStream)
        return ResponseStream(handle: handle)
    }

    /// A client-streaming call: sends every element of `requests`, then returns the response.
    /// If the server answers early (an error status), sending stops and that status is thrown.
    public func clientStreaming<Request: RPCMessage, Response: RPCMessage, Requests: AsyncSequence>(
        _ method: MethodDescriptor, requests: Requests, responseType: Response.Type = Response.self,
        options: CallOptions = CallOptions()
    ) async throws(RPCError) -> UnaryResponse<Response> where Requests.Element == Request {
        let handle = CallHandle(core: try await startCall(method, options: options))
        let call = ClientCall<Request, Response>(handle: handle, maxSendMessageBytes: configuration.maxSendMessageBytes)
        do {
            for try await request in requests {
                try await call.send(request)
            }
            call.finishSending()
        } catch let error as RPCError where error.code != .cancelled || Task.isCancelled {
            // A send failed because the call ended: the outcome below says why.
            if Task.isCancelled { handle.core.cancel(RPCError(code: .cancelled, message: "the calling task was cancelled")) }
        } catch {
            let failure = RPCError(code: .cancelled, message: "the request sequence failed: \(error)")
            handle.core.cancel(failure)
        }
        return try await singleResponse(handle, Response.self)
    }

    /// A bidirectional call: `requests` is sent by a task the call owns (cancelled with it);
    /// responses arrive as an async sequence.
    public func bidirectional<Request: RPCMessage, Response: RPCMessage, Requests: AsyncSequence & Sendable>(
        _ method: MethodDescriptor, requests: Requests, responseType: Response.Type = Response.self,
        options: CallOptions = CallOptions()
    ) async throws(RPCError) -> ResponseStream<Response> where Requests.Element == Request {
        let core = try await startCall(method, options: options)
        let maxSend = configuration.maxSendMessageBytes
        // The pump holds the core, not a CallHandle: only the reader's handle may cancel the
        // call when it is dropped.
        let pump = Task {
            do {
                for try await request in requests {
                    let bytes = request.serializedBytes()
                    do throws(RPCError) {
                        try checkSize(bytes.count, limit: maxSend, what: "request")
                    } catch {
                        core.cancel(error)
                        throw error
                    }
                    try await core.outbound.write(bytes)
                }
                core.outbound.finish(.endStream)
            } catch is RPCError {
                // The call ended; its outcome reaches the reader.
            } catch {
                core.cancel(RPCError(code: .cancelled, message: "the request sequence failed: \(error)"))
            }
        }
        return ResponseStream(handle: CallHandle(core: core, requestPump: pump))
    }

    /// Starts a call with both directions under the caller's control.
    public func makeCall<Request: RPCMessage, Response: RPCMessage>(
        _ method: MethodDescriptor, requestType: Request.Type = Request.self, responseType: Response.Type = Response.self,
        options: CallOptions = CallOptions()
    ) async throws(RPCError) -> ClientCall<Request, Response> {
        ClientCall(handle: CallHandle(core: try await startCall(method, options: options)), maxSendMessageBytes: configuration.maxSendMessageBytes)
    }

    /// Stops new calls and closes the connection once the calls in flight end.
    public func close() async {
        let (connections, waiters) = state.withLock { state -> ([ClientConnection], [CheckedContinuation<ClientConnection, any Error>]) in
            var all = Array(state.draining.values)
            switch state.connection {
            case .ready(let connection), .connecting(let connection): all.append(connection)
            default: break
            }
            state.connection = .closed
            let waiters = Array(state.waiters.values)
            state.waiters.removeAll()
            return (all, waiters)
        }
        for waiter in waiters { waiter.resume(throwing: RPCError(code: .unavailable, message: "the channel was closed")) }
        for connection in connections {
            connection.loop.execute { connection.shutdown() }
        }
    }

    // MARK: Call plumbing

    /// Connects if needed and submits the call's headers. The caller wraps the core in exactly
    /// one ``CallHandle`` (whose end of life cancels the call).
    private func startCall(_ method: MethodDescriptor, options: CallOptions) async throws(RPCError) -> ClientStreamCore {
        var deadline: UInt64?
        if let timeout = options.timeout {
            guard timeout > .zero else {
                throw RPCError(code: .deadlineExceeded, message: "the call's deadline passed before it started")
            }
            deadline = EventLoop.deadline(after: timeout)
        }
        if let invalid = options.metadata.firstInvalidEntry ?? configuration.defaultMetadata.firstInvalidEntry {
            throw RPCError(code: .internalError, message: invalid)
        }
        let connection = try await readyConnection(waitForReady: options.waitForReady, deadline: deadline)
        var headers = [
            HeaderField(":method", "POST"), HeaderField(":scheme", "http"), HeaderField(":path", method.path),
            HeaderField(":authority", "\(host):\(port)"), HeaderField("content-type", "application/grpc"),
            HeaderField("te", "trailers"), HeaderField("user-agent", configuration.userAgent),
        ]
        if let deadline {
            let now = EventLoop.now()
            guard deadline > now else {
                throw RPCError(code: .deadlineExceeded, message: "the call's deadline passed while connecting")
            }
            headers.append(HeaderField("grpc-timeout", GRPCTimeout.encode(.nanoseconds(Int64(clamping: deadline - now)))))
        }
        if let token = configuration.authToken { headers.append(HeaderField("authorization", "Bearer \(token)")) }
        configuration.defaultMetadata.appendWire(to: &headers)
        options.metadata.appendWire(to: &headers)
        let core = ClientStreamCore(loop: connection.loop, headers: headers, deadline: deadline,
                                    waitForReady: options.waitForReady, maxReceiveMessageBytes: configuration.maxReceiveMessageBytes)
        connection.loop.execute { connection.startCall(core) }
        return core
    }

    /// Moves a call that has not started to a fresh connection (loop thread).
    func reroute(_ core: ClientStreamCore) {
        Task {
            do throws(RPCError) {
                let connection = try await readyConnection(waitForReady: core.waitForReady, deadline: core.deadline)
                connection.loop.execute { connection.startCall(core) }
            } catch {
                core.cancel(error)
            }
        }
    }

    private func singleResponse<Response: RPCMessage>(_ handle: CallHandle, _ type: Response.Type) async throws(RPCError) -> UnaryResponse<Response> {
        guard let bytes = try await handle.nextMessage() else {
            throw RPCError(code: .internalError, message: "the server sent an OK status without a response message")
        }
        let message = try decodeMessage(Response.self, from: bytes, what: "response")
        if try await handle.nextMessage() != nil {
            handle.core.cancel(RPCError(code: .cancelled, message: "unexpected second response"))
            throw RPCError(code: .internalError, message: "the server sent more than one response message for a unary call")
        }
        let metadata = handle.core.inbound.metadata
        return UnaryResponse(message: message, initialMetadata: metadata.initial ?? Metadata(),
                             trailingMetadata: metadata.trailing ?? Metadata())
    }

    // MARK: Connection management

    private enum Step {
        case use(ClientConnection)
        case connect
        case wait
        case sleep(until: UInt64)
        case fail(RPCError)
    }

    private func readyConnection(waitForReady: Bool, deadline: UInt64?) async throws(RPCError) -> ClientConnection {
        while true {
            let now = EventLoop.now()
            if let deadline, now >= deadline {
                throw RPCError(code: .deadlineExceeded, message: "the call's deadline passed while waiting for a connection")
            }
            let step = state.withLock { state -> Step in
                switch state.connection {
                case .ready(let connection): return .use(connection)
                case .connecting: return .wait
                case .idle: return .connect
                case .closed: return .fail(RPCError(code: .unavailable, message: "the channel was closed"))
                case .backingOff(let until, let error):
                    if now >= until { return .connect }
                    return waitForReady ? .sleep(until: min(until, deadline ?? until)) : .fail(error)
                }
            }
            switch step {
            case .use(let connection):
                return connection
            case .fail(let error):
                throw error
            case .sleep(let until):
                let nanoseconds = until > now ? until - now : 0
                try? await Task.sleep(for: .nanoseconds(Int64(clamping: nanoseconds)))
                if Task.isCancelled { throw RPCError(code: .cancelled, message: "the calling task was cancelled") }
                continue
            case .connect:
                startConnecting()
                continue
            case .wait:
                do {
                    return try await waitForConnection(deadline: deadline)
                } catch {
                    if error.code == .unavailable && waitForReady { continue }
                    throw error
                }
            }
        }
    }

    private func waitForConnection(deadline: UInt64?) async throws(RPCError) -> ClientConnection {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ClientConnection, any Error>) in
                    let immediate: Result<ClientConnection, RPCError>? = state.withLock { state in
                        switch state.connection {
                        case .ready(let connection): return .success(connection)
                        case .connecting:
                            state.waiters[id] = continuation
                            return nil
                        case .closed: return .failure(RPCError(code: .unavailable, message: "the channel was closed"))
                        case .idle, .backingOff: return .failure(RPCError(code: .unavailable, message: "connection attempt ended"))
                        }
                    }
                    if let immediate { continuation.resume(with: immediate) }
                    if immediate == nil, let deadline, let loop = try? EventLoop.sharedClient() {
                        loop.execute { [weak self] in
                            _ = loop.schedule(at: deadline) { [weak self] in
                                self?.resumeWaiter(id, with: .failure(RPCError(
                                    code: .deadlineExceeded, message: "the call's deadline passed while connecting")))
                            }
                        }
                    }
                }
            } onCancel: {
                resumeWaiter(id, with: .failure(RPCError(code: .cancelled, message: "the calling task was cancelled")))
            }
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(code: .unknown, message: "\(error)")
        }
    }

    private func resumeWaiter(_ id: UInt64, with result: Result<ClientConnection, RPCError>) {
        let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
        waiter?.resume(with: result.mapError { $0 as any Error })
    }

    /// Moves `idle`/`backingOff` to `connecting` and starts a connection attempt.
    private func startConnecting() {
        let loop: EventLoop
        let fd: Int32
        do throws(RPCRuntimeError) {
            loop = try EventLoop.sharedClient()
            fd = try Socket.connect(host: host, port: port)
        } catch {
            recordFailure(RPCError(code: .unavailable, message: "cannot connect to \(host):\(port): \(error.reason)"), connection: nil)
            return
        }
        let connection = ClientConnection(fd: fd, loop: loop, channel: self)
        let started = state.withLock { state -> Bool in
            switch state.connection {
            case .idle, .backingOff:
                state.connection = .connecting(connection)
                return true
            default:
                return false
            }
        }
        guard started else {
            _ = Socket.closeDescriptor(fd)
            return
        }
        let timeout = configuration.connectTimeout
        loop.execute { connection.start(connectTimeout: timeout) }
    }

    // MARK: Connection events (loop thread)

    func connectionReady(_ connection: ClientConnection) {
        let waiters = state.withLock { state -> [CheckedContinuation<ClientConnection, any Error>] in
            guard case .connecting(let current) = state.connection, current === connection else { return [] }
            state.connection = .ready(connection)
            state.backoff = configuration.backoff.initial
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: connection) }
    }

    func connectFailed(_ connection: ClientConnection, error: RPCError) {
        recordFailure(RPCError(code: .unavailable, message: "cannot connect to \(host):\(port): \(error.message)"),
                      connection: connection)
    }

    private func recordFailure(_ error: RPCError, connection: ClientConnection?) {
        let waiters = state.withLock { state -> [CheckedContinuation<ClientConnection, any Error>] in
            switch state.connection {
            case .connecting(let current) where connection == nil || current === connection: break
            case .idle where connection == nil: break
            default: return []
            }
            let delay = state.backoff
            let jitter = 1 + configuration.backoff.jitter * Double.random(in: -1...1)
            let until = EventLoop.deadline(after: delay * jitter)
            state.connection = .backingOff(until: until, error: error)
            state.backoff = min(delay * configuration.backoff.multiplier, configuration.backoff.maximum)
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(throwing: error) }
    }

    func connectionGoingAway(_ connection: ClientConnection) {
        state.withLock { state in
            if case .ready(let current) = state.connection, current === connection {
                state.connection = .idle
                state.draining[ObjectIdentifier(connection)] = connection
            }
        }
    }

    func connectionClosed(_ connection: ClientConnection) {
        state.withLock { state in
            state.draining[ObjectIdentifier(connection)] = nil
            if case .ready(let current) = state.connection, current === connection {
                state.connection = .idle
            }
        }
    }
}
