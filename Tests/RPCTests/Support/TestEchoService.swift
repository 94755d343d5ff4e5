import RPC
import Synchronization

/// An echo service on raw bytes, so the loopback tests need no generated code.
///
/// Request metadata steers it: `fail-code` / `fail-message-bin` (UTF-8) make the handler throw that status,
/// `delay-ms` makes it sleep first, and every `x-*` request pair comes back as initial and
/// trailing metadata (trailing ones renamed `x-trailer-*`).
struct TestEchoService: RPCService {
    static let name = "infinity.testing.v1.RawEcho"
    static let get = MethodDescriptor(service: name, method: "Get")
    static let expand = MethodDescriptor(service: name, method: "Expand")
    static let collect = MethodDescriptor(service: name, method: "Collect")
    static let update = MethodDescriptor(service: name, method: "Update")
    static let hang = MethodDescriptor(service: name, method: "Hang")

    /// What the `Hang` handler saw: incremented when it observed its cancellation.
    let probe = CancellationProbe()

    var serviceName: String { Self.name }

    var methods: [ServerMethod] {
        let probe = self.probe
        return [
            .unary("Get") { (request: RawMessage, context: ServerCallContext) async throws -> RawMessage in
                try await Self.applyControls(context)
                return request
            },
            // Replies with `request.bytes[0]` messages; message i is `[i] + request.bytes.dropFirst()`.
            .serverStreaming("Expand") { (request: RawMessage, writer: ResponseWriter<RawMessage>, context: ServerCallContext) in
                try await Self.applyControls(context)
                let count = Int(request.bytes.first ?? 0)
                for index in 0..<count {
                    try await writer.write(RawMessage([UInt8(truncatingIfNeeded: index)] + request.bytes.dropFirst()))
                }
            },
            // Replies with the concatenation of the requests.
            .clientStreaming("Collect") { (requests: RequestStream<RawMessage>, context: ServerCallContext) async throws -> RawMessage in
                var all: [UInt8] = []
                for try await request in requests { all += request.bytes }
                try await Self.applyControls(context)
                return RawMessage(all)
            },
            // Echoes each request as it arrives.
            .bidirectional("Update") { (requests: RequestStream<RawMessage>, writer: ResponseWriter<RawMessage>, context: ServerCallContext) in
                try await Self.applyControls(context)
                for try await request in requests { try await writer.write(request) }
            },
            // Never answers; records that it saw its cancellation.
            .unary("Hang") { (_: RawMessage, _: ServerCallContext) async throws -> RawMessage in
                probe.started()
                do {
                    try await Task.sleep(for: .seconds(60))
                } catch {
                    probe.cancelled()
                    throw error
                }
                return RawMessage([])
            },
        ]
    }

    private static func applyControls(_ context: ServerCallContext) async throws {
        var initial = Metadata()
        var trailing = Metadata()
        for entry in context.requestMetadata where entry.name.hasPrefix("x-") {
            switch entry.value {
            case .string(let text):
                initial.add(entry.name, text)
                trailing.add("x-trailer-" + entry.name.dropFirst(2), text)
            case .binary(let bytes):
                initial.add(entry.name, binary: bytes)
                trailing.add("x-trailer-" + entry.name.dropFirst(2), binary: bytes)
            }
        }
        context.initialMetadata = initial
        context.trailingMetadata = trailing
        if let delay = context.requestMetadata["delay-ms"].flatMap(Int.init) {
            try await Task.sleep(for: .milliseconds(delay))
        }
        if let code = context.requestMetadata["fail-code"].flatMap(Int.init) {
            let message = context.requestMetadata.binaries(for: "fail-message-bin").first.map { String(decoding: $0, as: UTF8.self) }
            throw RPCError(code: StatusCode(wireValue: code), message: message ?? "")
        }
    }
}

/// Counts handler starts and observed cancellations, and lets a test wait for them.
final class CancellationProbe: Sendable {
    private let counts = Mutex<(started: Int, cancelled: Int)>((0, 0))

    func started() { counts.withLock { $0.started += 1 } }
    func cancelled() { counts.withLock { $0.cancelled += 1 } }
    var startedCount: Int { counts.withLock { $0.started } }
    var cancelledCount: Int { counts.withLock { $0.cancelled } }

    /// Polls until `condition` holds or `timeout` passes; returns whether it held.
    func wait(timeout: Duration = .seconds(5), until condition: (CancellationProbe) -> Bool) async -> Bool {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition(self)
    }
}

/// A server with the echo service on an ephemeral loopback port, and a channel to it.
struct EchoFixture {
    let server: RPCServer
    let channel: RPCChannel
    let service: TestEchoService
    let port: Int

    init(server configuration: ServerConfiguration = ServerConfiguration(host: "127.0.0.1"),
         channel channelConfiguration: ChannelConfiguration = ChannelConfiguration()) throws {
        let service = TestEchoService()
        let server = RPCServer(configuration: configuration, services: [service, HealthService()])
        port = try server.start()
        self.server = server
        self.service = service
        channel = RPCChannel(host: "127.0.0.1", port: port, configuration: channelConfiguration)
    }

    func stop() async {
        await channel.close()
        await server.shutdown(grace: .seconds(1))
    }
}
