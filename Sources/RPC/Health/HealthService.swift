import Synchronization

/// The standard `grpc.health.v1.Health` service: `Check` (unary) and `Watch`
/// (server-streaming), with a status per service name (`""` is the server as a whole).
///
/// Health calls need no token (see ``ServerConfiguration/unauthenticatedServices``), so probes
/// and load balancers can use them.
public final class HealthService: RPCService {
    /// The serving status of `grpc.health.v1.HealthCheckResponse`.
    public enum ServingStatus: Int, Sendable, Hashable {
        /// Not known.
        case unknown = 0
        /// Serving.
        case serving = 1
        /// Not serving (e.g. shutting down).
        case notServing = 2
        /// Only in `Watch`: the service is not registered.
        case serviceUnknown = 3
    }

    /// The fully qualified name, `grpc.health.v1.Health`.
    public static let name = "grpc.health.v1.Health"
    /// `Check`.
    public static let check = MethodDescriptor(service: name, method: "Check")
    /// `Watch`.
    public static let watch = MethodDescriptor(service: name, method: "Watch")

    private struct State {
        var statuses: [String: ServingStatus]
        var watchers: [UInt64: (service: String, continuation: AsyncStream<ServingStatus>.Continuation)] = [:]
        var nextWatcher: UInt64 = 0
    }

    private let state: Mutex<State>

    /// Creates the service with these services (default: the whole server, `""`) serving.
    public init(serving services: [String] = [""]) {
        state = Mutex(State(statuses: Dictionary(uniqueKeysWithValues: services.map { ($0, ServingStatus.serving) })))
    }

    /// The service name.
    public var serviceName: String { HealthService.name }

    /// `Check` and `Watch`.
    public var methods: [ServerMethod] {
        [
            .unary("Check") { [self] (request: HealthCheckRequest, _: ServerCallContext) async throws -> HealthCheckResponse in
                guard let status = status(for: request.service) else {
                    throw RPCError(code: .notFound, message: "unknown service '\(request.service)'")
                }
                return HealthCheckResponse(status: status)
            },
            .serverStreaming("Watch") { [self] (request: HealthCheckRequest, writer: ResponseWriter<HealthCheckResponse>, _: ServerCallContext) in
                try await watch(request.service, writer: writer)
            },
        ]
    }

    /// Sets a service's status; watchers of it get the new status if it changed.
    public func setStatus(_ status: ServingStatus, for service: String = "") {
        let continuations = state.withLock { state -> [AsyncStream<ServingStatus>.Continuation] in
            guard state.statuses[service] != status else { return [] }
            state.statuses[service] = status
            return state.watchers.values.filter { $0.service == service }.map(\.continuation)
        }
        for continuation in continuations { continuation.yield(status) }
    }

    /// Marks every registered service not serving (call before a graceful shutdown).
    public func enterNotServing() {
        let services = state.withLock { Array($0.statuses.keys) }
        for service in services { setStatus(.notServing, for: service) }
    }

    /// A service's status; nil if it was never set.
    public func status(for service: String) -> ServingStatus? {
        state.withLock { $0.statuses[service] }
    }

    private func watch(_ service: String, writer: ResponseWriter<HealthCheckResponse>) async throws {
        let (stream, continuation) = AsyncStream<ServingStatus>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state -> UInt64 in
            state.nextWatcher += 1
            state.watchers[state.nextWatcher] = (service, continuation)
            continuation.yield(state.statuses[service] ?? .serviceUnknown)
            return state.nextWatcher
        }
        defer { _ = state.withLock { $0.watchers.removeValue(forKey: id) } }
        // Iterating an AsyncStream ends when the task is cancelled (client gone, server closing).
        for await status in stream {
            try await writer.write(HealthCheckResponse(status: status))
        }
        try Task.checkCancellation()
    }
}

/// `grpc.health.v1.HealthCheckRequest`.
public struct HealthCheckRequest: Sendable, Hashable {
    /// The service to check; `""` for the whole server.
    public var service: String

    /// Creates a request.
    public init(service: String = "") {
        self.service = service
    }
}

/// `grpc.health.v1.HealthCheckResponse`.
public struct HealthCheckResponse: Sendable, Hashable {
    /// The status.
    public var status: HealthService.ServingStatus

    /// Creates a response.
    public init(status: HealthService.ServingStatus) {
        self.status = status
    }
}
