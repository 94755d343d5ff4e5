// The shape rules of the compute ops (linear, the convolutions, attention, the normalisations):
// every backend checks its arguments with these and sizes its result by them, so that a
// mismatch is the same error, naming the op and the shapes, on every backend, and never a trap.
// Element types and backend limits (BLAS's 32-bit extents, a device's buffer size) stay with the
// backends.
extension Shape {
    /// `linear`'s result: `x [..., K]`, `weight [N, K]`, `bias [N]` -> `[..., N]`.
    public static func linear(_ x: [Int], weight: [Int], bias: [Int]?, op: String = "linear") throws -> [Int] {
        guard let inFeatures = x.last else { throw TensorError("\(op): input must have at least one axis, got a scalar") }
        try requireRank(weight, 2, op: op, role: "weight")
        guard inFeatures == weight[1] else {
            throw TensorError("\(op): input's last axis \(inFeatures) does not match weight \(weight) (expects \(weight[1]))")
        }
        try requireVector(bias, count: weight[0], op: op, role: "bias")
        return x.dropLast() + [weight[0]]
    }

    /// `linearGEGLU`'s result: `linear`'s, with the last axis (`N`, even) halved.
    public static func linearGEGLU(_ x: [Int], weight: [Int], bias: [Int]?) throws -> [Int] {
        let op = "linearGEGLU"
        var shape = try linear(x, weight: weight, bias: bias, op: op)
        guard weight[0] % 2 == 0 else {
            throw TensorError("\(op): the projection's \(weight[0]) outputs do not split into two halves")
        }
        shape[shape.count - 1] /= 2
        return shape
    }

    /// `conv2d`'s result: `x [N, C, H, W]`, `weight [O, C, KH, KW]`, `bias [O]`
    /// -> `[N, O, (H + 2 padding - KH) / stride + 1, (W + 2 padding - KW) / stride + 1]`.
    public static func conv2d(_ x: [Int], weight: [Int], bias: [Int]?, stride: Int, padding: Int) throws -> [Int] {
        let op = "conv2d"
        try requireRank(x, 4, op: op, role: "input")
        try requireRank(weight, 4, op: op, role: "weight")
        guard weight[1] == x[1] else {
            throw TensorError("\(op): weight \(weight) expects \(weight[1]) input channels, input \(x) has \(x[1])")
        }
        guard stride >= 1 else { throw TensorError("\(op): stride must be at least 1, got \(stride)") }
        guard padding >= 0 else { throw TensorError("\(op): padding must be non-negative, got \(padding)") }
        guard weight[2] >= 1, weight[3] >= 1 else {
            throw TensorError("\(op): kernel extents must be at least 1, got weight \(weight)")
        }
        let outHeight = x[2] + 2 * padding - weight[2], outWidth = x[3] + 2 * padding - weight[3]
        guard outHeight >= 0, outWidth >= 0 else {
            throw TensorError("\(op): kernel \(weight[2])x\(weight[3]) does not fit input \(x) with padding \(padding)")
        }
        try requireVector(bias, count: weight[0], op: op, role: "bias")
        return [x[0], weight[0], outHeight / stride + 1, outWidth / stride + 1]
    }

    /// `temporalConv`'s result: `x [B, C, F, H, W]`, `weight [O, C, K, 1, 1]` or `[O, C, K]`,
    /// `bias [O]` -> `[B, O, F + 2 padding - K + 1, H, W]`.
    public static func temporalConv(_ x: [Int], weight: [Int], bias: [Int]?, padding: Int) throws -> [Int] {
        let op = "temporalConv"
        try requireRank(x, 5, op: op, role: "input")
        guard weight.count == 3 || (weight.count == 5 && weight[3] == 1 && weight[4] == 1) else {
            throw TensorError("\(op): weight must be [O, C, K, 1, 1] or [O, C, K], got \(weight)")
        }
        guard weight[1] == x[1] else {
            throw TensorError("\(op): weight \(weight) expects \(weight[1]) input channels, input \(x) has \(x[1])")
        }
        guard padding >= 0 else { throw TensorError("\(op): padding must be non-negative, got \(padding)") }
        let taps = weight[2]
        guard taps >= 1 else { throw TensorError("\(op): kernel must have at least one tap, got weight \(weight)") }
        let outFrames = x[2] + 2 * padding - taps + 1
        guard outFrames >= 1 else {
            throw TensorError("\(op): \(taps) taps do not fit \(x[2]) frames with padding \(padding)")
        }
        try requireVector(bias, count: weight[0], op: op, role: "bias")
        return [x[0], weight[0], outFrames, x[3], x[4]]
    }

