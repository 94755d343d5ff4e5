@testable import RPC
import Synchronization
import Testing

/// The queues between handler tasks and the loop: backpressure on writes, withheld credit on reads.
@Suite(.timeLimit(.minutes(1)))
struct FlowControlBufferTests {
    @Test func writerSuspendsAboveHighWaterUntilTheLoopDrains() async throws {
        let kicks = Mutex(0)
        let buffer = OutboundMessageBuffer(needsKickInitially: true, highWaterBytes: 1000) { kicks.withLock { $0 += 1 } }
        try await buffer.write([UInt8](repeating: 1, count: 600))
        #expect(kicks.withLock { $0 } == 1)
        let finished = Mutex(false)
        let writer = Task {
            // 605 + 605 queued bytes > 1000: this write must wait.
            try await buffer.write([UInt8](repeating: 2, count: 600))
            finished.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(finished.withLock { $0 } == false)
        // The loop drains 1,000 bytes: 210 stay queued, below the 500-byte low-water mark.
        var scratch = [UInt8](repeating: 0, count: 1000)
        let result = scratch.withUnsafeMutableBytes { buffer.read(into: $0) }
        guard case .bytes(1000, end: nil) = result else {
            Issue.record("unexpected \(result)")
            return
        }
        try await writer.value
        #expect(finished.withLock { $0 })
        // Prefix of the first message, then its payload.
        #expect(Array(scratch[0..<6]) == [0, 0, 0, 2, 88, 1])
        // The second message's prefix straddles: 605 + 5 = 610.
        #expect(Array(scratch[605..<611]) == [0, 0, 0, 2, 88, 2])
    }

    @Test func emptyQueueParksTheStreamAndTheNextWriteKicks() async throws {
        let kicks = Mutex(0)
        let buffer = OutboundMessageBuffer(needsKickInitially: false, highWaterBytes: 1000) { kicks.withLock { $0 += 1 } }
        var scratch = [UInt8](repeating: 0, count: 16)
        guard case .deferred = scratch.withUnsafeMutableBytes({ buffer.read(into: $0) }) else {
            Issue.record("an empty queue must defer")
            return
        }
        try await buffer.write([7])
        try await buffer.write([8])
        // Two writes, one kick: the stream was parked once.
        #expect(kicks.withLock { $0 } == 1)
        buffer.finish(.endStream)
        guard case .bytes(12, end: .endStream?) = scratch.withUnsafeMutableBytes({ buffer.read(into: $0) }) else {
            Issue.record("expected both messages and the end")
            return
        }
        #expect(Array(scratch[0..<12]) == [0, 0, 0, 0, 1, 7, 0, 0, 0, 0, 1, 8])
    }

    @Test func failedStreamFailsWriters() async {
        let buffer = OutboundMessageBuffer(needsKickInitially: false) {}
        buffer.fail(RPCError(code: .cancelled, message: "gone"))
        await #expect(throws: RPCError(code: .cancelled, message: "gone")) { try await buffer.write([1]) }
    }

    @Test func readerBehindWithholdsCreditAndCatchingUpReleasesItOnce() async throws {
        let releases = Mutex(0)
        let buffer = InboundMessageBuffer(highWaterBytes: 1000) { releases.withLock { $0 += 1 } }
        buffer.push([UInt8](repeating: 0, count: 600))
        #expect(buffer.shouldWithholdCredit() == false)
        buffer.push([UInt8](repeating: 1, count: 600))
        #expect(buffer.shouldWithholdCredit() == true)
        // 1,200 → 600 buffered: still above the 500-byte low-water mark.
        #expect(try await buffer.next()?.first == 0)
        #expect(releases.withLock { $0 } == 0)
        #expect(try await buffer.next()?.first == 1)
        #expect(releases.withLock { $0 } == 1)
        buffer.finish(.success(Metadata()))
        #expect(try await buffer.next() == nil)
        #expect(releases.withLock { $0 } == 1)
    }

    @Test func queuedMessagesComeBeforeTheFailure() async throws {
        let buffer = InboundMessageBuffer {}
        buffer.push([1])
        buffer.finish(.failure(RPCError(code: .aborted, message: "stop")))
        #expect(try await buffer.next() == [1])
        await #expect(throws: RPCError(code: .aborted, message: "stop")) { _ = try await buffer.next() }
    }
}
