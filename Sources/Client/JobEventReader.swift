import Checksums
import ClusterWire
import Parallel
import RPC

/// Reads the events of one SubmitJob stream after its JobAccepted: checks their order, turns
/// each into a ``JobUpdate``, assembles the result chunks and checks the result against
/// JobCompleted's shape and CRC-32. Pure, so the whole protocol is testable without a socket.
struct JobEventReader: Sendable {
    /// The job, named in every error.
    let jobID: String
    /// `[frames, height, width]` the result must have (after its channel axis); nil for no check.
    let grid: [Int]?
    private var assembler: TensorAssembler
    /// Whether a result chunk arrived: only chunks and the final event may follow.
    private var resultBegan = false
    /// Whether the final event (completed or failed) was read.
    private(set) var finished = false

    /// A reader for job `jobID`, expecting latents `[C] + grid` when `grid` is given.
    init(jobID: String, grid: [Int]?) {
        self.jobID = jobID
        self.grid = grid
        assembler = TensorAssembler(name: "job \(jobID): result")
    }

    /// The update `event` makes, nil for a result chunk (taken into the result). Throws
    /// `internalError` for an event out of order, `invalidArgument` for a malformed chunk stream
    /// and `dataLoss` for a result that fails its CRC-32 or shape check.
    mutating func read(_ event: JobEvent) throws(RPCError) -> JobUpdate? {
        guard !finished else {
            throw violation("an event after the job's final event")
        }
        switch event {
        case .accepted:
            throw violation("a second JobAccepted")
        case .placement(let placement):
            guard !resultBegan else { throw violation("a placement after the result began") }
            return .placed(workerIDs: placement.workerIDs, epoch: placement.epoch)
        case .progress(let progress):
            guard !resultBegan else { throw violation("progress after the result began") }
            return .progress(step: Int(progress.step), steps: Int(progress.steps), clips: Int(progress.clips),
                             elapsed: .milliseconds(progress.elapsedMs), exchangeFraction: progress.exchangeFraction)
        case .recovering(let recovering):
            guard !resultBegan else { throw violation("a recovery after the result began") }
            return .recovering(failedWorkerIDs: recovering.failedWorkerIDs, reason: recovering.reason,
                               resumeStep: Int(recovering.resumeStep))
        case .resultChunk(let chunk):
            resultBegan = true
            try assembler.add(chunk)
            return nil
        case .completed(let completed):
            finished = true
            return .completed(GenerationResult(latents: try check(assembler.finish(), against: completed)))
        case .failed(let failed):
            finished = true
            let code = StatusCode(wireValue: Int(failed.code))
            // A failure reported with OK would read as success to anyone testing the code.
            return .failed(code: code == .ok ? .unknown : code, message: failed.message)
        }
    }

    /// The error for a stream that ended (with status OK) before the job's final event.
    var endedEarly: RPCError {
        RPCError(code: .internalError, message: "job \(jobID): the coordinator's SubmitJob stream ended without "
            + "JobCompleted or JobFailed")
    }

    private func check(_ latents: HostTensor, against completed: JobCompleted) throws(RPCError) -> HostTensor {
        let announced = completed.shape.map { Int($0) }
        guard latents.shape == announced else {
            throw RPCError(code: .dataLoss, message: "job \(jobID): the result chunks describe shape \(latents.shape), "
                + "JobCompleted says \(completed.shape)")
        }
        if let grid, latents.shape.count != 4 || Array(latents.shape.dropFirst()) != grid {
            throw RPCError(code: .internalError, message: "job \(jobID): result shape \(latents.shape) is not "
                + "[channels, frames, height, width] with frames x height x width = \(grid)")
        }
        let crc = latents.values.withUnsafeBytes { CRC32.checksum($0) }
        guard crc == completed.crc32 else {
            throw RPCError(code: .dataLoss, message: "job \(jobID): the result's CRC-32 is \(hex(crc)), "
                + "JobCompleted says \(hex(completed.crc32))")
        }
        return latents
    }

    private func violation(_ what: String) -> RPCError {
        RPCError(code: .internalError, message: "job \(jobID): the coordinator's SubmitJob stream sent \(what)")
    }
}

/// `0x` and eight hex digits.
func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
