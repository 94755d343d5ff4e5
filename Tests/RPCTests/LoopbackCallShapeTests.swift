import RPC
import Testing

/// Swift client against Swift server on loopback: the four call shapes, statuses, metadata,
/// health.
@Suite(.timeLimit(.minutes(1)))
struct LoopbackCallShapeTests {
    @Test func unary() async throws {
        let fixture = try EchoFixture()
        let reply = try await fixture.channel.unary(TestEchoService.get, request: RawMessage([1, 2, 3]), responseType: RawMessage.self)
        #expect(reply.bytes == [1, 2, 3])
        let empty = try await fixture.channel.unary(TestEchoService.get, request: RawMessage([]), responseType: RawMessage.self)
        #expect(empty.bytes == [])
        await fixture.stop()
    }

    @Test func serverStreaming() async throws {
        let fixture = try EchoFixture()
        let responses = try await fixture.channel.serverStreaming(TestEchoService.expand, request: RawMessage([5, 9]),
                                                                  responseType: RawMessage.self)
        var received: [[UInt8]] = []
        for try await response in responses { received.append(response.bytes) }
        #expect(received == [[0, 9], [1, 9], [2, 9], [3, 9], [4, 9]])
        await fixture.stop()
    }

    @Test func clientStreaming() async throws {
        let fixture = try EchoFixture()
        let requests = AsyncStream<RawMessage> { continuation in
            for chunk in [[1, 2], [], [3], [4, 5, 6]] as [[UInt8]] { continuation.yield(RawMessage(chunk)) }
            continuation.finish()
        }
        let reply = try await fixture.channel.clientStreaming(TestEchoService.collect, requests: requests, responseType: RawMessage.self)
        #expect(reply.message.bytes == [1, 2, 3, 4, 5, 6])
        await fixture.stop()
    }

    @Test func bidirectionalPingPong() async throws {
        let fixture = try EchoFixture()
        let call = try await fixture.channel.makeCall(TestEchoService.update, requestType: RawMessage.self, responseType: RawMessage.self)
        var iterator = call.responses.makeAsyncIterator()
        // Each reply arrives before the next request is sent: the streams really interleave.
        for round in 0..<10 {
            try await call.send(RawMessage([UInt8(round)]))
            #expect(try await iterator.next()?.bytes == [UInt8(round)])
        }
        call.finishSending()
        #expect(try await iterator.next() == nil)
        await fixture.stop()
    }

    @Test func bidirectionalWithRequestSequence() async throws {
        let fixture = try EchoFixture()
        let requests = AsyncStream<RawMessage> { continuation in
            for index in 0..<100 { continuation.yield(RawMessage([UInt8(index)])) }
            continuation.finish()
        }
        let responses = try await fixture.channel.bidirectional(TestEchoService.update, requests: requests, responseType: RawMessage.self)
        var received: [UInt8] = []
        for try await response in responses { received += response.bytes }
        #expect(received == (0..<100).map { UInt8($0) })
        await fixture.stop()
    }

