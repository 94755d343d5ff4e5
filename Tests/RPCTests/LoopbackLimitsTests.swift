import RPC
import Testing

/// Deadlines, cancellation, message size limits, large messages, concurrency, auth.
@Suite(.timeLimit(.minutes(2)))
struct LoopbackLimitsTests {
    @Test func deadlineExceeded() async throws {
        let fixture = try EchoFixture()
        let start = ContinuousClock.now
        let error = await #expect(throws: RPCError.self) {
            _ = try await fixture.channel.unary(TestEchoService.get, request: RawMessage([1]), responseType: RawMessage.self,
                                                options: CallOptions(timeout: .milliseconds(100), metadata: ["delay-ms": "30000"]))
        }
        let elapsed = ContinuousClock.now - start
        #expect(error?.code == .deadlineExceeded)
        // Far below the handler's 30 s delay: the deadline ended the call (generous for a loaded CI machine).
        #expect(elapsed >= .milliseconds(100) && elapsed < .seconds(10), "\(elapsed)")
        // A call within its deadline is unaffected.
        let reply = try await fixture.channel.unary(TestEchoService.get, request: RawMessage([2]), responseType: RawMessage.self,
                                                    options: CallOptions(timeout: .seconds(10), metadata: ["delay-ms": "20"]))
        #expect(reply.bytes == [2])
        await fixture.stop()
    }

    @Test func serverCancelsTheHandlerAtTheDeadline() async throws {
        let fixture = try EchoFixture()
        let probe = fixture.service.probe
        // Connect first, so that the deadline covers the call alone, and leave a loaded machine
        // time to start the handler before it passes.
        _ = try await fixture.channel.unary(TestEchoService.get, request: RawMessage([1]), responseType: RawMessage.self)
        // Client and server both enforce the deadline; whichever fires first names itself.
        let error = await #expect(throws: RPCError.self) {
            _ = try await fixture.channel.unary(TestEchoService.hang, request: RawMessage([]), responseType: RawMessage.self,
                                                options: CallOptions(timeout: .seconds(1)))
        }
        #expect(error?.code == .deadlineExceeded)
        #expect(error?.message.hasPrefix("the call's deadline passed") == true, "\(String(describing: error))")
        // The server saw grpc-timeout and cancelled the handler's task itself (or on the RST).
        #expect(await probe.wait { $0.cancelledCount == 1 })
        #expect(probe.startedCount == 1)
        await fixture.stop()
    }

    @Test func clientCancellationCancelsTheHandler() async throws {
        let fixture = try EchoFixture()
        let probe = fixture.service.probe
        let channel = fixture.channel
        let call = Task {
            try await channel.unary(TestEchoService.hang, request: RawMessage([]), responseType: RawMessage.self)
        }
        #expect(await probe.wait { $0.startedCount == 1 })
        call.cancel()
        let result = await call.result
        #expect(throws: RPCError(code: .cancelled, message: "the calling task was cancelled")) { try result.get() }
        #expect(await probe.wait { $0.cancelledCount == 1 })
        // The channel keeps working after a cancelled call.
        #expect(try await channel.unary(TestEchoService.get, request: RawMessage([3]), responseType: RawMessage.self).bytes == [3])
        await fixture.stop()
    }

    @Test func maxMessageSizes() async throws {
        let fixture = try EchoFixture(server: ServerConfiguration(host: "127.0.0.1", maxReceiveMessageBytes: 1024),
                                      channel: ChannelConfiguration(maxReceiveMessageBytes: 512, maxSendMessageBytes: 2048))
        let channel = fixture.channel
        await #expect(throws: RPCError(code: .resourceExhausted, message: "message of 1025 bytes exceeds the limit of 1024 bytes")) {
            _ = try await channel.unary(TestEchoService.get, request: RawMessage(.init(repeating: 1, count: 1025)), responseType: RawMessage.self)
        }
        await #expect(throws: RPCError(code: .resourceExhausted, message: "message of 600 bytes exceeds the limit of 512 bytes")) {
            _ = try await channel.unary(TestEchoService.get, request: RawMessage(.init(repeating: 1, count: 600)), responseType: RawMessage.self)
        }
        await #expect(throws: RPCError(code: .resourceExhausted, message: "request message of 4096 bytes exceeds the limit of 2048 bytes")) {
            _ = try await channel.unary(TestEchoService.get, request: RawMessage(.init(repeating: 1, count: 4096)), responseType: RawMessage.self)
        }
        #expect(try await channel.unary(TestEchoService.get, request: RawMessage(.init(repeating: 2, count: 512)), responseType: RawMessage.self).bytes.count == 512)
        await fixture.stop()
    }

    @Test func sixtyFourMebibytesEachWay() async throws {
        let size = 64 << 20
        let fixture = try EchoFixture(server: ServerConfiguration(host: "127.0.0.1", maxReceiveMessageBytes: size + 1024),
                                      channel: ChannelConfiguration(maxReceiveMessageBytes: size + 1024))
        var payload = [UInt8](repeating: 0, count: size)
        for index in stride(from: 0, to: size, by: 4096) { payload[index] = UInt8(truncatingIfNeeded: index >> 12) }
        payload[size - 1] = 0x5A
        let start = ContinuousClock.now
        let reply = try await fixture.channel.unary(TestEchoService.get, request: RawMessage(payload), responseType: RawMessage.self)
        let elapsed = ContinuousClock.now - start
        #expect(reply.bytes.count == size)
        #expect(reply.bytes == payload)
        print("64 MiB echo round trip: \(elapsed)")
        await fixture.stop()
    }

    @Test func fiveHundredConcurrentCalls() async throws {
        let fixture = try EchoFixture()
        let channel = fixture.channel
        let results = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for index in 0..<500 {
                group.addTask {
                    let payload = [UInt8(index & 0xFF), UInt8(index >> 8)]
                    let reply = try await channel.unary(TestEchoService.get, request: RawMessage(payload), responseType: RawMessage.self)
                    return (index, reply.bytes)
                }
            }
            var all: [Int: [UInt8]] = [:]
            for try await (index, bytes) in group { all[index] = bytes }
            return all
        }
        #expect(results.count == 500)
        #expect(results.allSatisfy { index, bytes in bytes == [UInt8(index & 0xFF), UInt8(index >> 8)] })
        await fixture.stop()
    }

    @Test func bearerTokenAuth() async throws {
        let fixture = try EchoFixture(server: ServerConfiguration(host: "127.0.0.1", authToken: "s3cret-token"))
        let port = fixture.port
        await #expect(throws: RPCError(code: .unauthenticated, message: "missing authorization metadata (expected 'Bearer <token>')")) {
            _ = try await fixture.channel.unary(TestEchoService.get, request: RawMessage([1]), responseType: RawMessage.self)
        }
        let wrong = RPCChannel(host: "127.0.0.1", port: port, configuration: ChannelConfiguration(authToken: "s3cret-tokex"))
        await #expect(throws: RPCError(code: .unauthenticated, message: "invalid authorization token")) {
            _ = try await wrong.unary(TestEchoService.get, request: RawMessage([1]), responseType: RawMessage.self)
        }
        let right = RPCChannel(host: "127.0.0.1", port: port, configuration: ChannelConfiguration(authToken: "s3cret-token"))
        #expect(try await right.unary(TestEchoService.get, request: RawMessage([1]), responseType: RawMessage.self).bytes == [1])
        // The token never reaches handlers as metadata.
        let echoed = try await right.unaryCall(TestEchoService.get, request: RawMessage([1]), responseType: RawMessage.self)
        #expect(echoed.initialMetadata["authorization"] == nil)
        // Health needs no token.
        #expect(try await fixture.channel.unary(HealthService.check, request: HealthCheckRequest(), responseType: HealthCheckResponse.self).status == .serving)
        await wrong.close()
        await right.close()
        await fixture.stop()
    }
}
