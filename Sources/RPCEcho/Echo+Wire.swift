// The interop service's messages (Protos/infinity/testing/v1/echo.proto) as Swift values, and
// their only contact with the protobuf-c structs of the Wire module: the C structs never leave
// this file.
import RPC
import Wire

/// `infinity.testing.v1.EchoRequest`.
public struct EchoRequest: RPCMessage, Equatable {
    /// Text to echo.
    public var text = ""
    /// Bytes to echo.
    public var payload: [UInt8] = []
    /// Responses `Expand` streams back.
    public var repeatCount: Int32 = 0
    /// A gRPC status code the server should fail with (0: succeed).
    public var statusCode: Int32 = 0
    /// The message of that failure.
    public var statusMessage = ""
    /// How long the server waits before answering.
    public var delayMilliseconds: Int32 = 0

    /// Creates a request.
    public init(text: String = "", payload: [UInt8] = [], repeatCount: Int32 = 0, statusCode: Int32 = 0,
                statusMessage: String = "", delayMilliseconds: Int32 = 0) {
        self.text = text
        self.payload = payload
        self.repeatCount = repeatCount
        self.statusCode = statusCode
        self.statusMessage = statusMessage
        self.delayMilliseconds = delayMilliseconds
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        let decoded = bytes.withUnsafeBufferPointer {
            infinity__testing__v1__echo_request__unpack(nil, $0.count, $0.baseAddress)
        }
        guard let decoded else { throw WireDecoding.failure("infinity.testing.v1.EchoRequest", byteCount: bytes.count) }
        defer { infinity__testing__v1__echo_request__free_unpacked(decoded, nil) }
        let message = decoded.pointee
        text = WireDecoding.string(message.text)
        payload = WireDecoding.bytes(message.payload)
        repeatCount = message.`repeat`
        statusCode = message.status_code
        statusMessage = WireDecoding.string(message.status_message)
        delayMilliseconds = message.delay_ms
    }

    public func serializedBytes() -> [UInt8] {
        // protobuf-c reads the strings and bytes through raw pointers while it packs, so they
        // stay pinned for the whole of pack().
        text.withCString { text in
            statusMessage.withCString { statusMessage in
                payload.withUnsafeBufferPointer { payload in
                    var message = Infinity__Testing__V1__EchoRequest()
                    infinity__testing__v1__echo_request__init(&message)
                    message.text = UnsafeMutablePointer(mutating: text)
                    message.payload = WireDecoding.binary(payload)
                    message.`repeat` = repeatCount
                    message.status_code = statusCode
                    message.status_message = UnsafeMutablePointer(mutating: statusMessage)
                    message.delay_ms = delayMilliseconds
                    let size = infinity__testing__v1__echo_request__get_packed_size(&message)
                    return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                        count = infinity__testing__v1__echo_request__pack(&message, buffer.baseAddress)
                    }
                }
            }
        }
    }
}

/// `infinity.testing.v1.EchoResponse`.
public struct EchoResponse: RPCMessage, Equatable {
    /// The echoed text.
    public var text = ""
    /// The echoed bytes.
    public var payload: [UInt8] = []
    /// Position in a stream of responses.
    public var index: Int32 = 0

    /// Creates a response.
    public init(text: String = "", payload: [UInt8] = [], index: Int32 = 0) {
        self.text = text
        self.payload = payload
        self.index = index
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        let decoded = bytes.withUnsafeBufferPointer {
            infinity__testing__v1__echo_response__unpack(nil, $0.count, $0.baseAddress)
        }
        guard let decoded else { throw WireDecoding.failure("infinity.testing.v1.EchoResponse", byteCount: bytes.count) }
        defer { infinity__testing__v1__echo_response__free_unpacked(decoded, nil) }
        text = WireDecoding.string(decoded.pointee.text)
        payload = WireDecoding.bytes(decoded.pointee.payload)
        index = decoded.pointee.index
    }

    public func serializedBytes() -> [UInt8] {
        text.withCString { text in
            payload.withUnsafeBufferPointer { payload in
                var message = Infinity__Testing__V1__EchoResponse()
                infinity__testing__v1__echo_response__init(&message)
                message.text = UnsafeMutablePointer(mutating: text)
                message.payload = WireDecoding.binary(payload)
                message.index = index
                let size = infinity__testing__v1__echo_response__get_packed_size(&message)
                return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                    count = infinity__testing__v1__echo_response__pack(&message, buffer.baseAddress)
                }
            }
        }
    }
}

/// Shared pieces of the conversions above.
enum WireDecoding {
    /// The error for bytes protobuf-c cannot decode as `type`.
    static func failure(_ type: String, byteCount: Int) -> RPCError {
        RPCError(code: .invalidArgument, message: "cannot decode \(byteCount) bytes as \(type)")
    }

    /// A decoded string field (protobuf-c never leaves it NULL, but a NULL reads as "").
    static func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? ""
    }

    /// A decoded bytes field.
    static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let base = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: data.len))
    }

    /// A bytes field pointing at `buffer`, valid while `buffer` is.
    static func binary(_ buffer: UnsafeBufferPointer<UInt8>) -> ProtobufCBinaryData {
        ProtobufCBinaryData(len: buffer.count, data: UnsafeMutablePointer(mutating: buffer.baseAddress))
    }
}
