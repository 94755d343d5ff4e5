// Protos/infinity/v1/worker.proto as Swift values: the Worker service's messages.
// The protobuf-c structs appear only in the internal `WireConvertible` conformances.
import RPC
internal import Wire

/// The temporal module kind an exchange serves (Parallel.ExchangeKey.Kind).
///
/// `infinity.v1.ExchangeKind`; a value this build does not know decodes as `unspecified`.
public enum ExchangeKind: Int32, Sendable, Equatable {
    /// `EXCHANGE_KIND_UNSPECIFIED`.
    case unspecified = 0
    /// `EXCHANGE_KIND_ATTENTION`.
    case attention = 1
    /// `EXCHANGE_KIND_CONVOLUTION`.
    case convolution = 2
    /// `EXCHANGE_KIND_GROUP_NORM`.
    case groupNorm = 3
}

extension ExchangeKind: WireEnum {}

/// What a contribution is, and so which collective and which receiving clips it serves.
///
/// `infinity.v1.ContextPart`; a value this build does not know decodes as `unspecified`.
public enum ContextPart: Int32, Sendable, Equatable {
    /// `CONTEXT_PART_UNSPECIFIED`.
    case unspecified = 0
    /// Neighbour exchange: the sender's first frames, for clip from_clip - 1 (its "next head").
    case head = 1
    /// Neighbour exchange: the sender's last frames, for clip from_clip + 1 (its "previous tail").
    case tail = 2
    /// All-gather: the sender's part, for every clip.
    case gather = 3
    /// All-reduce: the sender's values, for every clip; each receiver adds all clips' values in
    /// clip order, so every clip gets bit-identical sums without a second round.
    case reduce = 4
}

extension ContextPart: WireEnum {}

