/// Sends response messages of a server-streaming or bidirectional call.
///
/// ``write(_:)`` suspends while more than about 1 MiB is queued toward a slow client
/// (backpressure) and throws once the call is over (cancelled, deadline passed).
public struct ResponseWriter<Response: RPCMessage>: Sendable {
    let outbound: OutboundMessageBuffer
    let maxMessageBytes: Int

    /// Serializes and queues one message.
    public func write(_ message: Response) async throws(RPCError) {
        let bytes = message.serializedBytes()
        try checkSize(bytes.count, limit: maxMessageBytes, what: "response")
        try await outbound.write(bytes)
    }
}

/// Fails a message over a size limit with `resourceExhausted`.
func checkSize(_ count: Int, limit: Int, what: String) throws(RPCError) {
    guard count <= limit else {
        throw RPCError(code: .resourceExhausted, message: "\(what) message of \(count) bytes exceeds the limit of \(limit) bytes")
    }
}
