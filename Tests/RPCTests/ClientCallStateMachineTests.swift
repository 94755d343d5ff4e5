@testable import RPC
import Testing

/// The client-side call lifecycle as events in, outcomes out.
struct ClientCallStateMachineTests {
    private let responseHead = [HeaderField(":status", "200"), HeaderField("content-type", "application/grpc"),
                                HeaderField("x-initial", "yes")]

    private func feed(_ machine: inout ClientCallStateMachine, _ bytes: [UInt8]) -> (ClientCallStateMachine.DataAction, [[UInt8]]) {
        var delivered: [[UInt8]] = []
        let action = bytes.withUnsafeBytes { machine.receiveData($0) { delivered.append($0) } }
        return (action, delivered)
    }

    @Test func headersMessagesTrailers() {
        var machine = ClientCallStateMachine(maxReceiveMessageBytes: 100)
        #expect(machine.receiveHeaders(responseHead, endStream: false) == .started(["x-initial": "yes"]))
        let (action, delivered) = feed(&machine, FramedMessage([1]).framedBytes + FramedMessage([2, 3]).framedBytes)
        #expect(action == .proceed)
        #expect(delivered == [[1], [2, 3]])
        #expect(machine.receiveHeaders([HeaderField("grpc-status", "0"), HeaderField("x-done", "1")], endStream: true)
                == .finished(.success(["x-done": "1"])))
        #expect(machine.isFinished)
        #expect(machine.receiveClose(http2ErrorCode: 0) == nil)
    }

    @Test func errorStatusWithPercentEncodedMessage() {
        var machine = ClientCallStateMachine(maxReceiveMessageBytes: 100)
        _ = machine.receiveHeaders(responseHead, endStream: false)
        #expect(machine.receiveHeaders([HeaderField("grpc-status", "5"), HeaderField("grpc-message", "no %E2%9C%93 here")], endStream: true)
                == .finished(.failure(RPCError(code: .notFound, message: "no ✓ here"))))
    }

    @Test func trailersOnlyResponse() {
        var machine = ClientCallStateMachine(maxReceiveMessageBytes: 100)
        let fields = [HeaderField(":status", "200"), HeaderField("content-type", "application/grpc"),
                      HeaderField("grpc-status", "16"), HeaderField("grpc-message", "invalid authorization token")]
        #expect(machine.receiveHeaders(fields, endStream: true)
                == .finished(.failure(RPCError(code: .unauthenticated, message: "invalid authorization token"))))
    }

    @Test func nonGRPCResponsesMapHTTPStatus() {
        var notFound = ClientCallStateMachine(maxReceiveMessageBytes: 100)
        #expect(notFound.receiveHeaders([HeaderField(":status", "404")], endStream: true)
                == .finished(.failure(RPCError(code: .unimplemented, message: "unexpected HTTP status 404"))))
        var unsupported = ClientCallStateMachine(maxReceiveMessageBytes: 100)
        #expect(unsupported.receiveHeaders([HeaderField(":status", "415"), HeaderField("grpc-message", "bad type")], endStream: true)
                == .finished(.failure(RPCError(code: .unknown, message: "unexpected HTTP status 415: bad type"))))
        var html = ClientCallStateMachine(maxReceiveMessageBytes: 100)
        #expect(html.receiveHeaders([HeaderField(":status", "200"), HeaderField("content-type", "text/html")], endStream: false)
                == .finished(.failure(RPCError(code: .unknown, message: "response content-type 'text/html' is not application/grpc"))))
    }

    @Test func missingOrMalformedStatus() {
        var missing = ClientCallStateMachine(maxReceiveMessageBytes: 100)
        _ = missing.receiveHeaders(responseHead, endStream: false)
        #expect(missing.receiveHeaders([], endStream: true)
                == .finished(.failure(RPCError(code: .unknown, message: "the response trailers carry no grpc-status"))))
        var malformed = ClientCallStateMachine(maxReceiveMessageBytes: 100)
        _ = malformed.receiveHeaders(responseHead, endStream: false)
        #expect(malformed.receiveHeaders([HeaderField("grpc-status", "ok")], endStream: true)
                == .finished(.failure(RPCError(code: .unknown, message: "malformed grpc-status 'ok'"))))
    }

    @Test func truncatedMessageBeforeTrailersIsInternal() {
        var machine = ClientCallStateMachine(maxReceiveMessageBytes: 100)
        _ = machine.receiveHeaders(responseHead, endStream: false)
        #expect(feed(&machine, [0, 0, 0, 0, 4, 1]).0 == .proceed)
        #expect(machine.receiveHeaders([HeaderField("grpc-status", "0")], endStream: true)
                == .finished(.failure(RPCError(code: .internalError, message: "stream ended inside a message: received 1 of 4 bytes"))))
    }

    @Test func oversizedResponseIsResourceExhausted() {
        var machine = ClientCallStateMachine(maxReceiveMessageBytes: 10)
        _ = machine.receiveHeaders(responseHead, endStream: false)
        #expect(feed(&machine, FramedMessage([UInt8](repeating: 1, count: 11)).framedBytes).0
                == .fail(RPCError(code: .resourceExhausted, message: "message of 11 bytes exceeds the limit of 10 bytes")))
        #expect(feed(&machine, [1]).0 == .discard)
    }

    @Test func dataBeforeHeadersOrEndWithoutTrailersIsInternal() {
        var early = ClientCallStateMachine(maxReceiveMessageBytes: 10)
        #expect(feed(&early, [0]).0 == .fail(RPCError(code: .internalError, message: "received DATA before response headers")))
        var noTrailers = ClientCallStateMachine(maxReceiveMessageBytes: 10)
        _ = noTrailers.receiveHeaders(responseHead, endStream: false)
        #expect(noTrailers.receiveEndStreamWithoutTrailers() == RPCError(code: .internalError, message: "the server ended the stream without sending a status"))
    }

    @Test func resetCodesMapToStatuses() {
        #expect(ClientCallStateMachine.error(forResetCode: 7).code == .unavailable)
        #expect(ClientCallStateMachine.error(forResetCode: 8).code == .cancelled)
        #expect(ClientCallStateMachine.error(forResetCode: 11).code == .resourceExhausted)
        #expect(ClientCallStateMachine.error(forResetCode: 2).code == .internalError)
        var machine = ClientCallStateMachine(maxReceiveMessageBytes: 10)
        #expect(machine.receiveClose(http2ErrorCode: 8) == RPCError(code: .cancelled, message: "the server cancelled the stream"))
        #expect(machine.cancel() == false)
    }
}
