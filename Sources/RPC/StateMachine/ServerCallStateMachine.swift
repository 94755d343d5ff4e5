/// The lifecycle of one gRPC call on the server side, as a pure value: each event (headers,
/// data, end of stream, a message or status from the handler, a reset, a deadline) returns the
/// action the connection must take. No sockets, no nghttp2: unit-tested on its own.
struct ServerCallStateMachine {
    /// Whether a request head arrived.
    private(set) var headReceived = false
    /// Whether the client ended its side (END_STREAM).
    private(set) var requestEnded = false
    /// Whether the request was refused or malformed: further request bytes are dropped while
    /// the status goes out.
    private(set) var requestFailed = false
    /// Whether the response HEADERS (`:status 200`) have been sent.
    private(set) var responseStarted = false
    /// Whether the status (trailers, or a trailers-only response) has been sent.
    private(set) var statusSent = false
    /// Whether the peer reset the stream (or the connection went away).
    private(set) var wasReset = false
    /// Request messages received so far.
    private(set) var requestCount = 0
    /// For unary and server-streaming methods: exactly one request message.
    private var singleRequest = false
    private var deframer: MessageDeframer

    init(maxReceiveMessageBytes: Int) {
        deframer = MessageDeframer(maxMessageBytes: maxReceiveMessageBytes)
    }

    /// Whether nothing more may be sent on the stream.
    var isClosed: Bool { statusSent || wasReset }

    // MARK: Request headers

    /// What to do with a request head.
    enum HeadersAction: Hashable {
        /// A well-formed gRPC request: route it.
        case accept(RequestHead)
        /// Not a gRPC request at all: answer with this HTTP status (and a gRPC status for
        /// gRPC-aware peers), ending the stream.
        case rejectHTTP(status: Int, error: RPCError)
        /// A gRPC request the server refuses: send a trailers-only response with this status.
        case reject(RPCError)
        /// A second header block (request trailers, which gRPC clients never send): ignore it.
        case ignore
    }

    /// Validates the request head: a gRPC content-type, `:method POST`, a `/service/method`
    /// path, identity encoding and a well-formed `grpc-timeout`.
    mutating func receiveHeaders(_ fields: [HeaderField]) -> HeadersAction {
        guard !headReceived else { return .ignore }
        headReceived = true
        var method: String?
        var path: String?
        var contentType: String?
        var encoding: String?
        var timeoutText: String?
        var metadata = Metadata()
        for field in fields {
            switch field.name {
            case ":method": method = field.value
            case ":path": path = field.value
            case "content-type": contentType = field.value
            case "grpc-encoding": encoding = field.value
            case "grpc-timeout": timeoutText = field.value
            default:
                if !Metadata.isReserved(field.name) { metadata.addWire(name: field.name, value: field.value) }
            }
        }
        guard let contentType, ServerCallStateMachine.isGRPCContentType(contentType) else {
            requestFailed = true
            statusSent = true
            let shown = contentType.map { "'\($0)'" } ?? "none"
            return .rejectHTTP(status: 415, error: RPCError(
                code: .internalError, message: "content-type \(shown) is not application/grpc"))
        }
        guard method == "POST" else {
            requestFailed = true
            statusSent = true
            return .rejectHTTP(status: 405, error: RPCError(
                code: .internalError, message: "HTTP method \(method ?? "none") is not POST"))
        }
        guard let path, let descriptor = MethodDescriptor(path: path) else {
            requestFailed = true
            return .reject(RPCError(code: .unimplemented, message: "malformed method path '\(path ?? "")'"))
        }
        if let encoding, encoding != "identity" {
            requestFailed = true
            return .reject(RPCError(code: .unimplemented,
                                    message: "message encoding '\(encoding)' is not supported (identity only)"))
        }
        var timeout: Duration?
        if let timeoutText {
            guard let parsed = GRPCTimeout.parse(timeoutText) else {
                requestFailed = true
                return .reject(RPCError(code: .internalError, message: "malformed grpc-timeout '\(timeoutText)'"))
            }
            timeout = parsed
        }
        return .accept(RequestHead(method: descriptor, metadata: metadata, timeout: timeout))
    }

