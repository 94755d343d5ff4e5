import Foundation
import RPC
import Testing

/// `infinity coordinator` as a process: serves health, shuts down gracefully on SIGTERM.
@Suite("infinity coordinator")
struct CoordinatorCommandTests {
    /// Starts the coordinator on an ephemeral loopback port; returns the process, its port and its output pipe.
    static func start(_ extra: [String] = [], environment: [String: String] = [:]) throws -> (Process, Int, Pipe) {
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = ["coordinator", "--listen", "127.0.0.1:0"] + extra
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // The first line names the bound port.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let match = text.split(separator: ":").last?.prefix(while: \.isNumber), let port = Int(match) else {
            process.terminate()
            throw CLIFailure("coordinator printed no port: \(text)")
        }
        return (process, port, output)
    }

    struct CLIFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    @Test("serves grpc.health.v1 and stops cleanly on SIGTERM", .timeLimit(.minutes(1)))
    func healthAndShutdown() async throws {
        let (process, port, output) = try Self.start(environment: ["INFINITY_CLUSTER_TOKEN": "s3cret"])
        let channel = RPCChannel(host: "127.0.0.1", port: port)
        let response: HealthCheckResponse = try await channel.unary(HealthService.check, request: HealthCheckRequest())
        #expect(response.status == .serving)
        let coordinator: HealthCheckResponse = try await channel.unary(
            HealthService.check, request: HealthCheckRequest(service: "infinity.v1.Coordinator"))
        #expect(coordinator.status == .serving)
        await channel.close()

        kill(process.processIdentifier, SIGTERM)
        let rest = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(rest.contains("coordinator stopped"))
    }

    @Test("a non-loopback address without a token is refused")
    func tokenRequired() throws {
        let result = try CLITests.run(["coordinator", "--listen", "0.0.0.0:0"])
        #expect(result.status == 1)
        #expect(result.error.hasPrefix("infinity: listening on 0.0.0.0 needs a cluster token: pass --token-file FILE or set INFINITY_CLUSTER_TOKEN"))
    }
}
