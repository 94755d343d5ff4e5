import Dispatch
import Glibc
import NetworkAddress
import RPC
import RPCEcho

/// `rpc-echo-server --listen HOST:PORT [--max-message-bytes N]`: the `infinity.testing.v1.Echo`
/// service (plus health) on our gRPC server, for scripts/bench/bench_grpc.sh and manual interop
/// checks. Prints `LISTENING <port>` once bound; stops on SIGINT or SIGTERM.
let usage = "usage: rpc-echo-server --listen HOST:PORT [--max-message-bytes N]"

func fail(_ message: String) -> Never {
    let text = "rpc-echo-server: \(message)\n\(usage)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

var arguments = CommandLine.arguments.dropFirst()
var listen = "127.0.0.1:0"
var maxMessageBytes = 64 << 20
while let flag = arguments.popFirst() {
    guard let value = arguments.popFirst() else { fail("\(flag) needs a value") }
    switch flag {
    case "--listen": listen = value
    case "--max-message-bytes":
        guard let bytes = Int(value), bytes > 0 else { fail("--max-message-bytes must be a positive integer, got '\(value)'") }
        maxMessageBytes = bytes
    default: fail("unknown option '\(flag)'")
    }
}
guard let endpoint = Endpoint(parsing: listen, ports: 0 ... 65535) else { fail("--listen must be HOST:PORT, got '\(listen)'") }
let (host, port) = (endpoint.host, endpoint.port)

var configuration = ServerConfiguration(host: host, port: port)
configuration.maxReceiveMessageBytes = maxMessageBytes
configuration.maxSendMessageBytes = maxMessageBytes
let server = RPCServer(configuration: configuration,
                       services: [EchoService(), HealthService(serving: ["", EchoService.name])])
let bound: Int
do {
    bound = try server.start()
} catch {
    fail("\(error)")
}
print("LISTENING \(bound)")
fflush(nil)

signal(SIGINT, SIG_IGN)
signal(SIGTERM, SIG_IGN)
let signals = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: .main) }
for source in signals {
    source.setEventHandler {
        Task {
            await server.shutdown(grace: .seconds(5))
            exit(0)
        }
    }
    source.resume()
}
dispatchMain()
