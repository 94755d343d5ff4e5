import Glibc

/// The listening socket: accepts connections on the loop.
final class ServerListener: EventLoopHandler {
    let fd: Int32
    private unowned let core: ServerCore

    init(fd: Int32, core: ServerCore) {
        self.fd = fd
        self.core = core
    }

    func handleEvent(_ events: UInt32) {
        // Accept what is pending, bounded so a connection storm cannot starve open connections.
        for _ in 0..<64 {
            let accepted: (fd: Int32, peer: String)?
            do {
                accepted = try Socket.accept(fd)
            } catch {
                return
            }
            guard let (connectionFD, peer) = accepted else { return }
            guard core.connections.count < core.configuration.maxConnections else {
                Glibc.close(connectionFD)
                continue
            }
            do {
                let connection = try ServerConnection(fd: connectionFD, peer: peer, loop: core.loop, core: core)
                core.connectionOpened(connection)
            } catch {
                Glibc.close(connectionFD)
            }
        }
    }

    func close() {
        core.loop.unregister(fd)
        Glibc.close(fd)
    }
}
