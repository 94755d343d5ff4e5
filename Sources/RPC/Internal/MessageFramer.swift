/// One outgoing gRPC message: the 5-byte prefix and the payload, kept apart so the payload is
/// never copied into a framed buffer (it is copied once, into nghttp2's DATA frames).
struct FramedMessage: Sendable {
    let payload: [UInt8]
    /// Bytes of prefix + payload already handed to nghttp2.
    var sent = 0

    init(_ payload: [UInt8]) {
        self.payload = payload
    }

    /// Prefix + payload.
    var totalCount: Int { 5 + payload.count }
    var remaining: Int { totalCount - sent }

    /// The prefix for an uncompressed message of `length` bytes.
    static func prefix(length: Int) -> (UInt8, UInt8, UInt8, UInt8, UInt8) {
        (0, UInt8(truncatingIfNeeded: length >> 24), UInt8(truncatingIfNeeded: length >> 16),
         UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length))
    }

    /// Copies the next bytes into `buffer`; returns how many.
    mutating func copy(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var written = 0
        if sent < 5 {
            var prefix = FramedMessage.prefix(length: payload.count)
            let take = min(5 - sent, buffer.count)
            withUnsafeBytes(of: &prefix) { prefixBytes in
                buffer.baseAddress!.copyMemory(from: prefixBytes.baseAddress! + sent, byteCount: take)
            }
            sent += take
            written = take
        }
        if sent >= 5, written < buffer.count {
            let offset = sent - 5
            let take = min(payload.count - offset, buffer.count - written)
            if take > 0 {
                payload.withUnsafeBytes { bytes in
                    (buffer.baseAddress! + written).copyMemory(from: bytes.baseAddress! + offset, byteCount: take)
                }
                sent += take
                written += take
            }
        }
        return written
    }

    /// Prefix + payload as one array (for tests and tiny messages).
    var framedBytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(totalCount)
        var prefix = FramedMessage.prefix(length: payload.count)
        withUnsafeBytes(of: &prefix) { out.append(contentsOf: $0) }
        out.append(contentsOf: payload)
        return out
    }
}
