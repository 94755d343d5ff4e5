import RPC
import RPCEcho
import Testing

/// Interop with stock gRPC (Python grpcio 1.85, scripts/interop) both ways: grpcio's client
/// against our server, and our client against grpcio's server. Needs .venv-interop, which
/// `scripts/interop/setup-venv.sh` (run by .ci/run) makes; without it these tests are disabled
/// with that reason, never passed.
@Suite(.enabled(if: Interop.isAvailable, Interop.unavailableReason))
struct InteropTests {
    /// Every check echo_client.py runs (its `--list`).
    static let clientChecks = ["health", "unary", "server_streaming", "client_streaming", "bidirectional", "deadline",
                               "cancellation", "status_codes", "metadata", "large_message", "concurrency",
                               "unimplemented", "unauthenticated"]

    @Test("grpcio client against the Swift server")
    func grpcioClientAgainstSwiftServer() async throws {
        let server = try SwiftEchoServer.start()
        let (report, output, status) = try await CheckReport.run("echo_client.py", target: "127.0.0.1:\(server.port)")
        await server.server.shutdown(grace: .seconds(2))
        report.expectAllPassed(Self.clientChecks, output: output)
        #expect(status == 0)
    }

    @Test("Swift client against the grpcio server", arguments: SwiftClientCheck.allCases)
    func swiftClientAgainstGrpcioServer(_ check: SwiftClientCheck) async throws {
        let python = try ChildProcess(Interop.python, ["-u", Interop.script("echo_server.py")],
                                      environment: ["INTEROP_TOKEN": Interop.token])
        let port = try await python.listeningPort()
        let channel = RPCChannel(host: "127.0.0.1", port: port, configuration: ChannelConfiguration(
            maxReceiveMessageBytes: 80 << 20, authToken: Interop.token))
        do {
            try await check.run(channel, port: port)
        } catch {
            Issue.record("\(check): \(error)\nserver output:\n\(python.output)")
        }
        await channel.close()
        await python.stop()
    }
}

/// Our server with the Echo and Health services, as the interop and bad-input tests run it.
struct SwiftEchoServer {
    let server: RPCServer
    let port: Int

    static func start() throws -> SwiftEchoServer {
        let server = RPCServer(
            configuration: ServerConfiguration(host: "127.0.0.1", port: 0, maxReceiveMessageBytes: 80 << 20,
                                               authToken: Interop.token),
            services: [EchoService(), HealthService(serving: ["", EchoService.name])])
        return SwiftEchoServer(server: server, port: try server.start())
    }
}

