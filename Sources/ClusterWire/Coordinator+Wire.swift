// Protos/infinity/v1/coordinator.proto as Swift values: the Coordinator service's messages.
// The protobuf-c structs appear only in the internal `WireConvertible` conformances.
import RPC
internal import Wire

/// Where a job is in its life. QUEUED -> RUNNING <-> RECOVERING -> one of the three final states.
///
/// `infinity.v1.JobState`; a value this build does not know decodes as `unspecified`.
public enum JobState: Int32, Sendable, Equatable {
    /// `JOB_STATE_UNSPECIFIED`.
    case unspecified = 0
    /// Accepted, waiting for worker capacity.
    case queued = 1
    /// Clips placed, steps running in lock-step.
    case running = 2
    /// A worker failed: its clips are being re-placed and every clip rolled back to the last
    /// checkpoint.
    case recovering = 3
    /// Final: the result is available through GetJobResult.
    case completed = 4
    /// Final: see JobStatus.error_message.
    case failed = 5
    /// Final: cancelled by CancelJob or by the submitting client going away.
    case cancelled = 6
}

extension JobState: WireEnum {}

/// Where a worker is in its life.
///
/// `infinity.v1.WorkerState`; a value this build does not know decodes as `unspecified`.
public enum WorkerState: Int32, Sendable, Equatable {
    /// `WORKER_STATE_UNSPECIFIED`.
    case unspecified = 0
    /// Heartbeating, accepting clips.
    case ready = 1
    /// Missed heartbeats or failed an RPC: clips are no longer placed on it.
    case failed = 2
    /// Shutting down gracefully: running clips finish, no new ones are placed.
    case draining = 3
}

extension WorkerState: WireEnum {}

