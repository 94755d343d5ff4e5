/// A message that travels in a gRPC call: anything that serializes to and from bytes.
///
/// Generated protobuf conversions conform to it; so does ``RawMessage`` for opaque payloads.
public protocol RPCMessage: Sendable {
    /// Decodes a message; throws an ``RPCError`` (usually `internalError` or `invalidArgument`)
    /// naming what is wrong with the bytes.
    init(serializedBytes: [UInt8]) throws(RPCError)
    /// The message's wire bytes.
    func serializedBytes() -> [UInt8]
}

/// A message that is its bytes, unparsed: for proxies, benchmarks and tests.
public struct RawMessage: RPCMessage, Hashable {
    /// The payload.
    public var bytes: [UInt8]

    /// Wraps bytes.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Wraps bytes; never fails.
    public init(serializedBytes: [UInt8]) {
        self.bytes = serializedBytes
    }

    /// The payload.
    public func serializedBytes() -> [UInt8] { bytes }
}
