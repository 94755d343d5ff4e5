/// Per-call settings of a client call.
public struct CallOptions: Sendable {
    /// How long the call may take, sent as `grpc-timeout`; nil for no deadline.
    public var timeout: Duration?
    /// Request metadata, added after the channel's default metadata.
    public var metadata: Metadata
    /// Whether the call waits (until its deadline) for a connection while the channel is
    /// reconnecting instead of failing fast with `unavailable`.
    public var waitForReady: Bool

    /// Creates options.
    public init(timeout: Duration? = nil, metadata: Metadata = [:], waitForReady: Bool = false) {
        self.timeout = timeout
        self.metadata = metadata
        self.waitForReady = waitForReady
    }
}
