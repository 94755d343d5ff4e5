import RPC
import RPCEcho
import Testing

/// The Echo messages' protobuf encoding, byte for byte against what protoc's reference encoders
/// produce (the bytes below are what grpcio-tools' Python stubs serialise for the same values).
@Suite struct EchoWireTests {
    @Test func requestEncodesFieldsInNumberOrder() throws {
        let request = EchoRequest(text: "a", payload: [0xFF, 0x00], repeatCount: 3, statusCode: 5,
                                  statusMessage: "no", delayMilliseconds: 300)
        let bytes = request.serializedBytes()
        #expect(bytes == [0x0A, 0x01, 0x61, 0x12, 0x02, 0xFF, 0x00, 0x18, 0x03, 0x20, 0x05,
                          0x2A, 0x02, 0x6E, 0x6F, 0x30, 0xAC, 0x02])
        #expect(try EchoRequest(serializedBytes: bytes) == request)
    }

    @Test func defaultValuesEncodeToNothing() throws {
        #expect(EchoRequest().serializedBytes() == [])
        #expect(EchoResponse().serializedBytes() == [])
        #expect(try EchoRequest(serializedBytes: []) == EchoRequest())
    }

    @Test func responseRoundTripsNegativeIndexAndUnicode() throws {
        let response = EchoResponse(text: "héllo ✓", payload: Array(0 ... 255), index: -1)
        let bytes = response.serializedBytes()
        // A negative int32 is a 10-byte varint on the wire.
        #expect(bytes.suffix(11) == [0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        #expect(try EchoResponse(serializedBytes: bytes) == response)
    }

    @Test func undecodableBytesAreAnInvalidArgumentNamingTheType() {
        // Field 1 claims 100 bytes, 2 follow.
        #expect(throws: RPCError(code: .invalidArgument,
                                 message: "cannot decode 4 bytes as infinity.testing.v1.EchoRequest")) {
            try EchoRequest(serializedBytes: [0x0A, 0x64, 0x61, 0x62])
        }
    }
}
