/// How an ``RPCServer`` listens and what it accepts.
public struct ServerConfiguration: Sendable {
    /// The address to bind, e.g. `0.0.0.0`, `127.0.0.1` or `::`.
    public var host: String
    /// The TCP port; 0 picks a free one (``RPCServer/start()`` returns it).
    public var port: Int
    /// The largest request message accepted; larger ones fail with `resourceExhausted`.
    /// 4 MiB by default, like gRPC.
    public var maxReceiveMessageBytes: Int
    /// The largest response message a handler may send; larger ones fail the call with
    /// `resourceExhausted`.
    public var maxSendMessageBytes: Int
    /// The shared cluster token: when set, every call except those to ``unauthenticatedServices``
    /// must carry `authorization: Bearer <token>`, or it fails with `unauthenticated`.
    /// Read it from a file or the environment, never from a command-line flag.
    public var authToken: String?
    /// Services callable without the token (health checks must work for load balancers and probes).
    public var unauthenticatedServices: Set<String>
    /// Concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS).
    public var maxConcurrentStreamsPerConnection: UInt32
    /// Open connections; further ones are closed on accept.
    public var maxConnections: Int
    /// The listen backlog.
    public var backlog: Int32

    /// Creates a configuration.
    public init(host: String = "0.0.0.0", port: Int = 0,
                maxReceiveMessageBytes: Int = 4 << 20, maxSendMessageBytes: Int = Int(Int32.max),
                authToken: String? = nil, unauthenticatedServices: Set<String> = ["grpc.health.v1.Health"],
                maxConcurrentStreamsPerConnection: UInt32 = 4096, maxConnections: Int = 4096, backlog: Int32 = 1024) {
        self.host = host
        self.port = port
        self.maxReceiveMessageBytes = maxReceiveMessageBytes
        self.maxSendMessageBytes = maxSendMessageBytes
        self.authToken = authToken
        self.unauthenticatedServices = unauthenticatedServices
        self.maxConcurrentStreamsPerConnection = maxConcurrentStreamsPerConnection
        self.maxConnections = maxConnections
        self.backlog = backlog
    }
}