    @Test(arguments: [StatusCode.notFound, .invalidArgument, .permissionDenied, .internalError, .unavailable, .dataLoss])
    func statusCodesWithMessages(code: StatusCode) async throws {
        let fixture = try EchoFixture()
        let message = "failure ✓ 100% \(code)\nsecond line"
        var metadata: Metadata = ["fail-code": String(code.rawValue), "x-why": "asked"]
        metadata.add("fail-message-bin", binary: Array(message.utf8))
        let options = CallOptions(metadata: metadata)
        let error = await #expect(throws: RPCError.self) {
            _ = try await fixture.channel.unary(TestEchoService.get, request: RawMessage([1]), responseType: RawMessage.self, options: options)
        }
        #expect(error?.code == code)
        #expect(error?.message == message)
        #expect(error?.metadata["x-trailer-why"] == "asked")
        // The same status ends a stream after its messages.
        let stream = try await fixture.channel.serverStreaming(TestEchoService.expand, request: RawMessage([2]),
                                                               responseType: RawMessage.self, options: options)
        let streamError = await #expect(throws: RPCError.self) {
            for try await _ in stream {}
        }
        #expect(streamError?.code == code)
        #expect(streamError?.message == message)
        await fixture.stop()
    }

    @Test func metadataBothWays() async throws {
        let fixture = try EchoFixture()
        var metadata: Metadata = ["x-text": "hello world"]
        let binary: [UInt8] = [0, 1, 2, 0xFE, 0xFF, 10, 13]
        metadata.add("x-blob-bin", binary: binary)
        metadata.add("x-text", "second value")
        let response = try await fixture.channel.unaryCall(TestEchoService.get, request: RawMessage([7]),
                                                           responseType: RawMessage.self, options: CallOptions(metadata: metadata))
        #expect(response.message.bytes == [7])
        #expect(response.initialMetadata.strings(for: "x-text") == ["hello world", "second value"])
        #expect(response.initialMetadata.binaries(for: "x-blob-bin") == [binary])
        #expect(response.trailingMetadata.strings(for: "x-trailer-text") == ["hello world", "second value"])
        #expect(response.trailingMetadata.binaries(for: "x-trailer-blob-bin") == [binary])
        await fixture.stop()
    }

    @Test func metadataThatCannotBeAHeaderIsRejectedBeforeSending() async throws {
        let fixture = try EchoFixture()
        await #expect(throws: RPCError(code: .internalError, message:
            "metadata value of 'x-note' is not printable ASCII (use a -bin name for binary or Unicode values)")) {
            _ = try await fixture.channel.unary(TestEchoService.get, request: RawMessage([1]), responseType: RawMessage.self,
                                                options: CallOptions(metadata: ["x-note": "line\nbreak"]))
        }
        await #expect(throws: RPCError(code: .internalError, message: "metadata name 'x note' is not lower-case [0-9a-z_.-]")) {
            _ = try await fixture.channel.unary(TestEchoService.get, request: RawMessage([1]), responseType: RawMessage.self,
                                                options: CallOptions(metadata: ["x note": "v"]))
        }
        await fixture.stop()
    }

    @Test func unknownServiceAndMethodAreUnimplemented() async throws {
        let fixture = try EchoFixture()
        let service = await #expect(throws: RPCError.self) {
            _ = try await fixture.channel.unary(MethodDescriptor(service: "no.Such", method: "Thing"), request: RawMessage([]),
                                                responseType: RawMessage.self)
        }
        #expect(service == RPCError(code: .unimplemented, message: "unknown service 'no.Such'"))
        let method = await #expect(throws: RPCError.self) {
            _ = try await fixture.channel.unary(MethodDescriptor(service: TestEchoService.name, method: "Nope"), request: RawMessage([]),
                                                responseType: RawMessage.self)
        }
        #expect(method == RPCError(code: .unimplemented, message: "method 'Nope' is not implemented by service 'infinity.testing.v1.RawEcho'"))
        await fixture.stop()
    }

    @Test func undecodableRequestIsInternal() async throws {
        let fixture = try EchoFixture()
        // 0x0A 0x05 declares a 5-byte string field but only 1 byte follows.
        let error = await #expect(throws: RPCError.self) {
            _ = try await fixture.channel.unary(HealthService.check, request: RawMessage([0x0A, 0x05, 0x41]),
                                                responseType: HealthCheckResponse.self)
        }
        #expect(error == RPCError(code: .internalError, message:
            "could not decode the request message (3 bytes): invalid grpc.health.v1.HealthCheckRequest (3 bytes)"))
        await fixture.stop()
    }

    @Test func healthCheckAndWatch() async throws {
        let health = HealthService()
        health.setStatus(.notServing, for: "svc.A")
        let server = RPCServer(configuration: ServerConfiguration(host: "127.0.0.1"), services: [health])
        let port = try server.start()
        let channel = RPCChannel(host: "127.0.0.1", port: port)
        #expect(try await channel.unary(HealthService.check, request: HealthCheckRequest(), responseType: HealthCheckResponse.self).status == .serving)
        #expect(try await channel.unary(HealthService.check, request: HealthCheckRequest(service: "svc.A"), responseType: HealthCheckResponse.self).status == .notServing)
        let unknown = await #expect(throws: RPCError.self) {
            _ = try await channel.unary(HealthService.check, request: HealthCheckRequest(service: "svc.B"), responseType: HealthCheckResponse.self)
        }
        #expect(unknown == RPCError(code: .notFound, message: "unknown service 'svc.B'"))

        let updates = try await channel.serverStreaming(HealthService.watch, request: HealthCheckRequest(service: "svc.A"),
                                                        responseType: HealthCheckResponse.self)
        var iterator = updates.makeAsyncIterator()
        #expect(try await iterator.next()?.status == .notServing)
        health.setStatus(.serving, for: "svc.A")
        #expect(try await iterator.next()?.status == .serving)
        updates.cancel()
        await channel.close()
        await server.shutdown(grace: .seconds(1))
    }
}
