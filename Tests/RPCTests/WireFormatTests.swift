@testable import RPC
import Testing

/// Header-level encodings: grpc-timeout, grpc-message, -bin metadata, paths, status codes.
struct WireFormatTests {
    @Test(arguments: [
        ("1S", Duration.seconds(1)), ("250m", .milliseconds(250)), ("3M", .seconds(180)), ("2H", .seconds(7200)),
        ("99999999u", .microseconds(99_999_999)), ("7n", .nanoseconds(7)),
    ])
    func parsesTimeouts(text: String, expected: Duration) {
        #expect(GRPCTimeout.parse(text) == expected)
    }

    @Test(arguments: ["", "S", "1", "1s", "123456789S", "-1S", "1.5S", "1 S"])
    func rejectsMalformedTimeouts(text: String) {
        #expect(GRPCTimeout.parse(text) == nil)
    }

    @Test func encodesTimeoutsInTheFinestUnitThatFits() {
        #expect(GRPCTimeout.encode(.milliseconds(99)) == "99000000n")
        #expect(GRPCTimeout.encode(.milliseconds(100)) == "100000u")
        #expect(GRPCTimeout.encode(.seconds(1)) == "1000000u")
        #expect(GRPCTimeout.encode(.seconds(100_000)) == "100000S")
        #expect(GRPCTimeout.encode(.zero) == "1n")
        #expect(GRPCTimeout.parse(GRPCTimeout.encode(.milliseconds(1234))) == .milliseconds(1234))
    }

    @Test func percentEncodesStatusMessages() {
        #expect(PercentEncoding.encode("plain text") == "plain text")
        #expect(PercentEncoding.encode("100% ✓\n") == "100%25 %E2%9C%93%0A")
        #expect(PercentEncoding.decode("100%25 %E2%9C%93%0A") == "100% ✓\n")
        // Malformed escapes pass through unchanged, as gRPC asks.
        #expect(PercentEncoding.decode("bad %G1 and %4") == "bad %G1 and %4")
    }

    @Test func base64RoundTripsAndAcceptsPadding() {
        #expect(Base64.encode([]) == "")
        #expect(Base64.encode([0xFF]) == "/w")
        #expect(Base64.encode(Array("hello".utf8)) == "aGVsbG8")
        #expect(Base64.decode("aGVsbG8") == Array("hello".utf8))
        #expect(Base64.decode("aGVsbG8=") == Array("hello".utf8))
        #expect(Base64.decode("AAEC/w") == [0, 1, 2, 255])
        #expect(Base64.decode("a") == nil)
        #expect(Base64.decode("a*bc") == nil)
        let all = (0...255).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(all)) == all)
    }

    @Test func metadataKeepsOrderLowercasesAndSeparatesBinary() {
        var metadata: Metadata = ["X-One": "1"]
        metadata.add("x-one", "2")
        metadata.add("trace-bin", binary: [0, 255])
        metadata.add("raw", binary: [1])
        #expect(metadata.strings(for: "x-one") == ["1", "2"])
        #expect(metadata["X-ONE"] == "1")
        #expect(metadata.binaries(for: "trace-bin") == [[0, 255]])
        #expect(metadata.binaries(for: "raw-bin") == [[1]])
        var fields: [HeaderField] = []
        metadata.appendWire(to: &fields)
        #expect(fields == [HeaderField("x-one", "1"), HeaderField("x-one", "2"), HeaderField("trace-bin", "AP8"), HeaderField("raw-bin", "AQ")])
    }

    @Test func methodPaths() {
        #expect(MethodDescriptor(path: "/grpc.health.v1.Health/Check") == MethodDescriptor(service: "grpc.health.v1.Health", method: "Check"))
        #expect(MethodDescriptor(service: "a.B", method: "C").path == "/a.B/C")
        for bad in ["", "/", "//", "/svc", "/svc/", "svc/m", "/svc/m/x", "//m"] {
            #expect(MethodDescriptor(path: bad) == nil, "\(bad)")
        }
    }

    @Test func statusCodesFromWireAndHTTP() {
        #expect(StatusCode(wireValue: 4) == .deadlineExceeded)
        #expect(StatusCode(wireValue: 99) == .unknown)
        #expect(StatusCode.internalError.description == "INTERNAL")
        #expect(StatusCode(httpStatus: 404) == .unimplemented)
        #expect(StatusCode(httpStatus: 503) == .unavailable)
        #expect(StatusCode(httpStatus: 401) == .unauthenticated)
        #expect(StatusCode(httpStatus: 418) == .unknown)
    }

    @Test func constantTimeComparison() {
        #expect(ConstantTime.equals(Array("Bearer abc".utf8), Array("Bearer abc".utf8)))
        #expect(!ConstantTime.equals(Array("Bearer abd".utf8), Array("Bearer abc".utf8)))
        #expect(!ConstantTime.equals(Array("Bearer ab".utf8), Array("Bearer abc".utf8)))
        #expect(!ConstantTime.equals(Array("Bearer abcd".utf8), Array("Bearer abc".utf8)))
        #expect(ConstantTime.equals([UInt8](), [UInt8]()))
    }
}
