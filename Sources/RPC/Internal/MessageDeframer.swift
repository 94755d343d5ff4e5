/// Splits a gRPC request or response body into messages: each is a 1-byte compressed flag,
/// a 4-byte big-endian length and that many bytes. Pure: bytes in, messages out.
///
/// A message is assembled into one array reserved at its declared length, so a 64 MiB message
/// is copied once from the HTTP/2 DATA frames and never re-buffered.
struct MessageDeframer {
    /// The largest message accepted; a larger length prefix fails with `resourceExhausted`
    /// before any of its bytes are buffered.
    let maxMessageBytes: Int

    private var header: (UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0)
    private var headerCount = 0
    private var body: [UInt8] = []
    private var bodyLength = 0
    private var inBody = false

    init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Whether bytes of an unfinished message are buffered (the stream must not end here).
    var hasPartialMessage: Bool { headerCount > 0 || inBody }

    /// Consumes a chunk, calling `deliver` for each completed message in order.
    mutating func process(
        _ chunk: UnsafeRawBufferPointer,
        _ deliver: ([UInt8]) throws(RPCError) -> Void
    ) throws(RPCError) {
        var offset = 0
        let count = chunk.count
        while offset < count {
            if inBody {
                let take = min(bodyLength - body.count, count - offset)
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[offset..<offset + take]))
                offset += take
            } else {
                withUnsafeMutableBytes(of: &header) { $0[headerCount] = chunk[offset] }
                headerCount += 1
                offset += 1
                guard headerCount == 5 else { continue }
                headerCount = 0
                try beginMessage()
            }
            if inBody && body.count == bodyLength {
                inBody = false
                let message = body
                body = []
                try deliver(message)
            }
        }
    }

    /// Checks that the stream ended on a message boundary.
    func finish() throws(RPCError) {
        if inBody {
            throw RPCError(code: .internalError,
                           message: "stream ended inside a message: received \(body.count) of \(bodyLength) bytes")
        }
        if headerCount > 0 {
            throw RPCError(code: .internalError,
                           message: "stream ended inside a message header: received \(headerCount) of 5 bytes")
        }
    }

    private mutating func beginMessage() throws(RPCError) {
        let flags = header.0
        let length = Int(header.1) << 24 | Int(header.2) << 16 | Int(header.3) << 8 | Int(header.4)
        switch flags {
        case 0: break
        case 1:
            throw RPCError(code: .internalError,
                           message: "message has the compressed flag set but no grpc-encoding was negotiated")
        default:
            throw RPCError(code: .internalError, message: "invalid message flags 0x\(String(flags, radix: 16))")
        }
        guard length <= maxMessageBytes else {
            throw RPCError(code: .resourceExhausted,
                           message: "message of \(length) bytes exceeds the limit of \(maxMessageBytes) bytes")
        }
        inBody = true
        bodyLength = length
        body = []
        body.reserveCapacity(length)
    }
}
