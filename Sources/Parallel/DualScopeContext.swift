import Foundation
import Model
import Tensor

/// The ``TemporalContext`` of one clip in one forward of a clip-parallel generation:
/// Video-Infinity's dual-scope temporal attention, temporal convolutions with boundary frames
/// from the neighbouring clips, and (optionally) group-norm statistics synced over all clips.
///
/// With a single clip the forward is the plain single-device forward, unless `forced`: then
/// the dual-scope rules apply to the one clip as if it were a whole video on one device (the
/// reference the clip-parallel result is compared with).
public struct DualScopeContext: TemporalContext {
    /// The clip this context serves.
    public let clip: Int
    /// The video's clips.
    public let plan: ClipPlan
    /// The parameters.
    public let config: VideoInfinityConfig
    /// The transport to the other clips.
    public let exchange: any ContextExchange
    /// The forward's number, unique within a generation (the denoising step).
    public let forward: Int
    /// The forward's timestep: it chooses the phase bias.
    public let timestep: Int
    /// Apply the dual-scope rules even to a single clip.
    public let forced: Bool

    /// A context for clip `clip` of `plan` in forward number `forward` at `timestep`.
    public init(clip: Int, plan: ClipPlan, config: VideoInfinityConfig, exchange: any ContextExchange, forward: Int,
                timestep: Int, forced: Bool = false) {
        precondition(plan.count == exchange.clipCount, "the exchange serves \(exchange.clipCount) clips, the plan has \(plan.count)")
        self.clip = clip
        self.plan = plan
        self.config = config
        self.exchange = exchange
        self.forward = forward
        self.timestep = timestep
        self.forced = forced
    }

    /// Whether the clip-parallel rules apply.
    var active: Bool { plan.count > 1 || forced }
    var isFirst: Bool { clip == 0 }
    var isLast: Bool { clip == plan.count - 1 }

    // MARK: Temporal attention

    public func temporalAttention(_ call: TemporalAttentionCall) async throws -> Tensor {
        guard active else { return try await PlainTemporalContext().temporalAttention(call) }
        let backend = call.backend
        let x = call.input
        let (rows, frames, width) = (x.shape[0], x.shape[1], x.shape[2])
        let p = config.localFrames
        precondition(p <= frames, "local frames \(p) exceed the clip's \(frames) frames (validate the config)")
        let key = ExchangeKey(forward: forward, kind: .attention, site: call.site)

        let (previousTail, nextHead) = try await exchange.exchangeNeighbours(
            key, clip: clip,
            head: HostTensor(backend.slice(x, axis: 1, start: 0, length: p), on: backend),
            tail: HostTensor(backend.slice(x, axis: 1, start: frames - p, length: p), on: backend))
        let globalParts = try await exchange.allGather(key, clip: clip,
                                                       part: HostTensor(globalFrames(of: x, backend), on: backend))
        let global = try concatFrames(globalParts, rows: rows, width: width)
        let globalCount = global.shape[1]

        let zeros = try backend.zeros([rows, p, width])
        let left = try previousTail?.tensor(on: backend) ?? zeros
        let right = try nextHead?.tensor(on: backend) ?? zeros
        let context = try backend.concat([left, x, right] + (globalCount > 0 ? [global.tensor(on: backend)] : []),
                                         axis: 1)
        let (keys, values) = try call.keysAndValues(context)
        var scale = call.scale
        if config.tokenCountScale {
            scale *= Float(log(Double(2 * p + 1 + globalCount)) / log(16.0))
        }
        let bias = try backend.upload(attentionBias(frames: frames, globalCount: globalCount),
                                      shape: [frames, frames + 2 * p + globalCount])
        return try backend.attention(query: call.query(x), key: keys, value: values, heads: call.heads, scale: scale,
                                     bias: bias)
    }

    /// Frames of `x [R, F, D]` this clip contributes to the global context.
    func globalFrames(of x: Tensor, _ backend: any Backend) throws -> Tensor {
        let indices = globalFrameIndices()
        guard !indices.isEmpty else { return try backend.zeros([x.shape[0], 0, x.shape[2]]) }
        return try backend.concat(indices.map { try backend.slice(x, axis: 1, start: $0, length: 1) }, axis: 1)
    }

