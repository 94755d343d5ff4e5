import Glibc

/// One accepted HTTP/2 connection: reads into nghttp2, routes calls to handler tasks, writes
/// batched output. Loop thread only (`@unchecked Sendable` so posted closures can refer to it).
final class ServerConnection: EventLoopHandler, EventLoopFlushable, HTTP2SessionDelegate, @unchecked Sendable {
    let fd: Int32
    let loop: EventLoop
    let core: ServerCore
    let peer: String
    private(set) var session: HTTP2Session!
    var streams: [Int32: ServerStream] = [:]
    var isFlushScheduled = false
    private var output = OutputBuffer()
    private var interest: UInt32 = 0
    private(set) var isClosed = false
    private var isDraining = false

    init(fd: Int32, peer: String, loop: EventLoop, core: ServerCore) throws(RPCRuntimeError) {
        self.fd = fd
        self.peer = peer
        self.loop = loop
        self.core = core
        var settings = HTTP2Session.Settings()
        settings.maxConcurrentStreams = core.configuration.maxConcurrentStreamsPerConnection
        session = try HTTP2Session(role: .server, delegate: self, settings: settings)
        interest = IOEvents.read
        try loop.register(fd, events: interest, handler: self)
        loop.scheduleFlush(self)
    }

    // MARK: Socket events

    func handleEvent(_ events: UInt32) {
        if events & IOEvents.read != 0 || events & (IOEvents.error | IOEvents.hangup) != 0 {
            readAvailable()
        }
        if !isClosed && events & IOEvents.write != 0 {
            flush()
        }
    }

    private func readAvailable() {
        let buffer = loop.readBuffer
        // A few reads per wake-up keeps one busy connection from starving the others.
        for _ in 0..<4 {
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            if count > 0 {
                do {
                    try session.receive(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                } catch {
                    // Not HTTP/2 or a protocol violation: nghttp2 queued a GOAWAY; send it and go.
                    flush()
                    close()
                    return
                }
                if count < buffer.count { break }
            } else if count == 0 {
                close()
                return
            } else {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { close() }
                break
            }
        }
        loop.scheduleFlush(self)
    }

    func flush() {
        guard !isClosed else { return }
        do {
            switch try output.flush(fd: fd, session: session) {
            case .failed:
                close()
                return
            case .drained, .blocked:
                break
            }
        } catch {
            close()
            return
        }
        if !session.wantsRead && !session.wantsWrite && output.isEmpty {
            close()
            return
        }
        if isDraining && streams.isEmpty && output.isEmpty && !session.wantsWrite {
            close()
            return
        }
        updateInterest()
    }

    private func updateInterest() {
        // Stop reading from a peer that does not read our output: its requests wait in the
        // kernel instead of piling up responses here.
        var wanted: UInt32 = output.isAboveHighWater ? 0 : IOEvents.read
        if !output.isEmpty { wanted |= IOEvents.write }
        if wanted != interest {
            interest = wanted
            loop.modify(fd, events: wanted)
        }
    }

    /// Closes the socket and cancels every call on it.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        loop.unregister(fd)
        Glibc.close(fd)
        let open = streams.values
        streams.removeAll()
        for stream in open { stream.closed(errorCode: 0x8) }
        core.connectionClosed(self)
    }

    /// Graceful shutdown: GOAWAY now, close once the calls in flight are done.
    func drain() {
        guard !isClosed, !isDraining else { return }
        isDraining = true
        session.submitGoAway()
        loop.scheduleFlush(self)
    }

    func submitResponse(stream: Int32, headers: [HeaderField], hasBody: Bool) {
        do {
            try session.submitResponse(stream: stream, headers: headers, hasBody: hasBody)
        } catch {
            session.resetStream(stream, errorCode: 0x2)
        }
    }

    // MARK: HTTP/2 events

    func http2BeginHeaders(stream: Int32) throws {
        if streams[stream] == nil {
            streams[stream] = ServerStream(id: stream, connection: self,
                                           maxReceiveMessageBytes: core.configuration.maxReceiveMessageBytes)
        }
    }