    /// `attention`'s result: `query [B, Lq, heads * d]`, `key` and `value [B, Lk, heads * d]`,
    /// `bias [Lq, Lk]` -> the query's shape.
    public static func attention(query: [Int], key: [Int], value: [Int], heads: Int, bias: [Int]?) throws -> [Int] {
        let op = "attention"
        try requireRank(query, 3, op: op, role: "query")
        try requireRank(key, 3, op: op, role: "key")
        try requireRank(value, 3, op: op, role: "value")
        let (batch, queries, width) = (query[0], query[1], query[2])
        guard key[0] == batch, key[2] == width else {
            throw TensorError("\(op): key \(key) does not match query \(query) (expects [\(batch), Lk, \(width)])")
        }
        guard value == key else { throw TensorError("\(op): value \(value) must have the key's shape \(key)") }
        guard heads >= 1, width % heads == 0 else {
            throw TensorError("\(op): heads must be a positive divisor of the width \(width), got \(heads)")
        }
        if let bias, bias != [queries, key[1]] {
            throw TensorError("\(op): bias must be [\(queries), \(key[1])], got \(bias)")
        }
        return query
    }

    /// Checks a group norm's operands: `x [N, C, *]` with `C` a multiple of `groups`, `weight` and
    /// `bias [C]`; `statistics`, when given, is the number of means and variances, one per
    /// (sample, group). Returns the sample count and the elements of each (sample, group).
    public static func groupNorm(_ x: [Int], groups: Int, weight: [Int]?, bias: [Int]?, statistics: (Int, Int)? = nil,
                                 op: String = "groupNorm") throws -> (samples: Int, blockLength: Int) {
        guard x.count >= 2 else { throw TensorError("\(op): input \(x) needs at least the axes [N, C]") }
        let channels = x[1]
        guard groups > 0, channels % groups == 0 else {
            throw TensorError("\(op): \(channels) channels of input \(x) do not split into \(groups) groups")
        }
        try requireVector(weight, count: channels, op: op, role: "weight")
        try requireVector(bias, count: channels, op: op, role: "bias")
        if let (means, variances) = statistics, means != x[0] * groups || variances != x[0] * groups {
            throw TensorError("\(op): \(means) means and \(variances) variances for \(x[0] * groups) (sample, group) pairs of input \(x)")
        }
        return (x[0], channels / groups * x.dropFirst(2).reduce(1, *))
    }

    /// Checks a layer norm's operands (`x [..., D]`, `weight` and `bias [D]`) and returns `D`.
    public static func layerNorm(_ x: [Int], weight: [Int]?, bias: [Int]?) throws -> Int {
        let op = "layerNorm"
        guard let width = x.last else { throw TensorError("\(op): input must have at least one axis, got a scalar") }
        try requireVector(weight, count: width, op: op, role: "weight")
        try requireVector(bias, count: width, op: op, role: "bias")
        return width
    }

    private static func requireRank(_ shape: [Int], _ rank: Int, op: String, role: String) throws {
        guard shape.count == rank else { throw TensorError("\(op): \(role) must have rank \(rank), got shape \(shape)") }
    }

    /// An optional per-channel vector: absent, or exactly `[count]`.
    private static func requireVector(_ shape: [Int]?, count: Int, op: String, role: String) throws {
        guard let shape, shape != [count] else { return }
        throw TensorError("\(op): \(role) must be a vector of \(count) elements, got shape \(shape)")
    }
}
