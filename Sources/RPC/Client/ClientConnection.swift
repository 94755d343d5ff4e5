import Glibc

/// One HTTP/2 connection of a channel: connects, multiplexes the channel's calls as streams,
/// and reports readiness, GOAWAY and closure to the channel. Loop thread only.
final class ClientConnection: EventLoopHandler, EventLoopFlushable, HTTP2SessionDelegate, @unchecked Sendable {
    enum Phase {
        case connecting
        case ready
        case closed
    }

    let fd: Int32
    let loop: EventLoop
    private weak var channel: RPCChannel?
    private(set) var session: HTTP2Session?
    private(set) var phase = Phase.connecting
    var streams: [Int32: ClientStreamCore] = [:]
    var isFlushScheduled = false
    /// GOAWAY received or sent: no new calls; close when the last one ends.
    private(set) var isGoingAway = false
    private var output = OutputBuffer()
    private var interest: UInt32 = 0
    private var connectTimer: TimerQueue.ID?

    init(fd: Int32, loop: EventLoop, channel: RPCChannel) {
        self.fd = fd
        self.loop = loop
        self.channel = channel
    }

    /// Watches the connect; loop thread.
    func start(connectTimeout: Duration) {
        interest = IOEvents.write
        do {
            try loop.register(fd, events: interest, handler: self)
        } catch {
            fail(RPCError(code: .unavailable, message: "cannot watch the socket: \(error)"))
            return
        }
        connectTimer = loop.schedule(at: EventLoop.deadline(after: connectTimeout)) { [weak self] in
            self?.fail(RPCError(code: .unavailable, message: "connect timed out after \(connectTimeout)"))
        }
    }

    func handleEvent(_ events: UInt32) {
        switch phase {
        case .connecting:
            let error = Socket.pendingError(fd)
            if error != 0 || events & (IOEvents.error | IOEvents.hangup) != 0 && events & IOEvents.write == 0 {
                fail(RPCError(code: .unavailable, message: "connect failed: \(Socket.errnoText(error == 0 ? ECONNREFUSED : error))"))
            } else if events & IOEvents.write != 0 {
                becomeReady()
            }
        case .ready:
            if events & (IOEvents.read | IOEvents.error | IOEvents.hangup) != 0 { readAvailable() }
            if phase == .ready && events & IOEvents.write != 0 { flush() }
        case .closed:
            break
        }
    }

    private func becomeReady() {
        if let connectTimer { loop.cancelTimer(connectTimer) }
        connectTimer = nil
        do {
            session = try HTTP2Session(role: .client, delegate: self, settings: HTTP2Session.Settings())
        } catch {
            fail(RPCError(code: .unavailable, message: "cannot start HTTP/2: \(error)"))
            return
        }
        phase = .ready
        interest = IOEvents.read
        loop.modify(fd, events: interest)
        channel?.connectionReady(self)
        loop.scheduleFlush(self)
    }

