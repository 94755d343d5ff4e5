import Parallel
import RPC

/// What happened to a submitted job, in the order the coordinator reports it: `placed`, then
/// `progress` after every step, `recovering` and `placed` again after a worker failure, and one
/// final `completed` or `failed`.
public enum JobUpdate: Sendable, Equatable {
    /// The job's clips run on `workerIDs` (clip `c` on `workerIDs[c]`). `epoch` is 1 when the job
    /// starts and grows by one with every recovery.
    case placed(workerIDs: [String], epoch: UInt64)
    /// Every clip has finished `step` of `steps` denoising steps. `elapsed` counts from when the
    /// job started running; `exchangeFraction` (0...1) is the share of the last step the clips
    /// spent waiting for context from their neighbours.
    case progress(step: Int, steps: Int, clips: Int, elapsed: Duration, exchangeFraction: Double)
    /// Workers holding clips failed: their clips are re-placed and every clip resumes from the
    /// checkpoint taken after `resumeStep` steps. A `placed` update follows once they run again.
    case recovering(failedWorkerIDs: [String], reason: String, resumeStep: Int)
    /// Final: the job's latents, assembled and checked against the coordinator's CRC-32.
    case completed(GenerationResult)
    /// Final: the job failed or was cancelled (`code` is `cancelled` after a cancel).
    case failed(code: StatusCode, message: String)

    /// Whether this is the job's last update.
    public var isFinal: Bool {
        switch self {
        case .completed, .failed: true
        case .placed, .progress, .recovering: false
        }
    }
}

/// The result of a completed job.
public struct GenerationResult: Sendable, Equatable {
    /// The denoised latents, `[channels, frames, height, width]` float32.
    public let latents: HostTensor

    /// Wraps `latents`.
    public init(latents: HostTensor) {
        self.latents = latents
    }
}
