import Glibc

/// A connection's pending output: frames pulled from nghttp2 and batched into few `send`s.
///
/// Pulling stops at the high-water mark, which leaves the rest in nghttp2 (and the handlers'
/// queues, which then push back on the handlers): the output side of backpressure.
struct OutputBuffer {
    private var bytes: [UInt8] = []
    private var offset = 0
    let highWaterBytes = 256 * 1024

    var isEmpty: Bool { offset == bytes.count }
    var isAboveHighWater: Bool { bytes.count - offset >= highWaterBytes }

    enum FlushResult {
        /// Everything nghttp2 had is sent.
        case drained
        /// The socket is full; wait for it to turn writable.
        case blocked
        /// The socket failed (peer gone).
        case failed
    }

    /// Pulls frames from nghttp2 and sends them until both are empty or the socket is full.
    mutating func flush(fd: Int32, session: HTTP2Session) throws(RPCRuntimeError) -> FlushResult {
        while true {
            while bytes.count - offset < highWaterBytes {
                let chunk = try session.nextOutput()
                if chunk.isEmpty { break }
                bytes.append(contentsOf: chunk)
            }
            let pending = bytes.count - offset
            if pending == 0 { return .drained }
            let sent = bytes.withUnsafeBytes { buffer in
                send(fd, buffer.baseAddress! + offset, pending, Int32(MSG_NOSIGNAL))
            }
            if sent > 0 {
                offset += sent
                if offset == bytes.count {
                    bytes.removeAll(keepingCapacity: bytes.capacity <= 4 * highWaterBytes)
                    offset = 0
                }
            } else if sent < 0 && errno == EINTR {
                continue
            } else if sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                if offset > 0 {
                    bytes.removeFirst(offset)
                    offset = 0
                }
                return .blocked
            } else {
                return .failed
            }
        }
    }
}
