import Cluster
import Dispatch
import Foundation
import NetworkAddress
import RPC

/// `infinity coordinator`: serves the Coordinator service (job queue, placement, lock-step
/// driving, checkpoints, recovery) and health until SIGINT or SIGTERM, then shuts down
/// gracefully: GOAWAY, in-flight calls drain.
enum CoordinatorCommand {
    /// The environment variable that may hold the cluster token (never a flag: it would show in `ps`).
    static let tokenVariable = "INFINITY_CLUSTER_TOKEN"

    static func run(_ arguments: ArraySlice<String>) async throws {
        let options = try Arguments(arguments, options: ["listen", "token-file", "grace", "checkpoint-interval", "checkpoint-dir",
                                                         "heartbeat-interval-ms", "heartbeat-timeout-ms"])
        let (host, port) = try ListenAddress.parse(options.string("listen") ?? "127.0.0.1:50051", flag: "listen")
        let grace = try options.int("grace", default: 10, range: 0 ... 3600)
        let interval = try options.int("heartbeat-interval-ms", default: 500, range: 10 ... 600_000)
        let timeout = try options.int("heartbeat-timeout-ms", default: 3000, range: 20 ... 3_600_000)
        guard timeout > interval else {
            throw Arguments.Failure(description: "--heartbeat-timeout-ms (\(timeout)) must exceed --heartbeat-interval-ms (\(interval))")
        }
        let settings = CoordinatorSettings(checkpointInterval: try options.int("checkpoint-interval", default: 2, range: 1 ... 1000),
                                           checkpointDirectory: options.string("checkpoint-dir"),
                                           heartbeatInterval: .milliseconds(interval), heartbeatTimeout: .milliseconds(timeout))
        let token = try clusterToken(file: options.string("token-file"))
        if token == nil && !ListenAddress.isLoopback(host) {
            throw Arguments.Failure(description: "listening on \(host) needs a cluster token: pass --token-file FILE or set \(tokenVariable)")
        }

        let coordinator = Coordinator(settings: settings, token: token)
        let health = HealthService(serving: ["", "infinity.v1.Coordinator"])
        let server = RPCServer(configuration: ServerConfiguration(host: host, port: port, maxReceiveMessageBytes: clusterMessageLimit,
                                                                  authToken: token),
                               services: [health, CoordinatorService(coordinator: coordinator)])
        let bound = try server.start()
        await coordinator.start()
        say("coordinator listening on \(host):\(bound)\(token == nil ? " (no cluster token: loopback only)" : "")")

        await waitForTermination()
        say("coordinator shutting down (grace \(grace) s)")
        health.enterNotServing()
        await coordinator.stop()
        await server.shutdown(grace: .seconds(grace))
        say("coordinator stopped")
    }

    /// The token from `--token-file` (its first line) or the environment; nil when neither.
    static func clusterToken(file: String?) throws -> String? {
        if let file {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw Arguments.Failure(description: "--token-file: cannot read '\(file)'")
            }
            let token = text.split(whereSeparator: \.isNewline).first.map(String.init)?
                .trimmingCharacters(in: .whitespaces) ?? ""
            guard !token.isEmpty else { throw Arguments.Failure(description: "--token-file: '\(file)' holds no token") }
            return token
        }
        if let token = ProcessInfo.processInfo.environment[tokenVariable], !token.isEmpty {
            return token
        }
        return nil
    }

    /// Returns when the process receives SIGINT or SIGTERM.
    static func waitForTermination() async {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let queue = DispatchQueue(label: "infinity.signals")
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let sources = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: queue) }
            let resumed = ResumeOnce(continuation)
            for source in sources {
                source.setEventHandler {
                    sources.forEach { $0.cancel() }
                    resumed.resume()
                }
                source.resume()
            }
        }
    }
}

/// Resumes a continuation at most once, from whichever signal arrives first.
private final class ResumeOnce: @unchecked Sendable {
    // @unchecked: `continuation` is only touched on the serial signal queue.
    private var continuation: CheckedContinuation<Void, Never>?

    init(_ continuation: CheckedContinuation<Void, Never>) {
        self.continuation = continuation
    }

    func resume() {
        continuation?.resume()
        continuation = nil
    }
}

/// `HOST:PORT` listen addresses (`[::1]:PORT` for IPv6).
enum ListenAddress {
    static func parse(_ text: String, flag: String) throws -> (host: String, port: Int) {
        do {
            let endpoint = try Endpoint(text, ports: 0 ... 65535)
            return (endpoint.host, endpoint.port)
        } catch {
            throw Arguments.Failure(description: "--\(flag) must be HOST:PORT with a port in 0...65535 ('\(text)' \(error))")
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        Endpoint(host: host, port: 0).isLoopback
    }
}
