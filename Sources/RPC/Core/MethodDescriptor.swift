/// A gRPC method: its fully qualified service name and its method name.
public struct MethodDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// The fully qualified service, e.g. `grpc.health.v1.Health`.
    public var service: String
    /// The method, e.g. `Check`.
    public var method: String

    /// Creates a descriptor from a service and a method name.
    public init(service: String, method: String) {
        self.service = service
        self.method = method
    }

    /// Parses an HTTP/2 `:path` of the form `/service/method`; nil for any other shape.
    public init?(path: String) {
        let utf8 = path.utf8
        guard utf8.first == UInt8(ascii: "/") else { return nil }
        let rest = utf8.dropFirst()
        guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        let service = Substring(rest[rest.startIndex..<slash])
        let method = Substring(rest[rest.index(after: slash)...])
        guard !service.isEmpty, !method.isEmpty, !method.utf8.contains(UInt8(ascii: "/")) else { return nil }
        self.service = String(service)
        self.method = String(method)
    }

    /// The HTTP/2 `:path`: `/service/method`.
    public var path: String { "/\(service)/\(method)" }

    /// The path.
    public var description: String { path }
}