    func http2Header(stream: Int32, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) throws {
        guard let call = streams[stream], call.headers.count < 256 else { return }
        call.headers.append(HeaderField(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
    }

    func http2HeadersComplete(stream: Int32, endStream: Bool) throws {
        guard let call = streams[stream] else { return }
        let fields = call.headers
        call.headers = []
        switch call.machine.receiveHeaders(fields) {
        case .accept(let head):
            accept(call, head: head)
        case .reject(let error):
            call.terminate(with: error)
        case .rejectHTTP(let status, let error):
            call.responseSubmitted = true
            var fields = [HeaderField(":status", String(status)), HeaderField("content-type", "application/grpc")]
            ServerStream.appendStatus(code: error.code, message: error.message, metadata: Metadata(), to: &fields)
            submitResponse(stream: stream, headers: fields, hasBody: false)
            loop.scheduleFlush(self)
        case .ignore:
            break
        }
        if endStream { endOfRequest(call) }
    }

    func http2Data(stream: Int32, bytes: UnsafeRawBufferPointer) throws {
        session.consumeConnection(bytes: bytes.count)
        guard let call = streams[stream] else {
            session.consume(stream: stream, bytes: bytes.count)
            return
        }
        let action = call.machine.receiveData(bytes) { message in
            if let inbound = call.inbound { inbound.push(message) } else { call.requestMessage = message }
        }
        switch action {
        case .proceed:
            if let inbound = call.inbound, inbound.shouldWithholdCredit() {
                call.withheldCredit += bytes.count
            } else {
                session.consume(stream: stream, bytes: bytes.count)
            }
        case .discard:
            session.consume(stream: stream, bytes: bytes.count)
        case .fail(let error):
            session.consume(stream: stream, bytes: bytes.count)
            call.terminate(with: error)
        }
    }

    func http2DataEndStream(stream: Int32) throws {
        guard let call = streams[stream] else { return }
        endOfRequest(call)
    }

    func http2StreamClosed(stream: Int32, errorCode: UInt32) throws {
        guard let call = streams.removeValue(forKey: stream) else { return }
        call.closed(errorCode: errorCode)
        if isDraining && streams.isEmpty { loop.scheduleFlush(self) }
    }

    func http2GoAway(lastStreamID: Int32, errorCode: UInt32) {}

    func http2ReadData(stream: Int32, into buffer: UnsafeMutableRawBufferPointer) -> HTTP2DataRead {
        guard let call = streams[stream] else { return .bytes(0, .endStream) }
        return call.readData(into: buffer)
    }

    // MARK: Calls

    private func accept(_ call: ServerStream, head: RequestHead) {
        let configuration = core.configuration
        guard let method = core.methods[head.method.path] else {
            call.machine.refuse()
            let message = core.serviceNames.contains(head.method.service)
                ? "method '\(head.method.method)' is not implemented by service '\(head.method.service)'"
                : "unknown service '\(head.method.service)'"
            call.terminate(with: RPCError(code: .unimplemented, message: message))
            return
        }
        var metadata = head.metadata
        if let token = configuration.authToken {
            let presented = metadata["authorization"]
            metadata.removeAll(named: "authorization")
            if !configuration.unauthenticatedServices.contains(head.method.service) {
                if let failure = ServerConnection.authenticationFailure(presented: presented, token: token) {
                    call.machine.refuse()
                    call.terminate(with: failure)
                    return
                }
            }
        }
        call.method = method
        call.machine.route(singleRequest: method.kind.singleRequest)
        var deadline: ContinuousClock.Instant?
        if let timeout = head.timeout {
            deadline = ContinuousClock.now.advanced(by: timeout)
            call.deadlineTimer = loop.schedule(at: EventLoop.deadline(after: timeout)) { [weak call] in
                call?.deadlineExpired()
            }
        }
        call.context = ServerCallContext(method: head.method, requestMetadata: metadata, deadline: deadline, peer: peer)
        if !method.kind.singleRequest {
            startHandler(call, requests: .stream(call.makeInbound()))
        }
    }

    /// Checks `authorization: Bearer <token>` in constant time; nil when it matches.
    static func authenticationFailure(presented: String?, token: String) -> RPCError? {
        guard let presented else {
            return RPCError(code: .unauthenticated, message: "missing authorization metadata (expected 'Bearer <token>')")
        }
        let expected = Array("Bearer \(token)".utf8)
        guard ConstantTime.equals(Array(presented.utf8), expected) else {
            return RPCError(code: .unauthenticated, message: "invalid authorization token")
        }
        return nil
    }

    private func endOfRequest(_ call: ServerStream) {
        switch call.machine.receiveEndStream() {
        case .finishRequests:
            if let inbound = call.inbound {
                inbound.finish(.success(Metadata()))
            } else if let message = call.requestMessage {
                call.requestMessage = nil
                startHandler(call, requests: .single(message))
            }
        case .fail(let error):
            call.terminate(with: error)
        case .none:
            break
        }
    }

    private func startHandler(_ call: ServerStream, requests: ServerRequests) {
        guard let method = call.method, let context = call.context else { return }
        let outbound = call.outbound!
        let maxSend = core.configuration.maxSendMessageBytes
        call.task = Task {
            let end: OutboundEnd
            var finalMessage: [UInt8]?
            do {
                finalMessage = try await method.body(requests, outbound, context, maxSend)
                end = .status(code: .ok, message: "", metadata: context.trailingMetadata)
            } catch {
                let failure = RPCError.from(handlerError: error)
                var metadata = context.trailingMetadata
                metadata.append(contentsOf: failure.metadata)
                end = .status(code: failure.code, message: failure.message, metadata: metadata)
            }
            outbound.writeLast(finalMessage, end: end)
        }
    }
}
