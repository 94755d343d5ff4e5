/// A unary call's response with the metadata that came with it.
public struct UnaryResponse<Response: RPCMessage>: Sendable {
    /// The response message.
    public var message: Response
    /// The response headers' metadata.
    public var initialMetadata: Metadata
    /// The trailers' metadata.
    public var trailingMetadata: Metadata
}
