import Synchronization

/// The in-process ``ContextExchange``: clips running as tasks of one process post their parts
/// to a shared ``ContextMailbox`` and wait for their peers'.
///
/// The exchange counts the bytes each clip receives, which is what a network transport would
/// carry (for an all-reduce: the sum, as a reducing transport delivers it).
public final class InProcessExchange: MailboxExchange {
    public let clipCount: Int
    public let mailbox = ContextMailbox()
    private let received: Mutex<[Int]>

    /// An exchange for `clipCount` clips.
    public init(clipCount: Int) {
        precondition(clipCount >= 1, "an exchange needs at least one clip")
        self.clipCount = clipCount
        received = Mutex(Array(repeating: 0, count: clipCount))
    }

    /// Bytes each clip has received so far.
    public var bytesReceived: [Int] { received.withLock { $0 } }

    public func deliver(_ slot: ContextMailbox.Slot, _ payload: ContextMailbox.Payload, to receivers: [Int]) async throws {
        try await mailbox.post(slot, payload, readers: receivers.count)
    }

    public func noteReceived(bytes: Int, clip: Int) {
        received.withLock { $0[clip] += bytes }
    }
}
