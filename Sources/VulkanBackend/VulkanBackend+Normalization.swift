import Tensor

// Group and layer normalisation.
extension VulkanBackend {
    public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float) throws -> Tensor {
        try groupNorm(x, groups: groups, weight: weight, bias: bias, epsilon: epsilon, activationCode: nil)
    }

    /// The norm with the activation applied by the same shader, before the value is stored
    /// (`group_norm.comp`'s `ACTIVATION`).
    public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float,
                          activation: Activation) throws -> Tensor {
        try groupNorm(x, groups: groups, weight: weight, bias: bias, epsilon: epsilon,
                      activationCode: Self.shaderCode(activation))
    }

    private func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float,
                           activationCode: UInt32?) throws -> Tensor {
        let (samples, _) = try Shape.groupNorm(x.shape, groups: groups, weight: weight?.shape, bias: bias?.shape)
        let (channels, plane) = (x.shape[1], x.shape.dropFirst(2).reduce(1, *))
        guard x.count > 0 else { return try makeTensor(x.shape) }
        let statistics = try makeTensor([samples * groups, 2])
        try context.dispatch(.groupStats, buffers: [bound(x), bound(statistics)],
                             push: [samples, channels, plane, groups, 0].map { UInt32($0) },
                             groups: Self.perRowGroups(samples * groups))
        return try normalize(x, groups: groups, statistics: statistics, weight: weight, bias: bias, epsilon: epsilon,
                             activationCode: activationCode)
    }

    /// Per (sample, group) sums, derived in float64 from the device's f32 two-pass mean and
    /// variance: within ~1e-7 relative of the CPU backend's float64 accumulation.
    public func groupSums(_ x: Tensor, groups: Int) throws -> GroupSums {
        let (samples, _) = try Shape.groupNorm(x.shape, groups: groups, weight: nil, bias: nil, op: "groupSums")
        let (channels, plane) = (x.shape[1], x.shape.dropFirst(2).reduce(1, *))
        let rows = samples * groups
        let elements = channels / groups * plane
        guard x.count > 0 else {
            return GroupSums(sum: Array(repeating: 0, count: rows), sumOfSquares: Array(repeating: 0, count: rows),
                             count: elements)
        }
        // Two-pass mean and variance on the device, then sum = n * mean and
        // sum of squares = n * (variance + mean^2) in float64, as the CPU backend derives them:
        // f32 sums of squares would lose the variance to cancellation when the mean is large.
        let moments = try makeTensor([rows, 2])
        try context.dispatch(.groupStats, buffers: [bound(x), bound(moments)],
                             push: [samples, channels, plane, groups, 0].map { UInt32($0) },
                             groups: Self.perRowGroups(rows))
        let values = try download(moments)
        let n = Double(elements)
        let means = (0 ..< rows).map { Double(values[2 * $0]) }
        return GroupSums(sum: means.map { n * $0 },
                         sumOfSquares: (0 ..< rows).map { n * (Double(values[2 * $0 + 1]) + means[$0] * means[$0]) },
                         count: elements)
    }

    public func groupNorm(_ x: Tensor, groups: Int, mean: [Float], variance: [Float], weight: Tensor?, bias: Tensor?,
                          epsilon: Float) throws -> Tensor {
        _ = try Shape.groupNorm(x.shape, groups: groups, weight: weight?.shape, bias: bias?.shape,
                                statistics: (mean.count, variance.count))
        guard x.count > 0 else { return try makeTensor(x.shape) }
        var interleaved = [Float](repeating: 0, count: 2 * mean.count)
        for index in mean.indices {
            interleaved[2 * index] = mean[index]
            interleaved[2 * index + 1] = variance[index]
        }
        let statistics = try upload(interleaved, shape: [mean.count, 2])
        return try normalize(x, groups: groups, statistics: statistics, weight: weight, bias: bias, epsilon: epsilon)
    }

    /// `(x - mean) / sqrt(variance + epsilon) * weight + bias` with `statistics [N * groups, 2]` = (mean, variance),
    /// then the activation with shader code `activationCode`, if any.
    private func normalize(_ x: Tensor, groups: Int, statistics: Tensor, weight: Tensor?, bias: Tensor?,
                           epsilon: Float, activationCode: UInt32? = nil) throws -> Tensor {
        let channels = x.shape[1]
        let out = try makeTensor(x.shape)
        let plane = x.shape.dropFirst(2).reduce(1, *)
        // No constant: the shader's default, no activation.
        try context.dispatch(.groupNorm, constants: activationCode.map { [0: $0] } ?? [:],
                             buffers: [bound(x), bound(statistics), bound(weight), bound(bias), bound(out)],
                             push: [UInt32(x.count), UInt32(channels), UInt32(plane), UInt32(groups), Self.bits(epsilon),
                                    weight == nil ? 0 : 1, bias == nil ? 0 : 1],
                             groups: Self.gridStrideGroups(x.count))
        return out
    }

    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, epsilon: Float) throws -> Tensor {
        try layerNorm(x, weight: weight, bias: bias, epsilon: epsilon, rowsPerSubgroup: context.device.rowsPerSubgroup)
    }

    /// `layerNorm` with a subgroup per row (GPUs) or an invocation per row (CPU devices); see
    /// `layer_norm.comp`. Both compute the same sums in a different order.
    func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, epsilon: Float, rowsPerSubgroup: Bool) throws -> Tensor {
        let width = try Shape.layerNorm(x.shape, weight: weight?.shape, bias: bias?.shape)
        let out = try makeTensor(x.shape)
        guard out.count > 0 else { return out }
        let rows = x.count / width
        // Per subgroup, a workgroup of 64 takes 64 / subgroupSize rows at a time (at least one).
        let rowsPerGroup = rowsPerSubgroup ? max(1, 64 / max(1, context.device.subgroupSize)) : 64
        try context.dispatch(.layerNorm, constants: [0: rowsPerSubgroup ? 1 : 0],
                             buffers: [bound(x), bound(weight), bound(bias), bound(out)],
                             push: [UInt32(rows), UInt32(width), Self.bits(epsilon), weight == nil ? 0 : 1, bias == nil ? 0 : 1],
                             groups: (min((rows + rowsPerGroup - 1) / rowsPerGroup, 65535), 1, 1))
        return out
    }
}
