/// The request messages of a client-streaming or bidirectional call, decoded as they are read.
///
/// Reading returns flow-control credit to the client, so a handler that reads slowly slows the
/// client down instead of buffering without bound. Iteration throws if the call fails
/// (cancelled, deadline, an undecodable message: `internalError`).
public struct RequestStream<Request: RPCMessage>: AsyncSequence, Sendable {
    /// Elements are decoded requests.
    public typealias Element = Request
    /// Iteration throws ``RPCError``.
    public typealias Failure = RPCError

    let inbound: InboundMessageBuffer

    /// The iterator.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let inbound: InboundMessageBuffer

        /// The next request; nil when the client finished sending.
        public mutating func next() async throws(RPCError) -> Request? {
            guard let bytes = try await inbound.next() else { return nil }
            return try decodeMessage(Request.self, from: bytes, what: "request")
        }

    }

    /// Starts iterating.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(inbound: inbound)
    }
}

/// Decodes a message, turning a decoding failure into `internalError` naming what failed.
func decodeMessage<Message: RPCMessage>(_ type: Message.Type, from bytes: [UInt8], what: String) throws(RPCError) -> Message {
    do {
        return try Message(serializedBytes: bytes)
    } catch {
        throw RPCError(code: .internalError, message: "could not decode the \(what) message (\(bytes.count) bytes): \(error.message)",
                       metadata: error.metadata)
    }
}
