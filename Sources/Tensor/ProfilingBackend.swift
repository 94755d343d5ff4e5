import Dispatch
import Synchronization

/// A backend that forwards every op to another backend and records the time spent in each
/// kind of op, for `infinity bench --profile`.
///
/// Times are wall-clock per call. Each op is followed by ``Backend/synchronize()``, so a backend
/// that queues work lazily (a GPU) is timed for running the op, not just recording it (at the
/// cost of one submission per op); the CPU backend runs ops synchronously anyway.
public final class ProfilingBackend: Backend {
    /// Accumulated time and call count of one op kind.
    public struct Entry: Sendable {
        /// The op's name (`conv2d`, `attention`, ...).
        public var op: String
        /// Total seconds spent in the op.
        public var seconds: Double
        /// Number of calls.
        public var calls: Int
        /// Floating-point operations of the calls by the op's textbook count (2 per multiply-add
        /// of a linear layer, a direct convolution or attention's two products); 0 for the ops
        /// that only move or normalise data.
        public var flops: Double = 0
    }

    /// The backend doing the work.
    public let base: any Backend
    /// Whether entries are kept apart by operand shapes (`linear [32768, 32] x [96, 32]`) rather
    /// than by op kind only.
    public let separatesShapes: Bool
    private let entries = Mutex<[String: Entry]>([:])

    /// Profiles `base`; with `separatingShapes`, each distinct set of operand shapes of an op kind
    /// gets its own entry.
    public init(_ base: any Backend, separatingShapes: Bool = false) {
        self.base = base
        self.separatesShapes = separatingShapes
    }

    public var name: String { base.name }

    public func synchronize() throws {
        try base.synchronize()
    }

    /// Recorded entries, the most expensive first.
    public var report: [Entry] {
        entries.withLock { Array($0.values) }.sorted { $0.seconds > $1.seconds }
    }

    /// Forgets everything recorded so far.
    public func reset() {
        entries.withLock { $0.removeAll() }
    }

