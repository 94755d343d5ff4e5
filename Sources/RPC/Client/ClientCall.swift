/// A call in progress with both directions open: the general form behind every call shape.
///
/// Send requests with ``send(_:)`` (it suspends while about 1 MiB is queued: backpressure),
/// end them with ``finishSending()``, and read ``responses``.
public struct ClientCall<Request: RPCMessage, Response: RPCMessage>: Sendable {
    let handle: CallHandle
    let maxSendMessageBytes: Int

    /// Sends one request message; throws once the call is over.
    public func send(_ message: Request) async throws(RPCError) {
        let bytes = message.serializedBytes()
        do {
            try checkSize(bytes.count, limit: maxSendMessageBytes, what: "request")
        } catch {
            handle.core.cancel(error)
            throw error
        }
        try await handle.core.outbound.write(bytes)
    }

    /// Ends the request stream (END_STREAM).
    public func finishSending() {
        handle.core.outbound.finish(.endStream)
    }

    /// The responses.
    public var responses: ResponseStream<Response> {
        ResponseStream(handle: handle)
    }

    /// Cancels the call (RST_STREAM CANCEL); readers get `cancelled`.
    public func cancel() {
        handle.core.cancel(RPCError(code: .cancelled, message: "the call was cancelled by the client"))
    }
}