    /// After routing: whether the method takes exactly one request message.
    mutating func route(singleRequest: Bool) {
        self.singleRequest = singleRequest
    }

    /// The connection refuses an accepted head (unknown method, bad credentials); the status
    /// follows through ``sendStatus()``.
    mutating func refuse() {
        requestFailed = true
    }

    /// `application/grpc`, optionally followed by `+format` or `;parameters`.
    static func isGRPCContentType(_ value: String) -> Bool {
        guard value.hasPrefix("application/grpc") else { return false }
        let rest = value.utf8.dropFirst(16)
        guard let next = rest.first else { return true }
        return next == UInt8(ascii: "+") || next == UInt8(ascii: ";")
    }

    // MARK: Request body

    /// What to do after a chunk of DATA.
    enum DataAction: Hashable {
        /// Keep going (complete messages were delivered).
        case proceed
        /// The request is bad: send this status and cancel the handler.
        case fail(RPCError)
        /// The request is already over: drop the bytes (still returning flow-control credit).
        case discard
    }

    /// Feeds request DATA through the deframer, delivering complete messages.
    mutating func receiveData(_ chunk: UnsafeRawBufferPointer, deliver: ([UInt8]) -> Void) -> DataAction {
        guard headReceived, !requestFailed, !requestEnded, !isClosed else { return .discard }
        // A local counter keeps the closure from capturing `self` while the deframer mutates.
        var count = requestCount
        let single = singleRequest
        defer { requestCount = count }
        do {
            try deframer.process(chunk) { (message) throws(RPCError) in
                count += 1
                if single && count > 1 {
                    throw RPCError(code: .internalError, message: "received more than one request message for a unary method")
                }
                deliver(message)
            }
            return .proceed
        } catch {
            requestFailed = true
            return .fail(error)
        }
    }

    /// What to do when the client ends its side.
    enum EndAction: Hashable {
        /// No more request messages: finish the request stream (or start a unary handler).
        case finishRequests
        /// The request ended badly: send this status and cancel the handler.
        case fail(RPCError)
        /// Nothing to do.
        case none
    }

    /// The client sent END_STREAM.
    mutating func receiveEndStream() -> EndAction {
        guard headReceived, !requestEnded else { return .none }
        requestEnded = true
        guard !requestFailed, !isClosed else { return .none }
        do {
            try deframer.finish()
        } catch {
            requestFailed = true
            return .fail(error)
        }
        if singleRequest && requestCount == 0 {
            requestFailed = true
            return .fail(RPCError(code: .internalError, message: "received no request message for a unary method"))
        }
        return .finishRequests
    }

    // MARK: Response

    /// How to send response messages.
    enum SendMessageAction: Hashable {
        /// Send the response headers first, then the messages.
        case startResponseAndSend
        /// Send the messages.
        case send
        /// The stream is closed: drop them.
        case drop
    }

    /// The handler has messages to send.
    mutating func sendMessages() -> SendMessageAction {
        guard !isClosed else { return .drop }
        if responseStarted { return .send }
        responseStarted = true
        return .startResponseAndSend
    }

    /// How to send the status.
    enum SendStatusAction: Hashable {
        /// No response headers went out: one HEADERS frame with `:status 200`, the gRPC status
        /// and END_STREAM.
        case trailersOnly
        /// Trailers after the messages.
        case trailers
        /// The stream is closed: nothing to send.
        case drop
    }

    /// The call is over (handler returned or threw, request failed, deadline): send the status.
    mutating func sendStatus() -> SendStatusAction {
        guard headReceived, !isClosed else { return .drop }
        statusSent = true
        return responseStarted ? .trailers : .trailersOnly
    }

    /// The peer reset the stream or the connection went away. Returns whether a running
    /// handler must be cancelled (it must, unless the call had already completed).
    mutating func receiveReset() -> Bool {
        let wasRunning = headReceived && !isClosed
        wasReset = true
        return wasRunning
    }
}
