import RPC
import Testing

/// Graceful shutdown and reconnection.
@Suite(.timeLimit(.minutes(1)))
struct LoopbackLifecycleTests {
    @Test func gracefulShutdownDrainsACallInFlight() async throws {
        let fixture = try EchoFixture()
        let channel = fixture.channel
        // Connect first, so the call below reaches the server quickly even on a loaded machine.
        _ = try await channel.unary(TestEchoService.get, request: RawMessage([1]), responseType: RawMessage.self)
        let inFlight = Task {
            try await channel.unary(TestEchoService.get, request: RawMessage([42]), responseType: RawMessage.self,
                                    options: CallOptions(metadata: ["delay-ms": "1000"]))
        }
        // Let the call reach the server before shutting down.
        try await Task.sleep(for: .milliseconds(300))
        let start = ContinuousClock.now
        await fixture.server.shutdown(grace: .seconds(5))
        let shutdownTime = ContinuousClock.now - start
        #expect(try await inFlight.value.bytes == [42])
        // Drained when the call finished, well before the 5 s grace would have cut it off.
        #expect(shutdownTime < .milliseconds(4500), "\(shutdownTime)")
        // Nothing listens any more.
        let after = await #expect(throws: RPCError.self) {
            _ = try await channel.unary(TestEchoService.get, request: RawMessage([1]), responseType: RawMessage.self)
        }
        #expect(after?.code == .unavailable)
        await channel.close()
    }

    @Test func shutdownGraceCancelsCallsThatDoNotFinish() async throws {
        let fixture = try EchoFixture()
        let channel = fixture.channel
        let probe = fixture.service.probe
        let hanging = Task {
            try await channel.unary(TestEchoService.hang, request: RawMessage([]), responseType: RawMessage.self)
        }
        #expect(await probe.wait { $0.startedCount == 1 })
        let start = ContinuousClock.now
        await fixture.server.shutdown(grace: .milliseconds(200))
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(200) && elapsed < .seconds(3), "\(elapsed)")
        #expect(await probe.wait { $0.cancelledCount == 1 })
        let result = await hanging.result
        #expect(throws: RPCError.self) { try result.get() }
        await channel.close()
    }

    @Test func reconnectsAfterAServerRestart() async throws {
        let first = RPCServer(configuration: ServerConfiguration(host: "127.0.0.1"), services: [TestEchoService()])
        let port = try first.start()
        let channel = RPCChannel(host: "127.0.0.1", port: port)
        #expect(try await channel.unary(TestEchoService.get, request: RawMessage([1]), responseType: RawMessage.self).bytes == [1])
        await first.shutdown(grace: .seconds(1))

        let second = RPCServer(configuration: ServerConfiguration(host: "127.0.0.1", port: port), services: [TestEchoService()])
        #expect(try second.start() == port)
        // The old connection's GOAWAY and close move the channel back to idle and the next call
        // reconnects. A call racing the GOAWAY may be refused (REFUSED_STREAM → UNAVAILABLE, safe
        // to retry: the server never saw it); at most one such race can happen per connection.
        var outcomes: [Result<RawMessage, RPCError>] = []
        for _ in 0..<2 {
            let outcome = await Self.call(channel, [2])
            outcomes.append(outcome)
            if case .success = outcome { break }
        }
        let failures = outcomes.compactMap { outcome -> RPCError? in
            if case .failure(let error) = outcome { return error }
            return nil
        }
        #expect(try outcomes.last?.get().bytes == [2])
        #expect(failures.count <= 1)
        #expect(failures.allSatisfy { $0.code == .unavailable })
        await channel.close()
        await second.shutdown(grace: .seconds(1))
    }

    private static func call(_ channel: RPCChannel, _ bytes: [UInt8]) async -> Result<RawMessage, RPCError> {
        do {
            return .success(try await channel.unary(TestEchoService.get, request: RawMessage(bytes), responseType: RawMessage.self,
                                                    options: CallOptions(timeout: .seconds(5), waitForReady: true)))
        } catch {
            return .failure(error)
        }
    }

    @Test func waitForReadyRidesOutBackoffUntilTheServerAppears() async throws {
        // Find a free port, then leave it closed.
        let probeServer = RPCServer(configuration: ServerConfiguration(host: "127.0.0.1"), services: [])
        let port = try probeServer.start()
        await probeServer.shutdown(grace: .zero)

        let channel = RPCChannel(host: "127.0.0.1", port: port, configuration: ChannelConfiguration(
            backoff: .init(initial: .milliseconds(50), maximum: .milliseconds(200))))
        // Fail-fast calls fail at once with UNAVAILABLE.
        let start = ContinuousClock.now
        let failed = await #expect(throws: RPCError.self) {
            _ = try await channel.unary(TestEchoService.get, request: RawMessage([1]), responseType: RawMessage.self)
        }
        #expect(failed?.code == .unavailable)
        #expect(ContinuousClock.now - start < .seconds(1))

        let waiting = Task {
            try await channel.unary(TestEchoService.get, request: RawMessage([9]), responseType: RawMessage.self,
                                    options: CallOptions(timeout: .seconds(10), waitForReady: true))
        }
        try await Task.sleep(for: .milliseconds(300))
        let server = RPCServer(configuration: ServerConfiguration(host: "127.0.0.1", port: port), services: [TestEchoService()])
        try server.start()
        #expect(try await waiting.value.bytes == [9])
        await channel.close()
        await server.shutdown(grace: .seconds(1))
    }
}
