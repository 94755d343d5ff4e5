/// A gRPC service implemented in Swift: a fully qualified name and its methods.
public protocol RPCService: Sendable {
    /// The fully qualified service name, e.g. `grpc.health.v1.Health`.
    var serviceName: String { get }
    /// The methods, each with its handler.
    var methods: [ServerMethod] { get }
}

/// The request messages a handler gets: one (unary, server-streaming) or a stream.
enum ServerRequests: Sendable {
    case single([UInt8])
    case stream(InboundMessageBuffer)
}

/// One method of a service with its typed handler, erased to bytes in and bytes out.
public struct ServerMethod: Sendable {
    /// The four gRPC call shapes.
    public enum Kind: Sendable, Hashable {
        /// One request, one response.
        case unary
        /// One request, a stream of responses.
        case serverStreaming
        /// A stream of requests, one response.
        case clientStreaming
        /// Streams both ways.
        case bidirectional

        /// Whether the call takes exactly one request message.
        var singleRequest: Bool { self == .unary || self == .serverStreaming }
    }

    /// The method name, e.g. `Check`.
    public let name: String
    /// The call shape.
    public let kind: Kind
    /// Runs the handler; returns the final response payload for single-response shapes.
    let body: @Sendable (ServerRequests, OutboundMessageBuffer, ServerCallContext, Int) async throws -> [UInt8]?

    /// A unary method.
    public static func unary<Request: RPCMessage, Response: RPCMessage>(
        _ name: String,
        _ handler: @escaping @Sendable (Request, ServerCallContext) async throws -> Response
    ) -> ServerMethod {
        ServerMethod(name: name, kind: .unary) { requests, _, context, maxSend in
            let request = try decodeMessage(Request.self, from: requests.single, what: "request")
            let bytes = try await handler(request, context).serializedBytes()
            try checkSize(bytes.count, limit: maxSend, what: "response")
            return bytes
        }
    }

    /// A server-streaming method.
    public static func serverStreaming<Request: RPCMessage, Response: RPCMessage>(
        _ name: String,
        _ handler: @escaping @Sendable (Request, ResponseWriter<Response>, ServerCallContext) async throws -> Void
    ) -> ServerMethod {
        ServerMethod(name: name, kind: .serverStreaming) { requests, outbound, context, maxSend in
            let request = try decodeMessage(Request.self, from: requests.single, what: "request")
            try await handler(request, ResponseWriter(outbound: outbound, maxMessageBytes: maxSend), context)
            return nil
        }
    }

    /// A client-streaming method.
    public static func clientStreaming<Request: RPCMessage, Response: RPCMessage>(
        _ name: String,
        _ handler: @escaping @Sendable (RequestStream<Request>, ServerCallContext) async throws -> Response
    ) -> ServerMethod {
        ServerMethod(name: name, kind: .clientStreaming) { requests, _, context, maxSend in
            let bytes = try await handler(RequestStream(inbound: requests.stream), context).serializedBytes()
            try checkSize(bytes.count, limit: maxSend, what: "response")
            return bytes
        }
    }

    /// A bidirectional-streaming method.
    public static func bidirectional<Request: RPCMessage, Response: RPCMessage>(
        _ name: String,
        _ handler: @escaping @Sendable (RequestStream<Request>, ResponseWriter<Response>, ServerCallContext) async throws -> Void
    ) -> ServerMethod {
        ServerMethod(name: name, kind: .bidirectional) { requests, outbound, context, maxSend in
            try await handler(RequestStream(inbound: requests.stream), ResponseWriter(outbound: outbound, maxMessageBytes: maxSend), context)
            return nil
        }
    }
}

extension ServerRequests {
    /// The one request of a single-request shape (the connection guarantees the shape).
    var single: [UInt8] {
        if case .single(let bytes) = self { return bytes }
        return []
    }

    /// The request stream of a streaming shape (the connection guarantees the shape).
    var stream: InboundMessageBuffer {
        if case .stream(let buffer) = self { return buffer }
        let empty = InboundMessageBuffer(releaseCredit: {})
        empty.finish(.success(Metadata()))
        return empty
    }
}