/// `infinity.v1.SubmitJobRequest`.
public struct SubmitJobRequest: RPCMessage, Hashable {
    /// `parameters` (field 1).
    public var parameters: JobParameters?
    /// Free text shown by ListJobs and in logs.
    public var label: String
    /// Checkpoint every clip's latents after every `checkpoint_interval` completed steps;
    /// 0: the coordinator's configured interval.
    public var checkpointInterval: Int32

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(parameters: JobParameters? = nil, label: String = "", checkpointInterval: Int32 = 0) {
        self.parameters = parameters
        self.label = label
        self.checkpointInterval = checkpointInterval
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension SubmitJobRequest: WireConvertible {
    static let protoName = "infinity.v1.SubmitJobRequest"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__SubmitJobRequest>? {
        infinity__v1__submit_job_request__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__SubmitJobRequest>) {
        infinity__v1__submit_job_request__init(message)
    }

    init(wire: Infinity__V1__SubmitJobRequest) throws(RPCError) {
        self.init(
            parameters: try WireRead.message(wire.parameters, as: JobParameters.self),
            label: WireRead.string(wire.label),
            checkpointInterval: wire.checkpoint_interval)
    }

    func fill(_ wire: inout Infinity__V1__SubmitJobRequest, in arena: WireArena) {
        wire.parameters = arena.message(parameters)
        wire.label = arena.string(label)
        wire.checkpoint_interval = checkpointInterval
    }
}

/// The first event of every SubmitJob stream.
///
/// `infinity.v1.JobAccepted`.
public struct JobAccepted: RPCMessage, Hashable {
    /// Names the job in CancelJob, GetJob and GetJobResult. Unique for the coordinator's lifetime.
    public var jobID: String
    /// Frames of each clip, in clip order (Parallel.ClipPlan.clipFrames).
    public var clipFrames: [Int32]
    /// Position in the queue when accepted; 0 if it started at once.
    public var queuePosition: Int32

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(jobID: String = "", clipFrames: [Int32] = [], queuePosition: Int32 = 0) {
        self.jobID = jobID
        self.clipFrames = clipFrames
        self.queuePosition = queuePosition
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension JobAccepted: WireConvertible {
    static let protoName = "infinity.v1.JobAccepted"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__JobAccepted>? {
        infinity__v1__job_accepted__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__JobAccepted>) {
        infinity__v1__job_accepted__init(message)
    }

    init(wire: Infinity__V1__JobAccepted) {
        self.init(
            jobID: WireRead.string(wire.job_id),
            clipFrames: WireRead.array(wire.clip_frames, count: wire.n_clip_frames),
            queuePosition: wire.queue_position)
    }

    func fill(_ wire: inout Infinity__V1__JobAccepted, in arena: WireArena) {
        wire.job_id = arena.string(jobID)
        (wire.n_clip_frames, wire.clip_frames) = arena.array(clipFrames)
        wire.queue_position = queuePosition
    }
}

/// Where each clip runs; sent when the job starts and again after every recovery.
///
/// `infinity.v1.JobPlacement`.
public struct JobPlacement: RPCMessage, Hashable {
    /// worker_ids[c] holds clip c.
    public var workerIDs: [String]
    /// The placement's epoch: 1 when the job starts, +1 after each recovery.
    public var epoch: UInt64

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(workerIDs: [String] = [], epoch: UInt64 = 0) {
        self.workerIDs = workerIDs
        self.epoch = epoch
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension JobPlacement: WireConvertible {
    static let protoName = "infinity.v1.JobPlacement"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__JobPlacement>? {
        infinity__v1__job_placement__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__JobPlacement>) {
        infinity__v1__job_placement__init(message)
    }

    init(wire: Infinity__V1__JobPlacement) {
        self.init(
            workerIDs: WireRead.strings(wire.worker_ids, count: wire.n_worker_ids),
            epoch: wire.epoch)
    }

    func fill(_ wire: inout Infinity__V1__JobPlacement, in arena: WireArena) {
        (wire.n_worker_ids, wire.worker_ids) = arena.strings(workerIDs)
        wire.epoch = epoch
    }
}

/// Sent after each lock-step step: every clip has completed `step` of `steps`.
///
/// `infinity.v1.JobProgress`.
public struct JobProgress: RPCMessage, Hashable {
    /// `step` (field 1).
    public var step: Int32
    /// `steps` (field 2).
    public var steps: Int32
    /// `clips` (field 3).
    public var clips: Int32
    /// Since the job started running.
    public var elapsedMs: Int64
    /// Share of the last step's time the clips spent waiting on context exchange (0..1).
    public var exchangeFraction: Double

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(step: Int32 = 0,
                steps: Int32 = 0,
                clips: Int32 = 0,
                elapsedMs: Int64 = 0,
                exchangeFraction: Double = 0) {
        self.step = step
        self.steps = steps
        self.clips = clips
        self.elapsedMs = elapsedMs
        self.exchangeFraction = exchangeFraction
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension JobProgress: WireConvertible {
    static let protoName = "infinity.v1.JobProgress"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__JobProgress>? {
        infinity__v1__job_progress__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__JobProgress>) {
        infinity__v1__job_progress__init(message)
    }

    init(wire: Infinity__V1__JobProgress) {
        self.init(
            step: wire.step,
            steps: wire.steps,
            clips: wire.clips,
            elapsedMs: wire.elapsed_ms,
            exchangeFraction: wire.exchange_fraction)
    }

    func fill(_ wire: inout Infinity__V1__JobProgress, in arena: WireArena) {
        wire.step = step
        wire.steps = steps
        wire.clips = clips
        wire.elapsed_ms = elapsedMs
        wire.exchange_fraction = exchangeFraction
    }
}

/// A worker failed during the job; its clips are re-placed and the job resumes from a checkpoint.
/// A JobPlacement follows once the clips run again.
///
/// `infinity.v1.JobRecovering`.
public struct JobRecovering: RPCMessage, Hashable {
    /// The workers lost.
    public var failedWorkerIDs: [String]
    /// Why (for example "heartbeat timeout after 3000 ms").
    public var reason: String
    /// Completed steps of the checkpoint the job resumes from.
    public var resumeStep: Int32

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(failedWorkerIDs: [String] = [], reason: String = "", resumeStep: Int32 = 0) {
        self.failedWorkerIDs = failedWorkerIDs
        self.reason = reason
        self.resumeStep = resumeStep
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension JobRecovering: WireConvertible {
    static let protoName = "infinity.v1.JobRecovering"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__JobRecovering>? {
        infinity__v1__job_recovering__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__JobRecovering>) {
        infinity__v1__job_recovering__init(message)
    }

    init(wire: Infinity__V1__JobRecovering) {
        self.init(
            failedWorkerIDs: WireRead.strings(wire.failed_worker_ids, count: wire.n_failed_worker_ids),
            reason: WireRead.string(wire.reason),
            resumeStep: wire.resume_step)
    }

    func fill(_ wire: inout Infinity__V1__JobRecovering, in arena: WireArena) {
        (wire.n_failed_worker_ids, wire.failed_worker_ids) = arena.strings(failedWorkerIDs)
        wire.reason = arena.string(reason)
        wire.resume_step = resumeStep
    }
}

/// The last event of a successful job.
///
/// `infinity.v1.JobCompleted`.
public struct JobCompleted: RPCMessage, Hashable {
    /// Shape of the result latents, [C, frames, height, width].
    public var shape: [Int64]
    /// CRC-32 (zlib's polynomial) of the result's float32 little-endian bytes: lets the client
    /// check the chunks it assembled.
    public var crc32: UInt32

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(shape: [Int64] = [], crc32: UInt32 = 0) {
        self.shape = shape
        self.crc32 = crc32
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension JobCompleted: WireConvertible {
    static let protoName = "infinity.v1.JobCompleted"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__JobCompleted>? {
        infinity__v1__job_completed__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__JobCompleted>) {
        infinity__v1__job_completed__init(message)
    }

    init(wire: Infinity__V1__JobCompleted) {
        self.init(
            shape: WireRead.array(wire.shape, count: wire.n_shape),
            crc32: wire.crc32)
    }

    func fill(_ wire: inout Infinity__V1__JobCompleted, in arena: WireArena) {
        (wire.n_shape, wire.shape) = arena.array(shape)
        wire.crc32 = crc32
    }
}

/// The last event of a failed or cancelled job (the call itself still ends with status OK: the
/// stream delivered the job's outcome).
///
/// `infinity.v1.JobFailed`.
public struct JobFailed: RPCMessage, Hashable {
    /// The gRPC status code that best describes the failure (e.g. UNAVAILABLE when no worker is
    /// left, CANCELLED after CancelJob).
    public var code: Int32
    /// `message` (field 2).
    public var message: String

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(code: Int32 = 0, message: String = "") {
        self.code = code
        self.message = message
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension JobFailed: WireConvertible {
    static let protoName = "infinity.v1.JobFailed"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__JobFailed>? {
        infinity__v1__job_failed__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__JobFailed>) {
        infinity__v1__job_failed__init(message)
    }

    init(wire: Infinity__V1__JobFailed) {
        self.init(
            code: wire.code,
            message: WireRead.string(wire.message))
    }

    func fill(_ wire: inout Infinity__V1__JobFailed, in arena: WireArena) {
        wire.code = code
        wire.message = arena.string(message)
    }
}

/// One event of a SubmitJob stream, in this order: accepted, placement, (progress |
/// recovering, placement)*, result chunks, completed; or failed at any point after accepted.
///
/// `infinity.v1.JobEvent`: exactly one `event` is set.
public enum JobEvent: RPCMessage, Hashable {
    /// `accepted` (field 1).
    case accepted(JobAccepted)
    /// `placement` (field 2).
    case placement(JobPlacement)
    /// `progress` (field 3).
    case progress(JobProgress)
    /// `recovering` (field 4).
    case recovering(JobRecovering)
    /// The result latents [C, frames, height, width] float32, streamed before `completed`.
    case resultChunk(TensorChunk)
    /// `completed` (field 6).
    case completed(JobCompleted)
    /// `failed` (field 7).
    case failed(JobFailed)

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension JobEvent: WireConvertible {
    static let protoName = "infinity.v1.JobEvent"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__JobEvent>? {
        infinity__v1__job_event__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__JobEvent>) {
        infinity__v1__job_event__init(message)
    }

    init(wire: Infinity__V1__JobEvent) throws(RPCError) {
        switch wire.event_case {
        case INFINITY__V1__JOB_EVENT__EVENT_ACCEPTED:
            self = .accepted(try WireRead.required(wire.accepted, as: JobAccepted.self))
        case INFINITY__V1__JOB_EVENT__EVENT_PLACEMENT:
            self = .placement(try WireRead.required(wire.placement, as: JobPlacement.self))
        case INFINITY__V1__JOB_EVENT__EVENT_PROGRESS:
            self = .progress(try WireRead.required(wire.progress, as: JobProgress.self))
        case INFINITY__V1__JOB_EVENT__EVENT_RECOVERING:
            self = .recovering(try WireRead.required(wire.recovering, as: JobRecovering.self))
        case INFINITY__V1__JOB_EVENT__EVENT_RESULT_CHUNK:
            self = .resultChunk(try WireRead.required(wire.result_chunk, as: TensorChunk.self))
        case INFINITY__V1__JOB_EVENT__EVENT_COMPLETED:
            self = .completed(try WireRead.required(wire.completed, as: JobCompleted.self))
        case INFINITY__V1__JOB_EVENT__EVENT_FAILED:
            self = .failed(try WireRead.required(wire.failed, as: JobFailed.self))
        default:
            throw RPCError(code: .invalidArgument, message: "infinity.v1.JobEvent has no event set")
        }
    }

    func fill(_ wire: inout Infinity__V1__JobEvent, in arena: WireArena) {
        switch self {
        case .accepted(let value):
            wire.event_case = INFINITY__V1__JOB_EVENT__EVENT_ACCEPTED
            wire.accepted = arena.message(value)
        case .placement(let value):
            wire.event_case = INFINITY__V1__JOB_EVENT__EVENT_PLACEMENT
            wire.placement = arena.message(value)
        case .progress(let value):
            wire.event_case = INFINITY__V1__JOB_EVENT__EVENT_PROGRESS
            wire.progress = arena.message(value)
        case .recovering(let value):
            wire.event_case = INFINITY__V1__JOB_EVENT__EVENT_RECOVERING
            wire.recovering = arena.message(value)
        case .resultChunk(let value):
            wire.event_case = INFINITY__V1__JOB_EVENT__EVENT_RESULT_CHUNK
            wire.result_chunk = arena.message(value)
        case .completed(let value):
            wire.event_case = INFINITY__V1__JOB_EVENT__EVENT_COMPLETED
            wire.completed = arena.message(value)
        case .failed(let value):
            wire.event_case = INFINITY__V1__JOB_EVENT__EVENT_FAILED
            wire.failed = arena.message(value)
        }
    }
}

/// `infinity.v1.CancelJobRequest`.
public struct CancelJobRequest: RPCMessage, Hashable {
    /// `job_id` (field 1).
    public var jobID: String

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(jobID: String = "") {
        self.jobID = jobID
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension CancelJobRequest: WireConvertible {
    static let protoName = "infinity.v1.CancelJobRequest"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__CancelJobRequest>? {
        infinity__v1__cancel_job_request__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__CancelJobRequest>) {
        infinity__v1__cancel_job_request__init(message)
    }

    init(wire: Infinity__V1__CancelJobRequest) {
        self.init(
            jobID: WireRead.string(wire.job_id))
    }

    func fill(_ wire: inout Infinity__V1__CancelJobRequest, in arena: WireArena) {
        wire.job_id = arena.string(jobID)
    }
}

/// `infinity.v1.CancelJobResponse`.
public struct CancelJobResponse: RPCMessage, Hashable {
    /// The job's state after the call: CANCELLED, or the final state it had already reached.
    public var state: JobState

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(state: JobState = .unspecified) {
        self.state = state
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension CancelJobResponse: WireConvertible {
    static let protoName = "infinity.v1.CancelJobResponse"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__CancelJobResponse>? {
        infinity__v1__cancel_job_response__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__CancelJobResponse>) {
        infinity__v1__cancel_job_response__init(message)
    }

    init(wire: Infinity__V1__CancelJobResponse) {
        self.init(
            state: JobState(wireValue: wire.state.rawValue))
    }

    func fill(_ wire: inout Infinity__V1__CancelJobResponse, in arena: WireArena) {
        wire.state = Infinity__V1__JobState(rawValue: state.wireValue)
    }
}

/// `infinity.v1.GetJobRequest`.
public struct GetJobRequest: RPCMessage, Hashable {
    /// `job_id` (field 1).
    public var jobID: String

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(jobID: String = "") {
        self.jobID = jobID
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension GetJobRequest: WireConvertible {
    static let protoName = "infinity.v1.GetJobRequest"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__GetJobRequest>? {
        infinity__v1__get_job_request__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__GetJobRequest>) {
        infinity__v1__get_job_request__init(message)
    }

    init(wire: Infinity__V1__GetJobRequest) {
        self.init(
            jobID: WireRead.string(wire.job_id))
    }

    func fill(_ wire: inout Infinity__V1__GetJobRequest, in arena: WireArena) {
        wire.job_id = arena.string(jobID)
    }
}

/// A job's status, as GetJob and ListJobs report it.
///
/// `infinity.v1.JobStatus`.
public struct JobStatus: RPCMessage, Hashable {
    /// `job_id` (field 1).
    public var jobID: String
    /// `label` (field 2).
    public var label: String
    /// `state` (field 3).
    public var state: JobState
    /// Completed steps of `steps`.
    public var step: Int32
    /// `steps` (field 5).
    public var steps: Int32
    /// worker_ids[c] holds clip c (empty while queued or finished).
    public var workerIDs: [String]
    /// Completed steps of the newest checkpoint (0: none yet).
    public var checkpointStep: Int32
    /// Recoveries so far.
    public var recoveries: Int32
    /// FAILED or CANCELLED: why.
    public var errorMessage: String
    /// Unix time in milliseconds.
    public var submittedUnixMs: Int64
    /// `finished_unix_ms` (field 11).
    public var finishedUnixMs: Int64
    /// `parameters` (field 12).
    public var parameters: JobParameters?

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(jobID: String = "",
                label: String = "",
                state: JobState = .unspecified,
                step: Int32 = 0,
                steps: Int32 = 0,
                workerIDs: [String] = [],
                checkpointStep: Int32 = 0,
                recoveries: Int32 = 0,
                errorMessage: String = "",
                submittedUnixMs: Int64 = 0,
                finishedUnixMs: Int64 = 0,
                parameters: JobParameters? = nil) {
        self.jobID = jobID
        self.label = label
        self.state = state
        self.step = step
        self.steps = steps
        self.workerIDs = workerIDs
        self.checkpointStep = checkpointStep
        self.recoveries = recoveries
        self.errorMessage = errorMessage
        self.submittedUnixMs = submittedUnixMs
        self.finishedUnixMs = finishedUnixMs
        self.parameters = parameters
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension JobStatus: WireConvertible {
    static let protoName = "infinity.v1.JobStatus"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__JobStatus>? {
        infinity__v1__job_status__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__JobStatus>) {
        infinity__v1__job_status__init(message)
    }

    init(wire: Infinity__V1__JobStatus) throws(RPCError) {
        self.init(
            jobID: WireRead.string(wire.job_id),
            label: WireRead.string(wire.label),
            state: JobState(wireValue: wire.state.rawValue),
            step: wire.step,
            steps: wire.steps,
            workerIDs: WireRead.strings(wire.worker_ids, count: wire.n_worker_ids),
            checkpointStep: wire.checkpoint_step,
            recoveries: wire.recoveries,
            errorMessage: WireRead.string(wire.error_message),
            submittedUnixMs: wire.submitted_unix_ms,
            finishedUnixMs: wire.finished_unix_ms,
            parameters: try WireRead.message(wire.parameters, as: JobParameters.self))
    }

    func fill(_ wire: inout Infinity__V1__JobStatus, in arena: WireArena) {
        wire.job_id = arena.string(jobID)
        wire.label = arena.string(label)
        wire.state = Infinity__V1__JobState(rawValue: state.wireValue)
        wire.step = step
        wire.steps = steps
        (wire.n_worker_ids, wire.worker_ids) = arena.strings(workerIDs)
        wire.checkpoint_step = checkpointStep
        wire.recoveries = recoveries
        wire.error_message = arena.string(errorMessage)
        wire.submitted_unix_ms = submittedUnixMs
        wire.finished_unix_ms = finishedUnixMs
        wire.parameters = arena.message(parameters)
    }
}

/// `infinity.v1.ListJobsRequest`.
public struct ListJobsRequest: RPCMessage, Hashable {
    /// Creates the message; every field defaults to its zero value (or to absent).
    public init() {}

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension ListJobsRequest: WireConvertible {
    static let protoName = "infinity.v1.ListJobsRequest"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__ListJobsRequest>? {
        infinity__v1__list_jobs_request__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__ListJobsRequest>) {
        infinity__v1__list_jobs_request__init(message)
    }

    init(wire: Infinity__V1__ListJobsRequest) {}

    func fill(_ wire: inout Infinity__V1__ListJobsRequest, in arena: WireArena) {}
}

/// `infinity.v1.ListJobsResponse`.
public struct ListJobsResponse: RPCMessage, Hashable {
    /// Queued and running jobs, then finished ones the coordinator still remembers, newest first.
    public var jobs: [JobStatus]

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(jobs: [JobStatus] = []) {
        self.jobs = jobs
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension ListJobsResponse: WireConvertible {
    static let protoName = "infinity.v1.ListJobsResponse"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__ListJobsResponse>? {
        infinity__v1__list_jobs_response__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__ListJobsResponse>) {
        infinity__v1__list_jobs_response__init(message)
    }

    init(wire: Infinity__V1__ListJobsResponse) throws(RPCError) {
        self.init(
            jobs: try WireRead.messages(wire.jobs, count: wire.n_jobs, as: JobStatus.self))
    }

    func fill(_ wire: inout Infinity__V1__ListJobsResponse, in arena: WireArena) {
        (wire.n_jobs, wire.jobs) = arena.messages(jobs)
    }
}

/// `infinity.v1.GetJobResultRequest`.
public struct GetJobResultRequest: RPCMessage, Hashable {
    /// `job_id` (field 1).
    public var jobID: String

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(jobID: String = "") {
        self.jobID = jobID
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension GetJobResultRequest: WireConvertible {
    static let protoName = "infinity.v1.GetJobResultRequest"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__GetJobResultRequest>? {
        infinity__v1__get_job_result_request__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__GetJobResultRequest>) {
        infinity__v1__get_job_result_request__init(message)
    }

    init(wire: Infinity__V1__GetJobResultRequest) {
        self.init(
            jobID: WireRead.string(wire.job_id))
    }

    func fill(_ wire: inout Infinity__V1__GetJobResultRequest, in arena: WireArena) {
        wire.job_id = arena.string(jobID)
    }
}

/// What a worker offers the cluster.
///
/// `infinity.v1.WorkerCapacity`.
public struct WorkerCapacity: RPCMessage, Hashable {
    /// Most clips it holds at once (over all jobs), >= 1.
    public var maxClips: Int32
    /// Memory available for clip states and activations, in bytes; 0: unknown.
    public var memoryBytes: UInt64
    /// "cpu" or "vulkan".
    public var backend: String
    /// CPU threads, or the device's name for a GPU backend.
    public var threads: Int32
    /// `device` (field 5).
    public var device: String

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(maxClips: Int32 = 0,
                memoryBytes: UInt64 = 0,
                backend: String = "",
                threads: Int32 = 0,
                device: String = "") {
        self.maxClips = maxClips
        self.memoryBytes = memoryBytes
        self.backend = backend
        self.threads = threads
        self.device = device
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension WorkerCapacity: WireConvertible {
    static let protoName = "infinity.v1.WorkerCapacity"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__WorkerCapacity>? {
        infinity__v1__worker_capacity__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__WorkerCapacity>) {
        infinity__v1__worker_capacity__init(message)
    }

    init(wire: Infinity__V1__WorkerCapacity) {
        self.init(
            maxClips: wire.max_clips,
            memoryBytes: wire.memory_bytes,
            backend: WireRead.string(wire.backend),
            threads: wire.threads,
            device: WireRead.string(wire.device))
    }

    func fill(_ wire: inout Infinity__V1__WorkerCapacity, in arena: WireArena) {
        wire.max_clips = maxClips
        wire.memory_bytes = memoryBytes
        wire.backend = arena.string(backend)
        wire.threads = threads
        wire.device = arena.string(device)
    }
}

/// `infinity.v1.RegisterWorkerRequest`.
public struct RegisterWorkerRequest: RPCMessage, Hashable {
    /// host:port where the worker serves the Worker service, reachable by the coordinator and by
    /// the other workers (peer context exchange).
    public var address: String
    /// Name of the model the worker loaded (its folder's name).
    public var modelName: String
    /// SHA-256 (lowercase hex) over the model's weight files: every worker of a job must hold the
    /// same weights, or clips would disagree. A hash differing from the cluster's fails the call
    /// with FAILED_PRECONDITION naming both hashes.
    public var modelHash: String
    /// `capacity` (field 4).
    public var capacity: WorkerCapacity?
    /// `infinity --version` of the worker: checkpoints (scheduler state) move between workers only
    /// within one version; a different version fails with FAILED_PRECONDITION.
    public var version: String
    /// Non-empty when re-registering after a lost heartbeat: the id the worker had.
    public var previousWorkerID: String

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(address: String = "",
                modelName: String = "",
                modelHash: String = "",
                capacity: WorkerCapacity? = nil,
                version: String = "",
                previousWorkerID: String = "") {
        self.address = address
        self.modelName = modelName
        self.modelHash = modelHash
        self.capacity = capacity
        self.version = version
        self.previousWorkerID = previousWorkerID
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension RegisterWorkerRequest: WireConvertible {
    static let protoName = "infinity.v1.RegisterWorkerRequest"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__RegisterWorkerRequest>? {
        infinity__v1__register_worker_request__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__RegisterWorkerRequest>) {
        infinity__v1__register_worker_request__init(message)
    }

    init(wire: Infinity__V1__RegisterWorkerRequest) throws(RPCError) {
        self.init(
            address: WireRead.string(wire.address),
            modelName: WireRead.string(wire.model_name),
            modelHash: WireRead.string(wire.model_hash),
            capacity: try WireRead.message(wire.capacity, as: WorkerCapacity.self),
            version: WireRead.string(wire.version),
            previousWorkerID: WireRead.string(wire.previous_worker_id))
    }

    func fill(_ wire: inout Infinity__V1__RegisterWorkerRequest, in arena: WireArena) {
        wire.address = arena.string(address)
        wire.model_name = arena.string(modelName)
        wire.model_hash = arena.string(modelHash)
        wire.capacity = arena.message(capacity)
        wire.version = arena.string(version)
        wire.previous_worker_id = arena.string(previousWorkerID)
    }
}

/// `infinity.v1.RegisterWorkerResponse`.
public struct RegisterWorkerResponse: RPCMessage, Hashable {
    /// Names the worker in Heartbeat and everywhere else.
    public var workerID: String
    /// Send a Heartbeat this often. The coordinator declares the worker failed after
    /// `heartbeat_timeout_ms` without one.
    public var heartbeatIntervalMs: Int32
    /// `heartbeat_timeout_ms` (field 3).
    public var heartbeatTimeoutMs: Int32

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(workerID: String = "", heartbeatIntervalMs: Int32 = 0, heartbeatTimeoutMs: Int32 = 0) {
        self.workerID = workerID
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.heartbeatTimeoutMs = heartbeatTimeoutMs
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension RegisterWorkerResponse: WireConvertible {
    static let protoName = "infinity.v1.RegisterWorkerResponse"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__RegisterWorkerResponse>? {
        infinity__v1__register_worker_response__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__RegisterWorkerResponse>) {
        infinity__v1__register_worker_response__init(message)
    }

    init(wire: Infinity__V1__RegisterWorkerResponse) {
        self.init(
            workerID: WireRead.string(wire.worker_id),
            heartbeatIntervalMs: wire.heartbeat_interval_ms,
            heartbeatTimeoutMs: wire.heartbeat_timeout_ms)
    }

    func fill(_ wire: inout Infinity__V1__RegisterWorkerResponse, in arena: WireArena) {
        wire.worker_id = arena.string(workerID)
        wire.heartbeat_interval_ms = heartbeatIntervalMs
        wire.heartbeat_timeout_ms = heartbeatTimeoutMs
    }
}

/// `infinity.v1.HeartbeatRequest`.
public struct HeartbeatRequest: RPCMessage, Hashable {
    /// `worker_id` (field 1).
    public var workerID: String
    /// Clips currently held, over all jobs.
    public var activeClips: Int32
    /// Jobs the worker holds state for; the coordinator answers with those it has dropped.
    public var jobIDs: [String]

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(workerID: String = "", activeClips: Int32 = 0, jobIDs: [String] = []) {
        self.workerID = workerID
        self.activeClips = activeClips
        self.jobIDs = jobIDs
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension HeartbeatRequest: WireConvertible {
    static let protoName = "infinity.v1.HeartbeatRequest"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__HeartbeatRequest>? {
        infinity__v1__heartbeat_request__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__HeartbeatRequest>) {
        infinity__v1__heartbeat_request__init(message)
    }

    init(wire: Infinity__V1__HeartbeatRequest) {
        self.init(
            workerID: WireRead.string(wire.worker_id),
            activeClips: wire.active_clips,
            jobIDs: WireRead.strings(wire.job_ids, count: wire.n_job_ids))
    }

    func fill(_ wire: inout Infinity__V1__HeartbeatRequest, in arena: WireArena) {
        wire.worker_id = arena.string(workerID)
        wire.active_clips = activeClips
        (wire.n_job_ids, wire.job_ids) = arena.strings(jobIDs)
    }
}

/// A Heartbeat from a worker the coordinator does not know (it restarted, or declared the worker
/// failed) fails with NOT_FOUND: the worker then registers again.
///
/// `infinity.v1.HeartbeatResponse`.
public struct HeartbeatResponse: RPCMessage, Hashable {
    /// Jobs in the request that the coordinator no longer runs on this worker: drop their state.
    public var dropJobIDs: [String]

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(dropJobIDs: [String] = []) {
        self.dropJobIDs = dropJobIDs
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension HeartbeatResponse: WireConvertible {
    static let protoName = "infinity.v1.HeartbeatResponse"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__HeartbeatResponse>? {
        infinity__v1__heartbeat_response__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__HeartbeatResponse>) {
        infinity__v1__heartbeat_response__init(message)
    }

    init(wire: Infinity__V1__HeartbeatResponse) {
        self.init(
            dropJobIDs: WireRead.strings(wire.drop_job_ids, count: wire.n_drop_job_ids))
    }

    func fill(_ wire: inout Infinity__V1__HeartbeatResponse, in arena: WireArena) {
        (wire.n_drop_job_ids, wire.drop_job_ids) = arena.strings(dropJobIDs)
    }
}

/// `infinity.v1.WorkerInfo`.
public struct WorkerInfo: RPCMessage, Hashable {
    /// `worker_id` (field 1).
    public var workerID: String
    /// `address` (field 2).
    public var address: String
    /// `model_name` (field 3).
    public var modelName: String
    /// `model_hash` (field 4).
    public var modelHash: String
    /// `capacity` (field 5).
    public var capacity: WorkerCapacity?
    /// `state` (field 6).
    public var state: WorkerState
    /// `active_clips` (field 7).
    public var activeClips: Int32
    /// `last_heartbeat_unix_ms` (field 8).
    public var lastHeartbeatUnixMs: Int64
    /// `version` (field 9).
    public var version: String

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(workerID: String = "",
                address: String = "",
                modelName: String = "",
                modelHash: String = "",
                capacity: WorkerCapacity? = nil,
                state: WorkerState = .unspecified,
                activeClips: Int32 = 0,
                lastHeartbeatUnixMs: Int64 = 0,
                version: String = "") {
        self.workerID = workerID
        self.address = address
        self.modelName = modelName
        self.modelHash = modelHash
        self.capacity = capacity
        self.state = state
        self.activeClips = activeClips
        self.lastHeartbeatUnixMs = lastHeartbeatUnixMs
        self.version = version
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension WorkerInfo: WireConvertible {
    static let protoName = "infinity.v1.WorkerInfo"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__WorkerInfo>? {
        infinity__v1__worker_info__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__WorkerInfo>) {
        infinity__v1__worker_info__init(message)
    }

    init(wire: Infinity__V1__WorkerInfo) throws(RPCError) {
        self.init(
            workerID: WireRead.string(wire.worker_id),
            address: WireRead.string(wire.address),
            modelName: WireRead.string(wire.model_name),
            modelHash: WireRead.string(wire.model_hash),
            capacity: try WireRead.message(wire.capacity, as: WorkerCapacity.self),
            state: WorkerState(wireValue: wire.state.rawValue),
            activeClips: wire.active_clips,
            lastHeartbeatUnixMs: wire.last_heartbeat_unix_ms,
            version: WireRead.string(wire.version))
    }

    func fill(_ wire: inout Infinity__V1__WorkerInfo, in arena: WireArena) {
        wire.worker_id = arena.string(workerID)
        wire.address = arena.string(address)
        wire.model_name = arena.string(modelName)
        wire.model_hash = arena.string(modelHash)
        wire.capacity = arena.message(capacity)
        wire.state = Infinity__V1__WorkerState(rawValue: state.wireValue)
        wire.active_clips = activeClips
        wire.last_heartbeat_unix_ms = lastHeartbeatUnixMs
        wire.version = arena.string(version)
    }
}

/// `infinity.v1.ListWorkersRequest`.
public struct ListWorkersRequest: RPCMessage, Hashable {
    /// Creates the message; every field defaults to its zero value (or to absent).
    public init() {}

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension ListWorkersRequest: WireConvertible {
    static let protoName = "infinity.v1.ListWorkersRequest"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__ListWorkersRequest>? {
        infinity__v1__list_workers_request__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__ListWorkersRequest>) {
        infinity__v1__list_workers_request__init(message)
    }

    init(wire: Infinity__V1__ListWorkersRequest) {}

    func fill(_ wire: inout Infinity__V1__ListWorkersRequest, in arena: WireArena) {}
}

/// `infinity.v1.ListWorkersResponse`.
public struct ListWorkersResponse: RPCMessage, Hashable {
    /// Registered workers, in registration order.
    public var workers: [WorkerInfo]

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(workers: [WorkerInfo] = []) {
        self.workers = workers
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension ListWorkersResponse: WireConvertible {
    static let protoName = "infinity.v1.ListWorkersResponse"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__ListWorkersResponse>? {
        infinity__v1__list_workers_response__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__ListWorkersResponse>) {
        infinity__v1__list_workers_response__init(message)
    }

    init(wire: Infinity__V1__ListWorkersResponse) throws(RPCError) {
        self.init(
            workers: try WireRead.messages(wire.workers, count: wire.n_workers, as: WorkerInfo.self))
    }

    func fill(_ wire: inout Infinity__V1__ListWorkersResponse, in arena: WireArena) {
        (wire.n_workers, wire.workers) = arena.messages(workers)
    }
}