    private func timed<Result>(_ kind: String, _ operands: Tensor?..., flops: Double = 0,
                               body: () throws -> Result) throws -> Result {
        let op = separatesShapes
            ? ([kind] + operands.compactMap { $0.map { "\($0.shape)" } }).joined(separator: " ")
            : kind
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            entries.withLock { table in
                table[op, default: Entry(op: op, seconds: 0, calls: 0)].seconds += seconds
                table[op, default: Entry(op: op, seconds: 0, calls: 0)].calls += 1
                table[op, default: Entry(op: op, seconds: 0, calls: 0)].flops += flops
            }
        }
        let result = try body()
        try base.synchronize()
        return result
    }

    /// `x [..., K] @ weight [N, K]^T`: 2 K N per row of `x`.
    private static func linearFlops(_ x: Tensor, _ weight: Tensor) -> Double {
        2 * Double(x.count) * Double(weight.shape.first ?? 0)
    }

    /// A direct convolution with output `outShape` (nil for operands the op will reject):
    /// one multiply-add (2 operations) per output and weight of its output channel (`weight [O, ...]`).
    private static func convolutionFlops(_ outShape: [Int]?, _ weight: Tensor) -> Double {
        2 * Double(outShape?.reduce(1, *) ?? 0) * Double(weight.shape.dropFirst().reduce(1, *))
    }

    public func upload(_ values: [Float], shape: [Int]) throws -> Tensor {
        try timed("upload") { try base.upload(values, shape: shape) }
    }

    public func uploadOperatorWeight(_ values: [Float], shape: [Int]) throws -> Tensor {
        try timed("upload") { try base.uploadOperatorWeight(values, shape: shape) }
    }

    public func download(_ tensor: Tensor) throws -> [Float] {
        try timed("download") { try base.download(tensor) }
    }

    public func zeros(_ shape: [Int]) throws -> Tensor {
        try timed("zeros") { try base.zeros(shape) }
    }

    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        try timed("linear", x, weight, flops: Self.linearFlops(x, weight)) { try base.linear(x, weight: weight, bias: bias) }
    }

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) throws -> Tensor {
        let flops = Self.convolutionFlops(try? Shape.conv2d(x.shape, weight: weight.shape, bias: bias?.shape,
                                                            stride: stride, padding: padding), weight)
        return try timed("conv2d \(weight.shape[2])x\(weight.shape[3])", x, weight, flops: flops) {
            try base.conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
        }
    }

    public func temporalConv(_ x: Tensor, weight: Tensor, bias: Tensor?, padding: Int) throws -> Tensor {
        let flops = Self.convolutionFlops(try? Shape.temporalConv(x.shape, weight: weight.shape, bias: bias?.shape,
                                                                  padding: padding), weight)
        return try timed("temporalConv", x, weight, flops: flops) {
            try base.temporalConv(x, weight: weight, bias: bias, padding: padding)
        }
    }

    public func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, scale: Float,
                          bias: Tensor?) throws -> Tensor {
        // Scores and weighted values: 2 multiply-adds per (query, key, channel).
        let flops = 4 * Double(query.count) * Double(key.shape.count > 1 ? key.shape[1] : 0)
        return try timed("attention (keys \(key.shape[1] <= 64 ? "<= 64" : "> 64"))", query, key, flops: flops) {
            try base.attention(query: query, key: key, value: value, heads: heads, scale: scale, bias: bias)
        }
    }

    public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float) throws -> Tensor {
        try timed("groupNorm", x) { try base.groupNorm(x, groups: groups, weight: weight, bias: bias, epsilon: epsilon) }
    }

    public func groupSums(_ x: Tensor, groups: Int) throws -> GroupSums {
        try timed("groupSums") { try base.groupSums(x, groups: groups) }
    }

    public func groupNorm(_ x: Tensor, groups: Int, mean: [Float], variance: [Float], weight: Tensor?, bias: Tensor?,
                          epsilon: Float) throws -> Tensor {
        try timed("groupNorm (given statistics)", x) {
            try base.groupNorm(x, groups: groups, mean: mean, variance: variance, weight: weight, bias: bias,
                               epsilon: epsilon)
        }
    }

    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, epsilon: Float) throws -> Tensor {
        try timed("layerNorm", x) { try base.layerNorm(x, weight: weight, bias: bias, epsilon: epsilon) }
    }

    public func activation(_ x: Tensor, _ activation: Activation) throws -> Tensor {
        try timed("activation \(activation.rawValue)", x) { try base.activation(x, activation) }
    }

    public func geglu(_ x: Tensor) throws -> Tensor {
        try timed("geglu", x) { try base.geglu(x) }
    }

    public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float,
                          activation: Activation) throws -> Tensor {
        try timed("groupNorm + \(activation.rawValue)", x) {
            try base.groupNorm(x, groups: groups, weight: weight, bias: bias, epsilon: epsilon, activation: activation)
        }
    }

    public func linearGEGLU(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        try timed("linear + geglu", x, weight, flops: Self.linearFlops(x, weight)) {
            try base.linearGEGLU(x, weight: weight, bias: bias)
        }
    }

    public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        try timed("add", a, b) { try base.add(a, b) }
    }

    public func scale(_ x: Tensor, by factor: Float) throws -> Tensor {
        try timed("scale", x) { try base.scale(x, by: factor) }
    }

    public func concat(_ tensors: [Tensor], axis: Int) throws -> Tensor {
        try timed("concat", tensors.first) { try base.concat(tensors, axis: axis) }
    }

    public func permute(_ x: Tensor, _ permutation: [Int]) throws -> Tensor {
        try timed("permute", x) { try base.permute(x, permutation) }
    }

    public func slice(_ x: Tensor, axis: Int, start: Int, length: Int) throws -> Tensor {
        try timed("slice", x) { try base.slice(x, axis: axis, start: start, length: length) }
    }

    public func repeatInterleave(_ x: Tensor, times: Int, axis: Int) throws -> Tensor {
        try timed("repeatInterleave", x) { try base.repeatInterleave(x, times: times, axis: axis) }
    }

    public func upsampleNearest(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
        try timed("upsampleNearest", x) { try base.upsampleNearest(x, height: height, width: width) }
    }

    public func timestepEmbedding(_ timesteps: Tensor, dim: Int, flipSinToCos: Bool, downscaleFreqShift: Float,
                                  maxPeriod: Float) throws -> Tensor {
        try timed("timestepEmbedding") {
            try base.timestepEmbedding(timesteps, dim: dim, flipSinToCos: flipSinToCos,
                                       downscaleFreqShift: downscaleFreqShift, maxPeriod: maxPeriod)
        }
    }
}