/// Where one clip of a job runs, so peers know where to push its context.
///
/// `infinity.v1.ClipRoute`.
public struct ClipRoute: RPCMessage, Hashable {
    /// `clip` (field 1).
    public var clip: Int32
    /// `worker_id` (field 2).
    public var workerID: String
    /// host:port of the worker's Worker service.
    public var address: String

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(clip: Int32 = 0, workerID: String = "", address: String = "") {
        self.clip = clip
        self.workerID = workerID
        self.address = address
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension ClipRoute: WireConvertible {
    static let protoName = "infinity.v1.ClipRoute"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__ClipRoute>? {
        infinity__v1__clip_route__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__ClipRoute>) {
        infinity__v1__clip_route__init(message)
    }

    init(wire: Infinity__V1__ClipRoute) {
        self.init(
            clip: wire.clip,
            workerID: WireRead.string(wire.worker_id),
            address: WireRead.string(wire.address))
    }

    func fill(_ wire: inout Infinity__V1__ClipRoute, in arena: WireArena) {
        wire.clip = clip
        wire.worker_id = arena.string(workerID)
        wire.address = arena.string(address)
    }
}

/// `infinity.v1.AssignClipsRequest`.
public struct AssignClipsRequest: RPCMessage, Hashable {
    /// `job_id` (field 1).
    public var jobID: String
    /// The placement's epoch: 1 for a job's first placement, +1 after every recovery. A worker keeps
    /// only the newest epoch of a job: context, steps and checkpoints of older epochs are refused
    /// (ABORTED), so a message delayed across a recovery can never mix into the resumed run.
    public var epoch: UInt64
    /// `parameters` (field 3).
    public var parameters: JobParameters?
    /// Frames of every clip of the job, in clip order (the whole plan, not just this worker's
    /// clips: neighbours and global-frame sampling depend on it).
    public var clipFrames: [Int32]
    /// The clips this worker runs.
    public var clips: [Int32]
    /// Where every clip of the job runs (this worker's included).
    public var routes: [ClipRoute]
    /// false: initialise each clip from its seed's noise (a new job).
    /// true: the clips' states arrive by PutCheckpoint before the next Step (recovery); a Step
    /// before then fails with FAILED_PRECONDITION.
    public var restore: Bool

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(jobID: String = "",
                epoch: UInt64 = 0,
                parameters: JobParameters? = nil,
                clipFrames: [Int32] = [],
                clips: [Int32] = [],
                routes: [ClipRoute] = [],
                restore: Bool = false) {
        self.jobID = jobID
        self.epoch = epoch
        self.parameters = parameters
        self.clipFrames = clipFrames
        self.clips = clips
        self.routes = routes
        self.restore = restore
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension AssignClipsRequest: WireConvertible {
    static let protoName = "infinity.v1.AssignClipsRequest"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__AssignClipsRequest>? {
        infinity__v1__assign_clips_request__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__AssignClipsRequest>) {
        infinity__v1__assign_clips_request__init(message)
    }

    init(wire: Infinity__V1__AssignClipsRequest) throws(RPCError) {
        self.init(
            jobID: WireRead.string(wire.job_id),
            epoch: wire.epoch,
            parameters: try WireRead.message(wire.parameters, as: JobParameters.self),
            clipFrames: WireRead.array(wire.clip_frames, count: wire.n_clip_frames),
            clips: WireRead.array(wire.clips, count: wire.n_clips),
            routes: try WireRead.messages(wire.routes, count: wire.n_routes, as: ClipRoute.self),
            restore: wire.restore != 0)
    }

    func fill(_ wire: inout Infinity__V1__AssignClipsRequest, in arena: WireArena) {
        wire.job_id = arena.string(jobID)
        wire.epoch = epoch
        wire.parameters = arena.message(parameters)
        (wire.n_clip_frames, wire.clip_frames) = arena.array(clipFrames)
        (wire.n_clips, wire.clips) = arena.array(clips)
        (wire.n_routes, wire.routes) = arena.messages(routes)
        wire.restore = restore ? 1 : 0
    }
}

/// `infinity.v1.AssignClipsResponse`.
public struct AssignClipsResponse: RPCMessage, Hashable {
    /// The scheduler's timesteps, in order: the coordinator checks that every worker agrees.
    public var timesteps: [Int32]

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(timesteps: [Int32] = []) {
        self.timesteps = timesteps
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension AssignClipsResponse: WireConvertible {
    static let protoName = "infinity.v1.AssignClipsResponse"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__AssignClipsResponse>? {
        infinity__v1__assign_clips_response__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__AssignClipsResponse>) {
        infinity__v1__assign_clips_response__init(message)
    }

    init(wire: Infinity__V1__AssignClipsResponse) {
        self.init(
            timesteps: WireRead.array(wire.timesteps, count: wire.n_timesteps))
    }

    func fill(_ wire: inout Infinity__V1__AssignClipsResponse, in arena: WireArena) {
        (wire.n_timesteps, wire.timesteps) = arena.array(timesteps)
    }
}

/// Runs one denoising step for some of the worker's clips. The coordinator sends one Step per
/// worker and waits for all of them before the next step (lock-step): every clip of the job runs
/// the same step at once, which is what the collectives of the context exchange need.
///
/// `infinity.v1.StepRequest`.
public struct StepRequest: RPCMessage, Hashable {
    /// `job_id` (field 1).
    public var jobID: String
    /// `epoch` (field 2).
    public var epoch: UInt64
    /// 0-based index into the scheduler's timesteps: the clips must have completed exactly `step`
    /// steps (else FAILED_PRECONDITION naming both numbers).
    public var step: Int32
    /// timesteps[step], checked by the worker (INVALID_ARGUMENT on a mismatch).
    public var timestep: Int32
    /// Clips to step; all of the worker's clips of the job if empty.
    public var clips: [Int32]

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(jobID: String = "", epoch: UInt64 = 0, step: Int32 = 0, timestep: Int32 = 0, clips: [Int32] = []) {
        self.jobID = jobID
        self.epoch = epoch
        self.step = step
        self.timestep = timestep
        self.clips = clips
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension StepRequest: WireConvertible {
    static let protoName = "infinity.v1.StepRequest"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__StepRequest>? {
        infinity__v1__step_request__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__StepRequest>) {
        infinity__v1__step_request__init(message)
    }

    init(wire: Infinity__V1__StepRequest) {
        self.init(
            jobID: WireRead.string(wire.job_id),
            epoch: wire.epoch,
            step: wire.step,
            timestep: wire.timestep,
            clips: WireRead.array(wire.clips, count: wire.n_clips))
    }

    func fill(_ wire: inout Infinity__V1__StepRequest, in arena: WireArena) {
        wire.job_id = arena.string(jobID)
        wire.epoch = epoch
        wire.step = step
        wire.timestep = timestep
        (wire.n_clips, wire.clips) = arena.array(clips)
    }
}

/// `infinity.v1.StepResponse`.
public struct StepResponse: RPCMessage, Hashable {
    /// Clips that completed the step.
    public var clips: [Int32]
    /// Wall time of the step on this worker (microseconds).
    public var stepMicros: Int64
    /// The part of it its clips spent inside context exchange operations, on average per clip,
    /// including waits for slower peers.
    public var exchangeMicros: Int64
    /// Of `exchangeMicros`, the part spent sending (serialising and pushing to peers).
    public var pushMicros: Int64

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(clips: [Int32] = [], stepMicros: Int64 = 0, exchangeMicros: Int64 = 0, pushMicros: Int64 = 0) {
        self.clips = clips
        self.stepMicros = stepMicros
        self.exchangeMicros = exchangeMicros
        self.pushMicros = pushMicros
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension StepResponse: WireConvertible {
    static let protoName = "infinity.v1.StepResponse"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__StepResponse>? {
        infinity__v1__step_response__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__StepResponse>) {
        infinity__v1__step_response__init(message)
    }

    init(wire: Infinity__V1__StepResponse) {
        self.init(
            clips: WireRead.array(wire.clips, count: wire.n_clips),
            stepMicros: wire.step_micros,
            exchangeMicros: wire.exchange_micros,
            pushMicros: wire.push_micros)
    }

    func fill(_ wire: inout Infinity__V1__StepResponse, in arena: WireArena) {
        (wire.n_clips, wire.clips) = arena.array(clips)
        wire.step_micros = stepMicros
        wire.exchange_micros = exchangeMicros
        wire.push_micros = pushMicros
    }
}

/// `infinity.v1.AbortJobRequest`.
public struct AbortJobRequest: RPCMessage, Hashable {
    /// `job_id` (field 1).
    public var jobID: String
    /// Aborts this epoch (and older); a newer epoch the worker already holds is left alone.
    public var epoch: UInt64
    /// Shown in the errors of the aborted operations.
    public var reason: String

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(jobID: String = "", epoch: UInt64 = 0, reason: String = "") {
        self.jobID = jobID
        self.epoch = epoch
        self.reason = reason
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension AbortJobRequest: WireConvertible {
    static let protoName = "infinity.v1.AbortJobRequest"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__AbortJobRequest>? {
        infinity__v1__abort_job_request__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__AbortJobRequest>) {
        infinity__v1__abort_job_request__init(message)
    }

    init(wire: Infinity__V1__AbortJobRequest) {
        self.init(
            jobID: WireRead.string(wire.job_id),
            epoch: wire.epoch,
            reason: WireRead.string(wire.reason))
    }

    func fill(_ wire: inout Infinity__V1__AbortJobRequest, in arena: WireArena) {
        wire.job_id = arena.string(jobID)
        wire.epoch = epoch
        wire.reason = arena.string(reason)
    }
}

/// `infinity.v1.AbortJobResponse`.
public struct AbortJobResponse: RPCMessage, Hashable {
    /// Creates the message; every field defaults to its zero value (or to absent).
    public init() {}

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension AbortJobResponse: WireConvertible {
    static let protoName = "infinity.v1.AbortJobResponse"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__AbortJobResponse>? {
        infinity__v1__abort_job_response__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__AbortJobResponse>) {
        infinity__v1__abort_job_response__init(message)
    }

    init(wire: Infinity__V1__AbortJobResponse) {}

    func fill(_ wire: inout Infinity__V1__AbortJobResponse, in arena: WireArena) {}
}

/// `infinity.v1.DropJobRequest`.
public struct DropJobRequest: RPCMessage, Hashable {
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

extension DropJobRequest: WireConvertible {
    static let protoName = "infinity.v1.DropJobRequest"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__DropJobRequest>? {
        infinity__v1__drop_job_request__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__DropJobRequest>) {
        infinity__v1__drop_job_request__init(message)
    }

    init(wire: Infinity__V1__DropJobRequest) {
        self.init(
            jobID: WireRead.string(wire.job_id))
    }

    func fill(_ wire: inout Infinity__V1__DropJobRequest, in arena: WireArena) {
        wire.job_id = arena.string(jobID)
    }
}

/// `infinity.v1.DropJobResponse`.
public struct DropJobResponse: RPCMessage, Hashable {
    /// Bytes of clip state released.
    public var releasedBytes: UInt64

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(releasedBytes: UInt64 = 0) {
        self.releasedBytes = releasedBytes
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension DropJobResponse: WireConvertible {
    static let protoName = "infinity.v1.DropJobResponse"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__DropJobResponse>? {
        infinity__v1__drop_job_response__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__DropJobResponse>) {
        infinity__v1__drop_job_response__init(message)
    }

    init(wire: Infinity__V1__DropJobResponse) {
        self.init(
            releasedBytes: wire.released_bytes)
    }

    func fill(_ wire: inout Infinity__V1__DropJobResponse, in arena: WireArena) {
        wire.released_bytes = releasedBytes
    }
}

/// `infinity.v1.GetCheckpointRequest`.
public struct GetCheckpointRequest: RPCMessage, Hashable {
    /// `job_id` (field 1).
    public var jobID: String
    /// `epoch` (field 2).
    public var epoch: UInt64
    /// `clip` (field 3).
    public var clip: Int32

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(jobID: String = "", epoch: UInt64 = 0, clip: Int32 = 0) {
        self.jobID = jobID
        self.epoch = epoch
        self.clip = clip
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension GetCheckpointRequest: WireConvertible {
    static let protoName = "infinity.v1.GetCheckpointRequest"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__GetCheckpointRequest>? {
        infinity__v1__get_checkpoint_request__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__GetCheckpointRequest>) {
        infinity__v1__get_checkpoint_request__init(message)
    }

    init(wire: Infinity__V1__GetCheckpointRequest) {
        self.init(
            jobID: WireRead.string(wire.job_id),
            epoch: wire.epoch,
            clip: wire.clip)
    }

    func fill(_ wire: inout Infinity__V1__GetCheckpointRequest, in arena: WireArena) {
        wire.job_id = arena.string(jobID)
        wire.epoch = epoch
        wire.clip = clip
    }
}

/// Describes a clip's state; the first message of a checkpoint stream.
///
/// `infinity.v1.CheckpointHeader`.
public struct CheckpointHeader: RPCMessage, Hashable {
    /// `job_id` (field 1).
    public var jobID: String
    /// `epoch` (field 2).
    public var epoch: UInt64
    /// `clip` (field 3).
    public var clip: Int32
    /// Steps the clip has completed.
    public var completedSteps: Int32
    /// Shape and type of the latents that follow as data chunks ([1, C, F_clip, H, W] float32).
    public var dtype: DType
    /// `shape` (field 6).
    public var shape: [Int64]
    /// `total_bytes` (field 7).
    public var totalBytes: UInt64
    /// CRC-32 (zlib's polynomial) of the latents' bytes.
    public var crc32: UInt32
    /// The scheduler's state (multistep solvers keep earlier model outputs) and the noise
    /// generator's state, serialised by the worker's Model layer. Opaque to the coordinator, which
    /// only stores them; valid between workers of the same version (RegisterWorkerRequest.version).
    public var schedulerState: [UInt8]
    /// `generator_state` (field 10).
    public var generatorState: [UInt8]

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(jobID: String = "",
                epoch: UInt64 = 0,
                clip: Int32 = 0,
                completedSteps: Int32 = 0,
                dtype: DType = .unspecified,
                shape: [Int64] = [],
                totalBytes: UInt64 = 0,
                crc32: UInt32 = 0,
                schedulerState: [UInt8] = [],
                generatorState: [UInt8] = []) {
        self.jobID = jobID
        self.epoch = epoch
        self.clip = clip
        self.completedSteps = completedSteps
        self.dtype = dtype
        self.shape = shape
        self.totalBytes = totalBytes
        self.crc32 = crc32
        self.schedulerState = schedulerState
        self.generatorState = generatorState
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension CheckpointHeader: WireConvertible {
    static let protoName = "infinity.v1.CheckpointHeader"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__CheckpointHeader>? {
        infinity__v1__checkpoint_header__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__CheckpointHeader>) {
        infinity__v1__checkpoint_header__init(message)
    }

    init(wire: Infinity__V1__CheckpointHeader) {
        self.init(
            jobID: WireRead.string(wire.job_id),
            epoch: wire.epoch,
            clip: wire.clip,
            completedSteps: wire.completed_steps,
            dtype: DType(wireValue: wire.dtype.rawValue),
            shape: WireRead.array(wire.shape, count: wire.n_shape),
            totalBytes: wire.total_bytes,
            crc32: wire.crc32,
            schedulerState: WireRead.bytes(wire.scheduler_state),
            generatorState: WireRead.bytes(wire.generator_state))
    }

    func fill(_ wire: inout Infinity__V1__CheckpointHeader, in arena: WireArena) {
        wire.job_id = arena.string(jobID)
        wire.epoch = epoch
        wire.clip = clip
        wire.completed_steps = completedSteps
        wire.dtype = Infinity__V1__DType(rawValue: dtype.wireValue)
        (wire.n_shape, wire.shape) = arena.array(shape)
        wire.total_bytes = totalBytes
        wire.crc32 = crc32
        wire.scheduler_state = arena.bytes(schedulerState)
        wire.generator_state = arena.bytes(generatorState)
    }
}

/// One message of a checkpoint stream: the header first, then the latents' bytes in order
/// (chunks of at most 1 MiB).
///
/// `infinity.v1.CheckpointChunk`: exactly one `part` is set.
public enum CheckpointChunk: RPCMessage, Hashable {
    /// `header` (field 1).
    case header(CheckpointHeader)
    /// `data` (field 2).
    case data([UInt8])

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension CheckpointChunk: WireConvertible {
    static let protoName = "infinity.v1.CheckpointChunk"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__CheckpointChunk>? {
        infinity__v1__checkpoint_chunk__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__CheckpointChunk>) {
        infinity__v1__checkpoint_chunk__init(message)
    }

    init(wire: Infinity__V1__CheckpointChunk) throws(RPCError) {
        switch wire.part_case {
        case INFINITY__V1__CHECKPOINT_CHUNK__PART_HEADER:
            self = .header(try WireRead.required(wire.header, as: CheckpointHeader.self))
        case INFINITY__V1__CHECKPOINT_CHUNK__PART_DATA:
            self = .data(WireRead.bytes(wire.data))
        default:
            throw RPCError(code: .invalidArgument, message: "infinity.v1.CheckpointChunk has no part set")
        }
    }

    func fill(_ wire: inout Infinity__V1__CheckpointChunk, in arena: WireArena) {
        switch self {
        case .header(let value):
            wire.part_case = INFINITY__V1__CHECKPOINT_CHUNK__PART_HEADER
            wire.header = arena.message(value)
        case .data(let value):
            wire.part_case = INFINITY__V1__CHECKPOINT_CHUNK__PART_DATA
            wire.data = arena.bytes(value)
        }
    }
}

/// `infinity.v1.PutCheckpointResponse`.
public struct PutCheckpointResponse: RPCMessage, Hashable {
    /// `clip` (field 1).
    public var clip: Int32
    /// `completed_steps` (field 2).
    public var completedSteps: Int32
    /// Latent bytes received (equal to the header's total_bytes, or the call failed).
    public var receivedBytes: UInt64

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(clip: Int32 = 0, completedSteps: Int32 = 0, receivedBytes: UInt64 = 0) {
        self.clip = clip
        self.completedSteps = completedSteps
        self.receivedBytes = receivedBytes
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension PutCheckpointResponse: WireConvertible {
    static let protoName = "infinity.v1.PutCheckpointResponse"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__PutCheckpointResponse>? {
        infinity__v1__put_checkpoint_response__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__PutCheckpointResponse>) {
        infinity__v1__put_checkpoint_response__init(message)
    }

    init(wire: Infinity__V1__PutCheckpointResponse) {
        self.init(
            clip: wire.clip,
            completedSteps: wire.completed_steps,
            receivedBytes: wire.received_bytes)
    }

    func fill(_ wire: inout Infinity__V1__PutCheckpointResponse, in arena: WireArena) {
        wire.clip = clip
        wire.completed_steps = completedSteps
        wire.received_bytes = receivedBytes
    }
}

/// Names one collective operation: every clip taking part in it uses the same key
/// (Parallel.ExchangeKey plus the job and its epoch).
///
/// `infinity.v1.ContextKey`.
public struct ContextKey: RPCMessage, Hashable {
    /// `job_id` (field 1).
    public var jobID: String
    /// `epoch` (field 2).
    public var epoch: UInt64
    /// The forward (denoising step) the operation belongs to.
    public var forward: Int64
    /// `kind` (field 4).
    public var kind: ExchangeKind
    /// The module's site within the forward.
    public var site: Int32

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(jobID: String = "",
                epoch: UInt64 = 0,
                forward: Int64 = 0,
                kind: ExchangeKind = .unspecified,
                site: Int32 = 0) {
        self.jobID = jobID
        self.epoch = epoch
        self.forward = forward
        self.kind = kind
        self.site = site
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension ContextKey: WireConvertible {
    static let protoName = "infinity.v1.ContextKey"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__ContextKey>? {
        infinity__v1__context_key__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__ContextKey>) {
        infinity__v1__context_key__init(message)
    }

    init(wire: Infinity__V1__ContextKey) {
        self.init(
            jobID: WireRead.string(wire.job_id),
            epoch: wire.epoch,
            forward: wire.forward,
            kind: ExchangeKind(wireValue: wire.kind.rawValue),
            site: wire.site)
    }

    func fill(_ wire: inout Infinity__V1__ContextKey, in arena: WireArena) {
        wire.job_id = arena.string(jobID)
        wire.epoch = epoch
        wire.forward = forward
        wire.kind = Infinity__V1__ExchangeKind(rawValue: kind.wireValue)
        wire.site = site
    }
}

/// One clip's contribution to one collective.
///
/// `infinity.v1.ContextContribution`.
public struct ContextContribution: RPCMessage, Hashable {
    /// `key` (field 1).
    public var key: ContextKey?
    /// The contributing clip.
    public var fromClip: Int32
    /// `part` (field 3).
    public var part: ContextPart
    /// HEAD, TAIL, GATHER: the frames (a HostTensor: float32, row-major).
    public var tensor: WireTensor?
    /// REDUCE: the values to sum.
    public var values: [Double]

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(key: ContextKey? = nil,
                fromClip: Int32 = 0,
                part: ContextPart = .unspecified,
                tensor: WireTensor? = nil,
                values: [Double] = []) {
        self.key = key
        self.fromClip = fromClip
        self.part = part
        self.tensor = tensor
        self.values = values
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension ContextContribution: WireConvertible {
    static let protoName = "infinity.v1.ContextContribution"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__ContextContribution>? {
        infinity__v1__context_contribution__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__ContextContribution>) {
        infinity__v1__context_contribution__init(message)
    }

    init(wire: Infinity__V1__ContextContribution) throws(RPCError) {
        self.init(
            key: try WireRead.message(wire.key, as: ContextKey.self),
            fromClip: wire.from_clip,
            part: ContextPart(wireValue: wire.part.rawValue),
            tensor: try WireRead.message(wire.tensor, as: WireTensor.self),
            values: WireRead.array(wire.values, count: wire.n_values))
    }

    func fill(_ wire: inout Infinity__V1__ContextContribution, in arena: WireArena) {
        wire.key = arena.message(key)
        wire.from_clip = fromClip
        wire.part = Infinity__V1__ContextPart(rawValue: part.wireValue)
        wire.tensor = arena.message(tensor)
        (wire.n_values, wire.values) = arena.array(values)
    }
}

/// Contributions for clips held by the receiving worker. A sender sends each contribution once
/// per receiving worker, however many of that worker's clips need it.
///
/// `infinity.v1.PushContextRequest`.
public struct PushContextRequest: RPCMessage, Hashable {
    /// `contributions` (field 1).
    public var contributions: [ContextContribution]

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(contributions: [ContextContribution] = []) {
        self.contributions = contributions
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension PushContextRequest: WireConvertible {
    static let protoName = "infinity.v1.PushContextRequest"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__PushContextRequest>? {
        infinity__v1__push_context_request__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__PushContextRequest>) {
        infinity__v1__push_context_request__init(message)
    }

    init(wire: Infinity__V1__PushContextRequest) throws(RPCError) {
        self.init(
            contributions: try WireRead.messages(wire.contributions, count: wire.n_contributions, as: ContextContribution.self))
    }

    func fill(_ wire: inout Infinity__V1__PushContextRequest, in arena: WireArena) {
        (wire.n_contributions, wire.contributions) = arena.messages(contributions)
    }
}

/// `infinity.v1.PushContextResponse`.
public struct PushContextResponse: RPCMessage, Hashable {
    /// Creates the message; every field defaults to its zero value (or to absent).
    public init() {}

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension PushContextResponse: WireConvertible {
    static let protoName = "infinity.v1.PushContextResponse"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__PushContextResponse>? {
        infinity__v1__push_context_response__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__PushContextResponse>) {
        infinity__v1__push_context_response__init(message)
    }

    init(wire: Infinity__V1__PushContextResponse) {}

    func fill(_ wire: inout Infinity__V1__PushContextResponse, in arena: WireArena) {}
}