/// The checks our client runs against grpcio's server: the mirror of echo_client.py's.
enum SwiftClientCheck: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case health, unary, serverStreaming, clientStreaming, bidirectional, deadline, cancellation, statusCodes,
         metadata, largeMessage, unimplemented, unauthenticated

    var testDescription: String { rawValue }

    func run(_ channel: RPCChannel, port: Int) async throws {
        switch self {
        case .health:
            let response = try await channel.unary(HealthService.check, request: HealthCheckRequest(service: EchoService.name),
                                                   responseType: HealthCheckResponse.self)
            #expect(response.status == .serving)
            let unknown = await failure {
                _ = try await channel.unary(HealthService.check, request: HealthCheckRequest(service: "no.such.Service"),
                                            responseType: HealthCheckResponse.self)
            }
            #expect(unknown?.code == .notFound)

        case .unary:
            let payload = (0 ..< 1024).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let response = try await channel.unary(EchoService.get, request: EchoRequest(text: "héllo ✓", payload: payload),
                                                   responseType: EchoResponse.self)
            #expect(response == EchoResponse(text: "héllo ✓", payload: payload, index: 0))

        case .serverStreaming:
            let stream = try await channel.serverStreaming(EchoService.expand, request: EchoRequest(text: "s", payload: [1], repeatCount: 5),
                                                           responseType: EchoResponse.self)
            var indices: [Int32] = []
            for try await response in stream {
                #expect(response.text == "s" && response.payload == [1])
                indices.append(response.index)
            }
            #expect(indices == [0, 1, 2, 3, 4])

        case .clientStreaming:
            let requests = (0 ..< 4).map { EchoRequest(text: "t\($0)", payload: [UInt8]($0 ..< $0 + 2)) }
            let response = try await channel.clientStreaming(EchoService.collect, requests: AsyncStream(sequence: requests),
                                                             responseType: EchoResponse.self)
            #expect(response.message == EchoResponse(text: "t0 t1 t2 t3", payload: [0, 1, 1, 2, 2, 3, 3, 4], index: 4))

        case .bidirectional:
            // Ping-pong: each request goes out only after the previous response came back, so
            // both sides must stream rather than buffer to the end.
            let call = try await channel.makeCall(EchoService.update, requestType: EchoRequest.self, responseType: EchoResponse.self)
            var responses = call.responses.makeAsyncIterator()
            for index in 0 ..< 5 {
                try await call.send(EchoRequest(text: "ping \(index)", payload: [UInt8(index)]))
                let response = try await responses.next()
                #expect(response == EchoResponse(text: "ping \(index)", payload: [UInt8(index)], index: Int32(index)))
            }
            call.finishSending()
            #expect(try await responses.next() == nil)

        case .deadline:
            let start = ContinuousClock.now
            let error = await failure {
                _ = try await channel.unary(EchoService.get, request: EchoRequest(text: "slow", delayMilliseconds: 30000),
                                            responseType: EchoResponse.self, options: CallOptions(timeout: .milliseconds(300)))
            }
            let elapsed = ContinuousClock.now - start
            #expect(error?.code == .deadlineExceeded)
            // Far below the server's 30 s delay (generous for a loaded CI machine).
            #expect(elapsed < .seconds(10), "DEADLINE_EXCEEDED after \(elapsed), expected about 0.3 s")

        case .cancellation:
            let before = try await cancelledCount(channel)
            let call = Task {
                try await channel.unary(EchoService.get, request: EchoRequest(text: "cancel me", delayMilliseconds: 5000),
                                        responseType: EchoResponse.self)
            }
            try await Task.sleep(for: .milliseconds(300))
            call.cancel()
            let outcome = await call.result
            #expect(throws: RPCError.self) { try outcome.get() }
            if case .failure(let error as RPCError) = outcome { #expect(error.code == .cancelled) }
            // The RST_STREAM must reach grpcio's handler, not only end the call here.
            let deadline = ContinuousClock.now + .seconds(3)
            var after = try await cancelledCount(channel)
            while after <= before, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                after = try await cancelledCount(channel)
            }
            #expect(after == before + 1, "grpcio's handler saw \(after - before) cancellations, expected 1")

        case .statusCodes:
            for code in StatusCode.allCases where code != .ok {
                let message = "failed on purpose: \(code) ünïcode ✓ 100%"
                let error = await failure {
                    _ = try await channel.unary(EchoService.get, request: EchoRequest(statusCode: Int32(code.rawValue), statusMessage: message),
                                                responseType: EchoResponse.self)
                }
                #expect(error?.code == code)
                #expect(error?.message == message)
            }

        case .metadata:
            let binary = (0 ... 255).map { UInt8($0) }
            var metadata = Metadata()
            metadata.add("x-echo-plain", "hello world")
            metadata.add("x-echo-data-bin", binary: binary)
            let response = try await channel.unaryCall(EchoService.get, request: EchoRequest(text: "m"),
                                                       responseType: EchoResponse.self, options: CallOptions(metadata: metadata))
            #expect(response.initialMetadata.strings(for: "x-echo-plain") == ["hello world"])
            #expect(response.initialMetadata.binaries(for: "x-echo-data-bin") == [binary])
            #expect(response.trailingMetadata.strings(for: "x-echo-trailer-plain") == ["hello world"])
            #expect(response.trailingMetadata.binaries(for: "x-echo-trailer-data-bin") == [binary])

        case .largeMessage:
            let payload = (0 ..< 64 << 20).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
            let response = try await channel.unary(EchoService.get, request: EchoRequest(text: "large", payload: payload),
                                                   responseType: EchoResponse.self, options: CallOptions(timeout: .seconds(120)))
            #expect(response.payload.count == 64 << 20)
            #expect(response.payload == payload)

        case .unimplemented:
            for method in [MethodDescriptor(service: EchoService.name, method: "NoSuchMethod"),
                           MethodDescriptor(service: "no.such.Service", method: "Get")] {
                let error = await failure { _ = try await channel.unary(method, request: RawMessage([]), responseType: RawMessage.self) }
                #expect(error?.code == .unimplemented, "\(method)")
            }

        case .unauthenticated:
            for token in [nil, "wrong"] {
                let stranger = RPCChannel(host: "127.0.0.1", port: port, configuration: ChannelConfiguration(authToken: token))
                let error = await failure {
                    _ = try await stranger.unary(EchoService.get, request: EchoRequest(text: "x"), responseType: EchoResponse.self)
                }
                #expect(error?.code == .unauthenticated, "token \(token ?? "none")")
                // Health stays open without the token.
                let health = try await stranger.unary(HealthService.check, request: HealthCheckRequest(),
                                                      responseType: HealthCheckResponse.self)
                #expect(health.status == .serving)
                await stranger.close()
            }
        }
    }

    /// What the server reports for `Get("__cancelled__")`.
    private func cancelledCount(_ channel: RPCChannel) async throws -> Int {
        let response = try await channel.unary(EchoService.get, request: EchoRequest(text: "__cancelled__"), responseType: EchoResponse.self)
        return try #require(Int(response.text))
    }

    /// The RPCError `body` throws; records an issue and returns nil if it throws nothing or
    /// something else.
    private func failure(_ body: () async throws -> Void) async -> RPCError? {
        do {
            try await body()
            Issue.record("expected the call to fail; it succeeded")
        } catch let error as RPCError {
            return error
        } catch {
            Issue.record("expected an RPCError, got \(error)")
        }
        return nil
    }
}

extension AsyncStream where Element: Sendable {
    /// A stream of `elements`, then its end.
    init(sequence elements: [Element]) {
        self.init { continuation in
            for element in elements { continuation.yield(element) }
            continuation.finish()
        }
    }
}
