import Tensor

/// A tensor's elements on the host, as clips exchange them: transport-neutral (any backend can
/// upload it; an RPC transport serialises it).
public struct HostTensor: Sendable, Equatable {
    /// Extent of each axis.
    public var shape: [Int]
    /// Row-major elements.
    public var values: [Float]

    /// Wraps `values` of `shape`.
    public init(shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values do not fill shape \(shape)")
        self.shape = shape
        self.values = values
    }

    /// Downloads `tensor` from `backend`.
    public init(_ tensor: Tensor, on backend: any Backend) throws {
        self.init(shape: tensor.shape, values: try backend.download(tensor))
    }

    /// Bytes the elements take on the wire (float32).
    public var byteCount: Int { values.count * MemoryLayout<Float>.size }

    /// Uploads to `backend`.
    public func tensor(on backend: any Backend) throws -> Tensor {
        try backend.upload(values, shape: shape)
    }
}

/// Names one collective operation of one forward: all clips performing the same operation use
/// the same key.
public struct ExchangeKey: Hashable, Sendable, CustomStringConvertible {
    /// The module kind the operation serves.
    public enum Kind: String, Sendable, Hashable {
        case attention, convolution, groupNorm
    }

    /// The forward (denoising step) the operation belongs to.
    public var forward: Int
    /// The module kind.
    public var kind: Kind
    /// The module's site within the forward (see `TemporalContext`).
    public var site: Int

    /// Creates a key.
    public init(forward: Int, kind: Kind, site: Int) {
        self.forward = forward
        self.kind = kind
        self.site = site
    }

    public var description: String { "forward \(forward) \(kind.rawValue) site \(site)" }
}

/// How the clips of one video exchange context during lock-step forwards.
///
/// Three collectives serve the temporal modules: a neighbour exchange (boundary frames), an
/// all-gather (global attention frames) and an all-reduce (group-norm statistics). Every clip
/// of the plan takes part in every all-gather and all-reduce; neighbour exchanges involve
/// adjacent clips only. Implementations must not hang: when a clip fails, ``abort(_:)`` makes
/// every pending and later operation throw, and a cancelled task's operation throws
/// `CancellationError`.
public protocol ContextExchange: Sendable {
    /// Number of clips taking part.
    var clipCount: Int { get }

    /// Sends `head` (clip `clip`'s first frames, for the previous clip) and `tail` (its last
    /// frames, for the next clip); returns the previous clip's tail and the next clip's head,
    /// nil at the video's ends.
    func exchangeNeighbours(_ key: ExchangeKey, clip: Int, head: HostTensor, tail: HostTensor)
        async throws -> (previousTail: HostTensor?, nextHead: HostTensor?)

    /// Contributes `part` and returns every clip's part, in clip order.
    func allGather(_ key: ExchangeKey, clip: Int, part: HostTensor) async throws -> [HostTensor]

    /// Contributes `values` and returns their elementwise sum over all clips, added in clip
    /// order (so every clip gets bit-identical sums).
    func allReduce(_ key: ExchangeKey, clip: Int, values: [Double]) async throws -> [Double]

    /// Fails every pending and later operation with `error`: a clip has failed, so its peers
    /// must stop waiting for it.
    func abort(_ error: any Error) async
}
