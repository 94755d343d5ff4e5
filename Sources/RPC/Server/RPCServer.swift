import Synchronization

/// A gRPC server over HTTP/2 cleartext (prior knowledge): one event-loop thread serves every
/// connection; handlers run as Swift tasks.
///
/// ```swift
/// let server = RPCServer(configuration: .init(port: 50051), services: [HealthService()])
/// let port = try server.start()
/// ...
/// await server.shutdown(grace: .seconds(10))
/// ```
public final class RPCServer: Sendable {
    /// The configuration given at creation.
    public let configuration: ServerConfiguration
    private let services: [any RPCService]
    private let state = Mutex<(core: ServerCore?, stopped: Bool)>((nil, false))

    /// Creates a server; nothing listens until ``start()``.
    public init(configuration: ServerConfiguration, services: [any RPCService]) {
        self.configuration = configuration
        self.services = services
    }

    /// Binds, listens and starts serving; returns the bound port.
    @discardableResult
    public func start() throws(RPCRuntimeError) -> Int {
        try state.withLock { (state) throws(RPCRuntimeError) -> Int in
            guard state.core == nil, !state.stopped else {
                throw RPCRuntimeError(operation: "start server", reason: "the server was already started")
            }
            let (fd, port) = try Socket.listen(host: configuration.host, port: configuration.port,
                                               backlog: configuration.backlog)
            let loop: EventLoop
            do throws(RPCRuntimeError) {
                loop = try EventLoop(name: "rpc-server")
            } catch {
                _ = Socket.closeDescriptor(fd)
                throw error
            }
            let core = ServerCore(configuration: configuration, services: services, loop: loop)
            loop.execute {
                let listener = ServerListener(fd: fd, core: core)
                do {
                    try loop.register(fd, events: IOEvents.read, handler: listener)
                    core.listener = listener
                } catch {
                    _ = Socket.closeDescriptor(fd)
                }
            }
            state.core = core
            return port
        }
    }

    /// Graceful shutdown: stops accepting, sends GOAWAY on every connection, lets the calls in
    /// flight finish for up to `grace`, then cancels the rest and closes everything.
    public func shutdown(grace: Duration = .seconds(10)) async {
        let core = state.withLock { state -> ServerCore? in
            state.stopped = true
            return state.core
        }
        guard let core else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            core.loop.execute { core.beginShutdown(grace: grace, waiter: continuation) }
        }
        let loop = state.withLock { state -> EventLoop? in
            defer { state.core = nil }
            return state.core?.loop
        }
        // Every connection is closed: the join below waits for one loop round, not for calls.
        loop?.stop()
    }
}