    private func readAvailable() {
        guard let session else { return }
        let buffer = loop.readBuffer
        for _ in 0..<4 {
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            if count > 0 {
                do {
                    try session.receive(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                } catch {
                    fail(RPCError(code: .internalError, message: "HTTP/2 protocol error from the server: \(error.reason)"))
                    return
                }
                if count < buffer.count { break }
            } else if count == 0 {
                fail(RPCError(code: .unavailable, message: "the server closed the connection"))
                return
            } else {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK {
                    fail(RPCError(code: .unavailable, message: "connection error: \(Socket.errnoText())"))
                    return
                }
                break
            }
        }
        loop.scheduleFlush(self)
    }

    func flush() {
        guard phase == .ready, let session else { return }
        do {
            if case .failed = try output.flush(fd: fd, session: session) {
                fail(RPCError(code: .unavailable, message: "connection error: \(Socket.errnoText())"))
                return
            }
        } catch {
            fail(RPCError(code: .internalError, message: "HTTP/2 failure: \(error.reason)"))
            return
        }
        if (isGoingAway && streams.isEmpty && output.isEmpty && !session.wantsWrite)
            || (!session.wantsRead && !session.wantsWrite && output.isEmpty) {
            fail(RPCError(code: .unavailable, message: "the connection closed"))
            return
        }
        var wanted: UInt32 = output.isAboveHighWater ? 0 : IOEvents.read
        if !output.isEmpty { wanted |= IOEvents.write }
        if wanted != interest {
            interest = wanted
            loop.modify(fd, events: wanted)
        }
    }

    /// Closes the connection, failing its calls with `error`.
    func fail(_ error: RPCError) {
        guard phase != .closed else { return }
        let wasConnecting = phase == .connecting
        phase = .closed
        if let connectTimer { loop.cancelTimer(connectTimer) }
        connectTimer = nil
        loop.unregister(fd)
        Glibc.close(fd)
        let open = streams.values
        streams.removeAll()
        for call in open { call.finish(.failure(error)) }
        if wasConnecting {
            channel?.connectFailed(self, error: error)
        } else {
            channel?.connectionClosed(self)
        }
    }

    /// Stops taking calls (GOAWAY) and closes once the calls in flight are done.
    func shutdown() {
        guard phase != .closed else { return }
        guard phase == .ready, let session else {
            fail(RPCError(code: .unavailable, message: "the channel was closed"))
            return
        }
        if !isGoingAway {
            isGoingAway = true
            session.submitGoAway()
        }
        loop.scheduleFlush(self)
    }

    /// Submits a call's request; loop thread.
    func startCall(_ call: ClientStreamCore) {
        guard phase == .ready, !isGoingAway, let session else {
            // Nothing was sent: the call can safely move to a new connection.
            if let channel, call.attempts < 3 {
                call.attempts += 1
                channel.reroute(call)
            } else {
                call.finish(.failure(RPCError(code: .unavailable, message: "the connection closed before the call started")))
            }
            return
        }
        let id: Int32
        do {
            id = try session.submitRequest(headers: call.headers)
        } catch {
            call.finish(.failure(RPCError(code: .unavailable, message: "cannot start the call: \(error.reason)")))
            return
        }
        call.streamID = id
        call.connection = self
        streams[id] = call
        if let deadline = call.deadline {
            call.deadlineTimer = loop.schedule(at: deadline) { [weak call] in
                call?.deadlineTimer = nil
                call?.finish(.failure(RPCError(code: .deadlineExceeded, message: "the call's deadline passed")))
            }
        }
        loop.scheduleFlush(self)
    }

    // MARK: HTTP/2 events

    func http2BeginHeaders(stream: Int32) throws {
        streams[stream]?.headerBlock = []
    }

    func http2Header(stream: Int32, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) throws {
        guard let call = streams[stream], call.headerBlock.count < 256 else { return }
        call.headerBlock.append(HeaderField(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
    }

    func http2HeadersComplete(stream: Int32, endStream: Bool) throws {
        guard let call = streams[stream] else { return }
        let fields = call.headerBlock
        call.headerBlock = []
        switch call.machine.receiveHeaders(fields, endStream: endStream) {
        case .started(let metadata):
            call.inbound.setInitialMetadata(metadata)
        case .finished(let result):
            call.finish(result, serverEnded: endStream)
        case .none:
            break
        }
    }

    func http2Data(stream: Int32, bytes: UnsafeRawBufferPointer) throws {
        session?.consumeConnection(bytes: bytes.count)
        guard let call = streams[stream] else {
            session?.consume(stream: stream, bytes: bytes.count)
            return
        }
        let inbound = call.inbound!
        switch call.machine.receiveData(bytes, deliver: { inbound.push($0) }) {
        case .proceed:
            if inbound.shouldWithholdCredit() {
                call.withheldCredit += bytes.count
            } else {
                session?.consume(stream: stream, bytes: bytes.count)
            }
        case .discard:
            session?.consume(stream: stream, bytes: bytes.count)
        case .fail(let error):
            session?.consume(stream: stream, bytes: bytes.count)
            call.finish(.failure(error))
        }
    }

    func http2DataEndStream(stream: Int32) throws {
        guard let call = streams[stream], let error = call.machine.receiveEndStreamWithoutTrailers() else { return }
        call.finish(.failure(error))
    }

    func http2StreamClosed(stream: Int32, errorCode: UInt32) throws {
        guard let call = streams.removeValue(forKey: stream) else { return }
        if let error = call.machine.receiveClose(http2ErrorCode: errorCode) {
            call.finish(.failure(error))
        } else {
            call.finish(.failure(RPCError(code: .cancelled, message: "the call is over")))
        }
        if isGoingAway && streams.isEmpty { loop.scheduleFlush(self) }
    }

    func http2GoAway(lastStreamID: Int32, errorCode: UInt32) {
        guard !isGoingAway else { return }
        isGoingAway = true
        channel?.connectionGoingAway(self)
    }

    func http2ReadData(stream: Int32, into buffer: UnsafeMutableRawBufferPointer) -> HTTP2DataRead {
        guard let call = streams[stream] else { return .bytes(0, .endStream) }
        switch call.outbound.read(into: buffer) {
        case .deferred:
            return .deferred
        case .bytes(let count, nil):
            return .bytes(count, .more)
        case .bytes(let count, _?):
            call.requestEnded = true
            return .bytes(count, .endStream)
        }
    }
}
