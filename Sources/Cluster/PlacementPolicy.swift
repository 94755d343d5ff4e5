/// A worker as placement sees it: how many more clips it can hold.
public struct WorkerSlot: Sendable, Equatable {
    /// The worker.
    public var workerID: String
    /// Clips it can take on now (its capacity minus the clips it holds).
    public var freeClips: Int

    /// Creates a slot.
    public init(workerID: String, freeClips: Int) {
        self.workerID = workerID
        self.freeClips = freeClips
    }
}

/// Where a job's clips run: a pure function of the clip count and the workers' free capacity,
/// unit-tested without sockets.
///
/// Clips spread over every worker with room (lock-step steps take as long as the busiest
/// worker, so an even spread is fastest), as evenly as each worker's room allows, and in
/// contiguous runs in the workers' order: neighbouring clips share a worker wherever
/// possible, so most neighbour exchanges stay in-process.
public enum PlacementPolicy {
    /// The worker of each of `clipCount` clips, or nil when the workers' free capacity is
    /// less than `clipCount` (the job waits in the queue).
    public static func place(clipCount: Int, on workers: [WorkerSlot]) -> [String]? {
        precondition(clipCount >= 1, "a job has at least one clip")
        let usable = workers.filter { $0.freeClips > 0 }
        guard usable.reduce(0, { $0 + $1.freeClips }) >= clipCount else { return nil }
        // Water-filling: the roomiest workers absorb what the tight ones cannot take.
        var counts = [Int](repeating: 0, count: usable.count)
        var remaining = clipCount
        let byRoom = usable.indices.sorted { usable[$0].freeClips < usable[$1].freeClips || (usable[$0].freeClips == usable[$1].freeClips && $0 < $1) }
        for (rank, index) in byRoom.enumerated() {
            let left = byRoom.count - rank
            let share = (remaining + left - 1) / left
            // An uneven division gives the extra clips to the tightest (then earliest) workers
            // that can take them; the runs stay in the workers' order.
            counts[index] = min(usable[index].freeClips, share)
            remaining -= counts[index]
        }
        precondition(remaining == 0, "capacity was checked")
        return zip(usable, counts).flatMap { worker, count in Array(repeating: worker.workerID, count: count) }
    }
}

/// Decides which workers have failed from when each was last heard from: a pure policy over
/// explicit instants, unit-tested without clocks or sockets.
public struct FailureDetector: Sendable {
    /// How long a worker may stay silent before it counts as failed.
    public let timeout: Duration
    private var lastHeard: [String: ContinuousClock.Instant] = [:]

    /// A detector declaring workers failed after `timeout` of silence.
    public init(timeout: Duration) {
        precondition(timeout > .zero, "a failure timeout must be positive")
        self.timeout = timeout
    }

    /// Records a sign of life (registration, heartbeat, answered call) from `workerID`.
    public mutating func heard(from workerID: String, at instant: ContinuousClock.Instant) {
        if let previous = lastHeard[workerID], previous > instant { return }
        lastHeard[workerID] = instant
    }

    /// Stops watching `workerID` (failed, or left).
    public mutating func forget(_ workerID: String) {
        lastHeard.removeValue(forKey: workerID)
    }

    /// Workers silent for longer than the timeout at `now`, in name order; they stay watched
    /// until ``forget(_:)``.
    public func expired(at now: ContinuousClock.Instant) -> [String] {
        lastHeard.filter { now - $0.value > timeout }.keys.sorted()
    }

    /// Workers being watched.
    public var watched: [String] { lastHeard.keys.sorted() }
}
