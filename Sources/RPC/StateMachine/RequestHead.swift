/// A validated gRPC request head: the method, the caller's metadata and deadline.
struct RequestHead: Sendable, Hashable {
    var method: MethodDescriptor
    /// Custom metadata only (reserved headers are removed), including `authorization`.
    var metadata: Metadata
    /// From `grpc-timeout`.
    var timeout: Duration?
}
