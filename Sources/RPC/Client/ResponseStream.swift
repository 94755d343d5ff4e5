/// The response messages of a server-streaming or bidirectional call, decoded as they arrive.
///
/// Iteration ends after the server's OK status and throws ``RPCError`` for any other outcome.
/// Cancelling the iterating task cancels the call (RST_STREAM CANCEL); so does dropping the
/// stream before it ends.
public struct ResponseStream<Response: RPCMessage>: AsyncSequence, Sendable {
    /// Elements are decoded responses.
    public typealias Element = Response
    /// Iteration throws ``RPCError``.
    public typealias Failure = RPCError

    let handle: CallHandle

    /// The response headers' metadata, once they arrived.
    public var initialMetadata: Metadata? { handle.core.inbound.metadata.initial }
    /// The trailers' metadata, once the call ended.
    public var trailingMetadata: Metadata? { handle.core.inbound.metadata.trailing }

    /// Cancels the call.
    public func cancel() {
        handle.core.cancel(RPCError(code: .cancelled, message: "the call was cancelled by the client"))
    }

    /// The iterator.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let handle: CallHandle

        /// The next response; nil after the OK status.
        public mutating func next() async throws(RPCError) -> Response? {
            guard let bytes = try await handle.nextMessage() else { return nil }
            return try decodeMessage(Response.self, from: bytes, what: "response")
        }
    }

    /// Starts iterating.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(handle: handle)
    }
}

/// Keeps a call alive while anything can still read it, and cancels it when nothing can.
final class CallHandle: Sendable {
    let core: ClientStreamCore
    /// The task feeding a bidirectional call's requests, cancelled with the call.
    let requestPump: Task<Void, Never>?

    init(core: ClientStreamCore, requestPump: Task<Void, Never>? = nil) {
        self.core = core
        self.requestPump = requestPump
    }

    deinit {
        requestPump?.cancel()
        core.cancel(RPCError(code: .cancelled, message: "the response stream was dropped"))
    }

    /// The next message; cancelling the calling task cancels the call.
    func nextMessage() async throws(RPCError) -> [UInt8]? {
        let inbound = core.inbound!
        let core = self.core
        let result: Result<[UInt8]?, RPCError> = await withTaskCancellationHandler {
            do throws(RPCError) {
                return .success(try await inbound.next())
            } catch {
                return .failure(error)
            }
        } onCancel: {
            core.cancel(RPCError(code: .cancelled, message: "the calling task was cancelled"))
        }
        if case .failure = result { requestPump?.cancel() }
        return try result.get()
    }
}
