import ClusterWire
import RPC

/// A job the coordinator accepted, and the SubmitJob stream that reports it.
///
/// Follow it through ``updates`` or wait for ``result()``; either reads the one stream, so use
/// one of them, once. Cancelling the task that reads cancels the call, and the coordinator then
/// cancels the job; so does dropping the handle before the job ends.
public struct JobHandle: Sendable {
    /// Names the job in ``InfinityClient/status(jobID:)``, ``InfinityClient/cancel(jobID:)`` and
    /// ``InfinityClient/result(jobID:)``.
    public let jobID: String
    /// Frames of each clip, in clip order, as the coordinator planned them.
    public let clipFrames: [Int]
    /// The job's place in the queue when it was accepted; 0 if it started at once.
    public let queuePosition: Int

    private let stream: ResponseStream<JobEvent>
    private let reader: JobEventReader
    private let client: InfinityClient

    init(accepted: JobAccepted, stream: ResponseStream<JobEvent>, reader: JobEventReader, client: InfinityClient) {
        jobID = accepted.jobID
        clipFrames = accepted.clipFrames.map { Int($0) }
        queuePosition = Int(accepted.queuePosition)
        self.stream = stream
        self.reader = reader
        self.client = client
    }

    /// The job's updates as they happen, ending after the final `completed` or `failed`.
    /// Iteration throws ``RPCError`` when the call fails (the coordinator went away: `unavailable`),
    /// when the stream breaks the event order (`internalError`) and when the result fails its
    /// checks: `dataLoss` for a CRC-32 mismatch or chunks disagreeing with JobCompleted's shape,
    /// `internalError` for a shape other than `[C, frames, height, width]` of the request,
    /// `invalidArgument` for a malformed chunk stream. Iterate it once.
    public var updates: JobUpdates {
        JobUpdates(stream: stream, reader: reader)
    }

    /// Reads the updates to the end and returns the result; throws an ``RPCError`` with the job's
    /// code (for example `cancelled` or `unavailable`) and the message `job ID failed: ...` when
    /// the job failed, and whatever ``updates`` throws.
    public func result() async throws(RPCError) -> GenerationResult {
        var result: GenerationResult?
        for try await update in updates {
            switch update {
            case .completed(let completed):
                result = completed
            case .failed(let code, let message):
                throw RPCError(code: code, message: "job \(jobID) failed: \(message)")
            case .placed, .progress, .recovering:
                break
            }
        }
        guard let result else {
            // The updates end only after a final update or with an error; kept for the compiler.
            throw reader.endedEarly
        }
        return result
    }

    /// Asks the coordinator to cancel the job (CancelJob); the updates then end with
    /// `failed(code: .cancelled, ...)`. Returns the job's state after the call: `cancelled`, or
    /// the final state it had already reached.
    @discardableResult
    public func cancel() async throws(RPCError) -> JobState {
        try await client.cancel(jobID: jobID)
    }
}

/// The updates of one job: an asynchronous sequence over its SubmitJob stream (see
/// ``JobHandle/updates``).
public struct JobUpdates: AsyncSequence, Sendable {
    /// Elements are the job's updates.
    public typealias Element = JobUpdate
    /// Iteration throws ``RPCError``.
    public typealias Failure = RPCError

    let stream: ResponseStream<JobEvent>
    let reader: JobEventReader

    /// Reads the stream: one update per event, result chunks taken silently.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var events: ResponseStream<JobEvent>.AsyncIterator
        var reader: JobEventReader
        var done = false

        /// The next update; nil once the stream ended after the final update.
        public mutating func next() async throws(RPCError) -> JobUpdate? {
            guard !done else { return nil }
            do throws(RPCError) {
                while true {
                    // After the final update, read on to the status: an error status or a
                    // further event is reported rather than ignored.
                    guard let event = try await events.next() else {
                        done = true
                        if reader.finished { return nil }
                        throw reader.endedEarly
                    }
                    if let update = try reader.read(event) { return update }
                }
            } catch {
                done = true
                throw error
            }
        }
    }

    /// Starts reading.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(events: stream.makeAsyncIterator(), reader: reader)
    }
}
