@testable import RPC
import Testing

/// The 5-byte message framing, both directions, including malformed input.
struct MessageFramingTests {
    private func deframe(_ chunks: [[UInt8]], max: Int = 1 << 20) throws(RPCError) -> [[UInt8]] {
        var deframer = MessageDeframer(maxMessageBytes: max)
        var messages: [[UInt8]] = []
        for chunk in chunks {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(chunk.count, 1), alignment: 1)
            defer { buffer.deallocate() }
            buffer.copyBytes(from: chunk)
            try deframer.process(UnsafeRawBufferPointer(rebasing: buffer[0..<chunk.count])) { (message) throws(RPCError) in
                messages.append(message)
            }
        }
        try deframer.finish()
        return messages
    }

    @Test func prefixIsFlagAndBigEndianLength() {
        #expect(FramedMessage([]).framedBytes == [0, 0, 0, 0, 0])
        #expect(FramedMessage([7, 8, 9]).framedBytes == [0, 0, 0, 0, 3, 7, 8, 9])
        let prefix = FramedMessage.prefix(length: 0x0102_0304)
        #expect([prefix.0, prefix.1, prefix.2, prefix.3, prefix.4] == [0, 1, 2, 3, 4])
    }

    @Test func copyingInSmallPiecesReproducesTheFrame() {
        var message = FramedMessage(Array(0..<20))
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 3)
        while message.remaining > 0 {
            let count = buffer.withUnsafeMutableBytes { message.copy(into: $0) }
            out += buffer[0..<count]
        }
        #expect(out == FramedMessage(Array(0..<20)).framedBytes)
        #expect(out.count == 25)
    }

    @Test func deframesSeveralMessagesInOneChunk() throws {
        let chunk = FramedMessage([1, 2]).framedBytes + FramedMessage([]).framedBytes + FramedMessage([3]).framedBytes
        #expect(try deframe([chunk]) == [[1, 2], [], [3]])
    }

    @Test func deframesAMessageSplitByteByByte() throws {
        let frame = FramedMessage(Array(1...9)).framedBytes
        #expect(try deframe(frame.map { [$0] }) == [Array(1...9)])
    }

    @Test func oversizedLengthPrefixIsResourceExhausted() {
        // Declares 0x01000000 bytes (16 MiB) against a 1 MiB limit; no body follows.
        #expect(throws: RPCError(code: .resourceExhausted, message: "message of 16777216 bytes exceeds the limit of 1048576 bytes")) {
            _ = try deframe([[0, 1, 0, 0, 0]])
        }
    }

    @Test func compressedFlagWithoutEncodingIsInternal() {
        #expect(throws: RPCError(code: .internalError, message: "message has the compressed flag set but no grpc-encoding was negotiated")) {
            _ = try deframe([[1, 0, 0, 0, 1, 42]])
        }
    }

    @Test func unknownFlagsAreInternal() {
        #expect(throws: RPCError(code: .internalError, message: "invalid message flags 0x80")) {
            _ = try deframe([[0x80, 0, 0, 0, 0]])
        }
    }

    @Test func truncatedBodyIsInternal() {
        #expect(throws: RPCError(code: .internalError, message: "stream ended inside a message: received 2 of 5 bytes")) {
            _ = try deframe([[0, 0, 0, 0, 5, 1, 2]])
        }
    }

    @Test func truncatedHeaderIsInternal() {
        #expect(throws: RPCError(code: .internalError, message: "stream ended inside a message header: received 3 of 5 bytes")) {
            _ = try deframe([FramedMessage([1]).framedBytes + [0, 0, 0]])
        }
    }

    @Test func messageAtTheLimitIsAccepted() throws {
        let payload = [UInt8](repeating: 0xAB, count: 1024)
        #expect(try deframe([FramedMessage(payload).framedBytes], max: 1024) == [payload])
    }
}
