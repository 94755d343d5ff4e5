/// The lifecycle of one gRPC call on the client side, as a pure value: response headers, DATA,
/// trailers and resets in; the call's outcome out. Unit-tested without sockets.
struct ClientCallStateMachine {
    /// Whether the response headers arrived.
    private(set) var responseStarted = false
    /// Whether the outcome is known (status received, failure, or reset).
    private(set) var isFinished = false
    private var deframer: MessageDeframer

    init(maxReceiveMessageBytes: Int) {
        deframer = MessageDeframer(maxMessageBytes: maxReceiveMessageBytes)
    }

    /// What a HEADERS block means.
    enum HeadersAction: Hashable {
        /// The response started; messages follow. Carries the initial metadata.
        case started(Metadata)
        /// The call is over with this outcome: trailers, a trailers-only response, or a
        /// non-gRPC HTTP response. Success carries the trailing metadata.
        case finished(Result<Metadata, RPCError>)
        /// Nothing to do (the call already finished).
        case none
    }

    /// Response headers, trailers, or a trailers-only response (`endStream` on the first block).
    mutating func receiveHeaders(_ fields: [HeaderField], endStream: Bool) -> HeadersAction {
        guard !isFinished else { return .none }
        if responseStarted {
            // Trailers.
            isFinished = true
            do {
                try deframer.finish()
            } catch {
                return .finished(.failure(error))
            }
            return .finished(ClientCallStateMachine.status(from: fields))
        }
        responseStarted = true
        let httpStatus = fields.first(":status").flatMap { Int($0) } ?? 0
        guard httpStatus == 200 else {
            isFinished = true
            var message = "unexpected HTTP status \(httpStatus)"
            if let grpcMessage = fields.first("grpc-message") { message += ": " + PercentEncoding.decode(grpcMessage) }
            return .finished(.failure(RPCError(code: StatusCode(httpStatus: httpStatus), message: message)))
        }
        if endStream || fields.first("grpc-status") != nil {
            isFinished = true
            return .finished(ClientCallStateMachine.status(from: fields))
        }
        let contentType = fields.first("content-type") ?? ""
        guard ServerCallStateMachine.isGRPCContentType(contentType) else {
            isFinished = true
            return .finished(.failure(RPCError(code: .unknown,
                                               message: "response content-type '\(contentType)' is not application/grpc")))
        }
        if let encoding = fields.first("grpc-encoding"), encoding != "identity" {
            isFinished = true
            return .finished(.failure(RPCError(code: .internalError,
                                               message: "response encoding '\(encoding)' is not supported (identity only)")))
        }
        return .started(ClientCallStateMachine.metadata(from: fields))
    }

    /// What a DATA chunk means.
    enum DataAction: Hashable {
        /// Messages were delivered; keep going.
        case proceed
        /// The response is malformed: cancel the stream and finish the call with this error.
        case fail(RPCError)
        /// The call already finished: drop the bytes.
        case discard
    }

    /// Response DATA: deliver complete messages.
    mutating func receiveData(_ chunk: UnsafeRawBufferPointer, deliver: ([UInt8]) -> Void) -> DataAction {
        guard !isFinished else { return .discard }
        guard responseStarted else {
            isFinished = true
            return .fail(RPCError(code: .internalError, message: "received DATA before response headers"))
        }
        do {
            try deframer.process(chunk) { (message) throws(RPCError) in deliver(message) }
            return .proceed
        } catch {
            isFinished = true
            return .fail(error)
        }
    }

    /// The server ended the stream with DATA instead of trailers: not a valid gRPC response.
    mutating func receiveEndStreamWithoutTrailers() -> RPCError? {
        guard !isFinished else { return nil }
        isFinished = true
        return RPCError(code: .internalError, message: "the server ended the stream without sending a status")
    }

    /// The stream closed (RST_STREAM, GOAWAY refusal, connection loss) before a status came.
    /// Returns the call's error, or nil if the call had already finished.
    mutating func receiveClose(http2ErrorCode: UInt32) -> RPCError? {
        guard !isFinished else { return nil }
        isFinished = true
        return ClientCallStateMachine.error(forResetCode: http2ErrorCode)
    }

    /// The caller or the deadline ended the call. Returns false if it had already finished.
    mutating func cancel() -> Bool {
        guard !isFinished else { return false }
        isFinished = true
        return true
    }

    /// gRPC's mapping of HTTP/2 RST_STREAM codes to status codes.
    static func error(forResetCode code: UInt32) -> RPCError {
        switch code {
        case 0x7: RPCError(code: .unavailable, message: "the server refused the stream (REFUSED_STREAM)")
        case 0x8: RPCError(code: .cancelled, message: "the server cancelled the stream")
        case 0xB: RPCError(code: .resourceExhausted, message: "the server reported ENHANCE_YOUR_CALM")
        case 0xC: RPCError(code: .permissionDenied, message: "the server requires a stronger transport (INADEQUATE_SECURITY)")
        case 0x0: RPCError(code: .internalError, message: "the stream closed without a status")
        default: RPCError(code: .internalError, message: "the stream was reset with HTTP/2 error code \(code)")
        }
    }

    /// The outcome a trailer block carries.
    static func status(from fields: [HeaderField]) -> Result<Metadata, RPCError> {
        let metadata = metadata(from: fields)
        guard let statusText = fields.first("grpc-status") else {
            return .failure(RPCError(code: .unknown, message: "the response trailers carry no grpc-status", metadata: metadata))
        }
        guard let value = Int(statusText) else {
            return .failure(RPCError(code: .unknown, message: "malformed grpc-status '\(statusText)'", metadata: metadata))
        }
        let code = StatusCode(wireValue: value)
        if code == .ok { return .success(metadata) }
        let message = fields.first("grpc-message").map(PercentEncoding.decode) ?? ""
        return .failure(RPCError(code: code, message: message, metadata: metadata))
    }

    static func metadata(from fields: [HeaderField]) -> Metadata {
        var metadata = Metadata()
        for field in fields where !Metadata.isReserved(field.name) {
            metadata.addWire(name: field.name, value: field.value)
        }
        return metadata
    }
}