    /// This clip's local indices of its global-context frames.
    func globalFrameIndices() -> [Int] {
        let frames = plan.clipFrames[clip]
        if config.referenceGlobalSampling {
            // The reference: top_k / N frames from each clip's start, stride F / s; the first
            // top_k of the gathered frames are kept.
            let share = max(1, config.globalFrames / plan.count)
            let stride = max(frames / share, 1)
            let offered = min(share, frames)
            let before = (0 ..< clip).reduce(0) { $0 + min(share, plan.clipFrames[$1]) }
            let kept = max(0, min(offered, config.globalFrames - before))
            return (0 ..< kept).map { $0 * stride }
        }
        // Ours: G = min(top_k, F_total) frames spread evenly over the whole video; frame
        // floor((j + 1/2) * F_total / G), sent by the clip that owns it.
        let total = plan.totalFrames
        let count = min(config.globalFrames, total)
        let range = plan.frameRange(clip)
        return (0 ..< count).map { ((2 * $0 + 1) * total) / (2 * count) }
            .filter { range.contains($0) }
            .map { $0 - range.lowerBound }
    }

    /// The logit bias `[F, F + 2p + G]` of the spec: a local window of `2p + 1` frames centred
    /// on each query plus every global frame, the video ends masked (unless reference padding),
    /// and the phase bias.
    func attentionBias(frames: Int, globalCount: Int) -> [Float] {
        let p = config.localFrames
        let columns = frames + 2 * p + globalCount
        let globalPhase = timestep >= config.phaseTimestep
        var bias = [Float](repeating: -.infinity, count: frames * columns)
        for query in 0 ..< frames {
            let row = query * columns
            for column in query ... query + 2 * p {
                let padding = (isFirst && column < p) || (isLast && column >= frames + p)
                if padding && !config.referencePadding { continue }
                bias[row + column] = globalPhase ? 0 : config.localBias
            }
            for column in frames + 2 * p ..< columns {
                bias[row + column] = globalPhase ? config.globalBias : 0
            }
        }
        return bias
    }

    /// Concatenates gathered parts `[R, g_i, D]` along frames on the host.
    func concatFrames(_ parts: [HostTensor], rows: Int, width: Int) throws -> HostTensor {
        for (peer, part) in parts.enumerated() where part.shape.count != 3 || part.shape[0] != rows || part.shape[2] != width {
            throw ParallelError("clip \(peer) sent global frames of shape \(part.shape), expected [\(rows), frames, \(width)]")
        }
        let total = parts.reduce(0) { $0 + $1.shape[1] }
        var values = [Float](repeating: 0, count: rows * total * width)
        var offset = 0
        for part in parts {
            let count = part.shape[1]
            for row in 0 ..< rows {
                let source = row * count * width
                let destination = (row * total + offset) * width
                for index in 0 ..< count * width { values[destination + index] = part.values[source + index] }
            }
            offset += count
        }
        return HostTensor(shape: [rows, total, width], values: values)
    }

    // MARK: Temporal convolution

    public func temporalConvolution(_ call: TemporalConvolutionCall) async throws -> Tensor {
        guard active else { return try await call.output(padded: call.input, ownFrames: 0 ..< call.frames, context: self) }
        let backend = call.backend
        let h = call.input
        let frames = h.shape[2]
        let p = VideoInfinityConfig.convolutionContextFrames
        precondition(p <= frames, "a clip of \(frames) frames is shorter than the convolution context (validate the config)")
        let (previousTail, nextHead) = try await exchange.exchangeNeighbours(
            ExchangeKey(forward: forward, kind: .convolution, site: call.site), clip: clip,
            head: HostTensor(backend.slice(h, axis: 2, start: 0, length: p), on: backend),
            tail: HostTensor(backend.slice(h, axis: 2, start: frames - p, length: p), on: backend))
        var boundary = h.shape
        boundary[2] = p
        let endPadding = config.referencePadding ? try backend.zeros(boundary) : nil
        let left = try previousTail?.tensor(on: backend) ?? endPadding
        let right = try nextHead?.tensor(on: backend) ?? endPadding
        let padded = try backend.concat([left, h, right].compactMap { $0 }, axis: 2)
        let own = (left?.shape[2] ?? 0) ..< (left?.shape[2] ?? 0) + frames
        return try await call.output(padded: padded, ownFrames: own, context: self)
    }

    // MARK: Group norm

    public func groupNorm(_ call: GroupNormCall) async throws -> Tensor {
        guard active, config.syncGroupNorm else { return try call.normalize() }
        let local = try call.ownFrameSums()
        let total = try await exchange.allReduce(ExchangeKey(forward: forward, kind: .groupNorm, site: call.site),
                                                 clip: clip,
                                                 values: local.sum + local.sumOfSquares + [Double(local.count)])
        let groups = local.sum.count
        let sums = GroupSums(sum: Array(total[0 ..< groups]), sumOfSquares: Array(total[groups ..< 2 * groups]),
                             count: Int(total[2 * groups]))
        let (mean, variance) = sums.moments
        return try call.normalize(mean: mean, variance: variance)
    }
}
