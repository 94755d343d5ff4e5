/// The failure of one call: a gRPC status code other than `ok`, its message and the trailing
/// metadata that came with it.
///
/// Handlers throw it to answer with a status; clients receive it when a call fails.
public struct RPCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The status code.
    public var code: StatusCode
    /// A human-readable message (sent percent-encoded in `grpc-message`).
    public var message: String
    /// Trailing metadata sent with the status.
    public var metadata: Metadata

    /// Creates an error with a code, a message and optional trailing metadata.
    public init(code: StatusCode, message: String, metadata: Metadata = [:]) {
        self.code = code
        self.message = message
        self.metadata = metadata
    }

    /// `CODE: message`, e.g. `UNAVAILABLE: connection refused`.
    public var description: String {
        message.isEmpty ? code.description : "\(code): \(message)"
    }

    /// The status a server sends for an error thrown by a handler: an ``RPCError`` as it is,
    /// a cancellation as `cancelled`, anything else as `unknown` with the error's description.
    static func from(handlerError error: any Error) -> RPCError {
        switch error {
        case let error as RPCError: error
        case is CancellationError: RPCError(code: .cancelled, message: "the call was cancelled")
        default: RPCError(code: .unknown, message: "handler failed: \(String(describing: error))")
        }
    }
}

/// A failure of the RPC runtime itself rather than of one call: a server that cannot bind its
/// port, an event loop that cannot start, or an nghttp2 failure that ends a connection.
public struct RPCRuntimeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What failed, e.g. `bind 0.0.0.0:50051`.
    public var operation: String
    /// Why, e.g. the `strerror` text or the nghttp2 error string.
    public var reason: String

    /// Creates a runtime error.
    public init(operation: String, reason: String) {
        self.operation = operation
        self.reason = reason
    }

    /// `operation: reason`.
    public var description: String { "\(operation): \(reason)" }
}
