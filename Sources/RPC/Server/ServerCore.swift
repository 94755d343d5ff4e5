/// What every connection of one server shares: the configuration, the method table, and the
/// set of open connections (loop thread) for shutdown.
final class ServerCore: @unchecked Sendable {
    let configuration: ServerConfiguration
    /// Methods by `:path` (`/service/method`).
    let methods: [String: ServerMethod]
    let serviceNames: Set<String>
    let loop: EventLoop

    // Loop-thread state.
    var connections: [ObjectIdentifier: ServerConnection] = [:]
    var listener: ServerListener?
    var isShuttingDown = false
    var shutdownWaiters: [CheckedContinuation<Void, Never>] = []

    init(configuration: ServerConfiguration, services: [any RPCService], loop: EventLoop) {
        self.configuration = configuration
        self.loop = loop
        var methods: [String: ServerMethod] = [:]
        var names = Set<String>()
        for service in services {
            names.insert(service.serviceName)
            for method in service.methods {
                methods[MethodDescriptor(service: service.serviceName, method: method.name).path] = method
            }
        }
        self.methods = methods
        self.serviceNames = names
    }

    func connectionOpened(_ connection: ServerConnection) {
        connections[ObjectIdentifier(connection)] = connection
    }

    func connectionClosed(_ connection: ServerConnection) {
        connections[ObjectIdentifier(connection)] = nil
        if isShuttingDown && connections.isEmpty { finishShutdown() }
    }

    /// Stops accepting and asks every connection to drain; after `grace`, closes what is left.
    func beginShutdown(grace: Duration, waiter: CheckedContinuation<Void, Never>) {
        shutdownWaiters.append(waiter)
        guard !isShuttingDown else {
            if connections.isEmpty { finishShutdown() }
            return
        }
        isShuttingDown = true
        listener?.close()
        listener = nil
        if connections.isEmpty {
            finishShutdown()
            return
        }
        for connection in connections.values { connection.drain() }
        _ = loop.schedule(at: EventLoop.deadline(after: grace)) { [self] in
            for connection in Array(connections.values) { connection.close() }
        }
    }

    private func finishShutdown() {
        let waiters = shutdownWaiters
        shutdownWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }
}
