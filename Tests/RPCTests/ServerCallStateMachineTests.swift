@testable import RPC
import Testing

/// The server-side call lifecycle as events in, actions out.
struct ServerCallStateMachineTests {
    private func head(path: String = "/pkg.Svc/Do", contentType: String? = "application/grpc",
                      method: String = "POST", extra: [HeaderField] = []) -> [HeaderField] {
        var fields = [HeaderField(":method", method), HeaderField(":scheme", "http"), HeaderField(":path", path),
                      HeaderField(":authority", "localhost")]
        if let contentType { fields.append(HeaderField("content-type", contentType)) }
        return fields + extra
    }

    private func feed(_ machine: inout ServerCallStateMachine, _ bytes: [UInt8]) -> (ServerCallStateMachine.DataAction, [[UInt8]]) {
        var delivered: [[UInt8]] = []
        let action = bytes.withUnsafeBytes { machine.receiveData($0) { delivered.append($0) } }
        return (action, delivered)
    }

    @Test func acceptsAGRPCRequestHead() {
        var machine = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        let action = machine.receiveHeaders(head(contentType: "application/grpc+proto", extra: [
            HeaderField("te", "trailers"), HeaderField("grpc-timeout", "250m"), HeaderField("x-user", "ada"),
            HeaderField("trace-bin", "AQI"), HeaderField("user-agent", "test"),
        ]))
        var metadata = Metadata()
        metadata.add("x-user", "ada")
        metadata.add("trace-bin", binary: [1, 2])
        metadata.add("user-agent", "test")
        #expect(action == .accept(RequestHead(method: MethodDescriptor(service: "pkg.Svc", method: "Do"),
                                              metadata: metadata, timeout: .milliseconds(250))))
    }

    @Test func wrongContentTypeIsHTTP415() {
        var machine = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        #expect(machine.receiveHeaders(head(contentType: "application/json")) == .rejectHTTP(
            status: 415, error: RPCError(code: .internalError, message: "content-type 'application/json' is not application/grpc")))
        #expect(machine.isClosed)
        var missing = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        #expect(missing.receiveHeaders(head(contentType: nil)) == .rejectHTTP(
            status: 415, error: RPCError(code: .internalError, message: "content-type none is not application/grpc")))
        var lookalike = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        guard case .rejectHTTP(415, _) = lookalike.receiveHeaders(head(contentType: "application/grpcweb")) else {
            Issue.record("application/grpcweb must be rejected")
            return
        }
    }

    @Test func nonPOSTIsHTTP405() {
        var machine = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        #expect(machine.receiveHeaders(head(method: "GET")) == .rejectHTTP(
            status: 405, error: RPCError(code: .internalError, message: "HTTP method GET is not POST")))
    }

    @Test func malformedPathEncodingAndTimeoutAreRefused() {
        var path = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        #expect(path.receiveHeaders(head(path: "/nomethod")) == .reject(RPCError(code: .unimplemented, message: "malformed method path '/nomethod'")))
        var encoding = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        #expect(encoding.receiveHeaders(head(extra: [HeaderField("grpc-encoding", "gzip")])) == .reject(
            RPCError(code: .unimplemented, message: "message encoding 'gzip' is not supported (identity only)")))
        var timeout = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        #expect(timeout.receiveHeaders(head(extra: [HeaderField("grpc-timeout", "soon")])) == .reject(
            RPCError(code: .internalError, message: "malformed grpc-timeout 'soon'")))
        // The status of a refused head goes out trailers-only.
        #expect(timeout.sendStatus() == .trailersOnly)
        #expect(timeout.sendStatus() == .drop)
    }

    @Test func unaryRequestThenResponseThenTrailers() {
        var machine = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        guard case .accept = machine.receiveHeaders(head()) else { Issue.record("not accepted"); return }
        machine.route(singleRequest: true)
        let (action, delivered) = feed(&machine, FramedMessage([5, 6]).framedBytes)
        #expect(action == .proceed)
        #expect(delivered == [[5, 6]])
        #expect(machine.receiveEndStream() == .finishRequests)
        #expect(machine.sendMessages() == .startResponseAndSend)
        #expect(machine.sendMessages() == .send)
        #expect(machine.sendStatus() == .trailers)
        #expect(machine.isClosed)
        #expect(machine.sendMessages() == .drop)
        #expect(machine.receiveReset() == false)
    }

    @Test func unaryWithTwoMessagesOrNoneFails() {
        var two = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        _ = two.receiveHeaders(head())
        two.route(singleRequest: true)
        let (action, delivered) = feed(&two, FramedMessage([1]).framedBytes + FramedMessage([2]).framedBytes)
        #expect(action == .fail(RPCError(code: .internalError, message: "received more than one request message for a unary method")))
        #expect(delivered == [[1]])
        // After the failure further data is dropped and the end of the request changes nothing.
        #expect(feed(&two, [0]).0 == .discard)
        #expect(two.receiveEndStream() == .none)

        var none = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        _ = none.receiveHeaders(head())
        none.route(singleRequest: true)
        #expect(none.receiveEndStream() == .fail(RPCError(code: .internalError, message: "received no request message for a unary method")))
        #expect(none.sendStatus() == .trailersOnly)
    }

    @Test func truncatedAndOversizedRequestsFail() {
        var truncated = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        _ = truncated.receiveHeaders(head())
        truncated.route(singleRequest: false)
        #expect(feed(&truncated, [0, 0, 0, 0, 9, 1]).0 == .proceed)
        #expect(truncated.receiveEndStream() == .fail(RPCError(code: .internalError, message: "stream ended inside a message: received 1 of 9 bytes")))

        var oversized = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        _ = oversized.receiveHeaders(head())
        oversized.route(singleRequest: false)
        #expect(feed(&oversized, [0, 0, 0, 0, 101]).0 == .fail(RPCError(code: .resourceExhausted, message: "message of 101 bytes exceeds the limit of 100 bytes")))
    }

    @Test func streamingRequestsAreDeliveredInOrder() {
        var machine = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        _ = machine.receiveHeaders(head())
        machine.route(singleRequest: false)
        let bytes = (0..<4).flatMap { FramedMessage([UInt8($0)]).framedBytes }
        let (first, a) = feed(&machine, Array(bytes[0..<8]))
        let (second, b) = feed(&machine, Array(bytes[8...]))
        #expect(first == .proceed && second == .proceed)
        #expect(a + b == [[0], [1], [2], [3]])
        #expect(machine.requestCount == 4)
        #expect(machine.receiveEndStream() == .finishRequests)
    }

    @Test func resetCancelsARunningCallOnce() {
        var machine = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        _ = machine.receiveHeaders(head())
        machine.route(singleRequest: false)
        #expect(machine.sendMessages() == .startResponseAndSend)
        #expect(machine.receiveReset() == true)
        #expect(machine.sendStatus() == .drop)
        #expect(machine.receiveReset() == false)
        #expect(feed(&machine, FramedMessage([1]).framedBytes).0 == .discard)
    }

    @Test func statusWithoutMessagesIsTrailersOnly() {
        var machine = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        _ = machine.receiveHeaders(head())
        #expect(machine.sendStatus() == .trailersOnly)
        #expect(machine.sendMessages() == .drop)
    }

    @Test func secondHeaderBlockIsIgnored() {
        var machine = ServerCallStateMachine(maxReceiveMessageBytes: 100)
        _ = machine.receiveHeaders(head())
        #expect(machine.receiveHeaders([HeaderField("x-trailer", "1")]) == .ignore)
    }
}
