/// How an ``RPCChannel`` connects and what it accepts.
public struct ChannelConfiguration: Sendable {
    /// Reconnection delays: exponential with jitter, as gRPC's connection-backoff spec.
    public struct Backoff: Sendable, Hashable {
        /// The delay after the first failure.
        public var initial: Duration
        /// The longest delay.
        public var maximum: Duration
        /// The growth factor per failure.
        public var multiplier: Double
        /// The random spread, as a fraction of the delay (0.2 = ±20%).
        public var jitter: Double

        /// Creates a backoff policy; the defaults are gRPC's (1 s, 120 s, ×1.6, ±20%).
        public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(120),
                    multiplier: Double = 1.6, jitter: Double = 0.2) {
            self.initial = initial
            self.maximum = maximum
            self.multiplier = multiplier
            self.jitter = jitter
        }
    }

    /// The largest response message accepted; larger ones fail the call with `resourceExhausted`.
    public var maxReceiveMessageBytes: Int
    /// The largest request message sent; larger ones fail the call with `resourceExhausted`.
    public var maxSendMessageBytes: Int
    /// Metadata sent with every call (before each call's own).
    public var defaultMetadata: Metadata
    /// When set, every call carries `authorization: Bearer <token>`.
    public var authToken: String?
    /// How long one connection attempt may take.
    public var connectTimeout: Duration
    /// Delays between reconnection attempts.
    public var backoff: Backoff
    /// The `user-agent` header.
    public var userAgent: String

    /// Creates a configuration.
    public init(maxReceiveMessageBytes: Int = 4 << 20, maxSendMessageBytes: Int = Int(Int32.max),
                defaultMetadata: Metadata = Metadata(), authToken: String? = nil,
                connectTimeout: Duration = .seconds(20), backoff: Backoff = Backoff(),
                userAgent: String = "infinity-rpc-swift/1.0") {
        self.maxReceiveMessageBytes = maxReceiveMessageBytes
        self.maxSendMessageBytes = maxSendMessageBytes
        self.defaultMetadata = defaultMetadata
        self.authToken = authToken
        self.connectTimeout = connectTimeout
        self.backoff = backoff
        self.userAgent = userAgent
    }
}
