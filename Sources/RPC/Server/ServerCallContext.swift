import Synchronization

/// What a handler knows about its call, and the response metadata it may set.
///
/// Cancellation (the client reset the stream, the deadline passed, the server is closing)
/// reaches the handler as cancellation of its task: `Task.isCancelled`, `Task.checkCancellation()`
/// or a `CancellationError` from `Task.sleep`.
public final class ServerCallContext: Sendable {
    /// The method called.
    public let method: MethodDescriptor
    /// The client's metadata (the `authorization` token is removed when the server checks it).
    public let requestMetadata: Metadata
    /// When the call must be done, from `grpc-timeout`; nil for none.
    public let deadline: ContinuousClock.Instant?
    /// The client's address, `host:port`.
    public let peer: String

    private let response = Mutex<(initial: Metadata, trailing: Metadata)>((Metadata(), Metadata()))

    init(method: MethodDescriptor, requestMetadata: Metadata, deadline: ContinuousClock.Instant?, peer: String) {
        self.method = method
        self.requestMetadata = requestMetadata
        self.deadline = deadline
        self.peer = peer
    }

    /// Metadata sent with the response headers; set it before the first message is written
    /// (later changes are not sent).
    public var initialMetadata: Metadata {
        get { response.withLock { $0.initial } }
        set { response.withLock { $0.initial = newValue } }
    }

    /// Metadata sent with the status (also when the handler throws).
    public var trailingMetadata: Metadata {
        get { response.withLock { $0.trailing } }
        set { response.withLock { $0.trailing = newValue } }
    }
}
