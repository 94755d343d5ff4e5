import Tensor

// GEMM-shaped ops: linear, the two convolutions and attention.
extension VulkanBackend {
    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        precondition(x.rank >= 1 && weight.rank == 2, "linear: x \(x.shape), weight \(weight.shape)")
        let k = x.shape[x.rank - 1], n = weight.shape[0]
        precondition(weight.shape[1] == k, "linear: x \(x.shape) does not match weight \(weight.shape)")
        precondition(bias.map { $0.count == n } ?? true, "linear: bias \(bias!.shape) for \(n) outputs")
        let m = k == 0 ? 0 : x.count / k
        let out = try makeTensor(Array(x.shape.dropLast()) + [n])
        guard out.count > 0 else { return out }
        if k == 0 { return try bias.map { try add(zeros(out.shape), $0) } ?? zeros(out.shape) }
        let (weightBuffer, constants) = boundWeight(weight)
        try context.dispatch(.linear, constants: constants, buffers: [bound(x), weightBuffer, bound(bias), bound(out)],
                             push: [UInt32(m), UInt32(n), UInt32(k), bias == nil ? 0 : 1],
                             groups: Self.tiledGroups(rows: m, columns: n))
        return out
    }

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) throws -> Tensor {
        precondition(x.rank == 4 && weight.rank == 4 && weight.shape[1] == x.shape[1],
                     "conv2d: x \(x.shape) and weight \(weight.shape) do not match")
        precondition(stride >= 1 && padding >= 0, "conv2d: stride \(stride), padding \(padding)")
        let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (outputs, kernelHeight, kernelWidth) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let outHeight = (height + 2 * padding - kernelHeight) / stride + 1
        let outWidth = (width + 2 * padding - kernelWidth) / stride + 1
        precondition(outHeight > 0 && outWidth > 0, "conv2d: kernel \(weight.shape) larger than padded input \(x.shape)")
        let out = try makeTensor([batch, outputs, outHeight, outWidth])
        guard out.count > 0 else { return out }
        let push = [batch, channels, height, width, outputs, kernelHeight, kernelWidth, stride, padding,
                    outHeight, outWidth, bias == nil ? 0 : 1].map { UInt32($0) }
        let (weightBuffer, constants) = boundWeight(weight)
        try context.dispatch(.conv2d, constants: constants, buffers: [bound(x), weightBuffer, bound(bias), bound(out)], push: push,
                             groups: Self.tiledGroups(rows: batch * outHeight * outWidth, columns: outputs))
        return out
    }

    public func temporalConv(_ x: Tensor, weight: Tensor, bias: Tensor?, padding: Int) throws -> Tensor {
        precondition(x.rank == 5, "temporalConv: x must be [B, C, F, H, W], got \(x.shape)")
        precondition((weight.rank == 5 && weight.shape[3] == 1 && weight.shape[4] == 1) || weight.rank == 3,
                     "temporalConv: weight must be [O, C, K, 1, 1] or [O, C, K], got \(weight.shape)")
        precondition(weight.shape[1] == x.shape[1], "temporalConv: weight \(weight.shape) does not match x \(x.shape)")
        let (batch, channels, frames) = (x.shape[0], x.shape[1], x.shape[2])
        let plane = x.shape[3] * x.shape[4]
        let (outputs, kernel) = (weight.shape[0], weight.shape[2])
        let outFrames = frames + 2 * padding - kernel + 1
        precondition(outFrames > 0, "temporalConv: kernel \(kernel) longer than \(frames) frames padded by \(padding)")
        let out = try makeTensor([batch, outputs, outFrames, x.shape[3], x.shape[4]])
        guard out.count > 0 else { return out }
        let push = [batch, channels, frames, plane, outputs, kernel, padding, outFrames, bias == nil ? 0 : 1]
            .map { UInt32($0) }
        let (weightBuffer, constants) = boundWeight(weight)
        try context.dispatch(.temporalConv, constants: constants, buffers: [bound(x), weightBuffer, bound(bias), bound(out)],
                             push: push,
                             groups: Self.tiledGroups(rows: batch * outFrames * plane, columns: outputs))
        return out
    }

    /// Widest head the attention kernel is built for.
    static let maximumHeadWidth = 256

    public func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, scale: Float,
                          bias: Tensor?) throws -> Tensor {
        precondition(query.rank == 3 && key.rank == 3 && value.rank == 3, "attention: q, k, v must be [B, L, heads*d]")
        let (batch, queries, width) = (query.shape[0], query.shape[1], query.shape[2])
        let keys = key.shape[1]
        precondition(heads > 0 && width % heads == 0, "attention: width \(width) is not divisible by \(heads) heads")
        precondition(key.shape == [batch, keys, width] && value.shape == key.shape,
                     "attention: key \(key.shape) / value \(value.shape) do not match query \(query.shape)")
        if let bias, bias.shape != [queries, keys] {
            throw TensorError("attention: bias must be [\(queries), \(keys)], got \(bias.shape)")
        }
        let headWidth = width / heads
        guard headWidth <= Self.maximumHeadWidth else {
            throw TensorError("vulkan: attention heads of width \(headWidth) are wider than the kernel's \(Self.maximumHeadWidth)")
        }
        guard keys > 0 else { return try zeros(query.shape) }
        let out = try makeTensor(query.shape)
        guard out.count > 0 else { return out }
        try context.dispatch(.attention, constants: [1: UInt32(headWidth)],
                             buffers: [bound(query), bound(key), bound(value), bound(bias), bound(out)],
                             push: [UInt32(batch), UInt32(queries), UInt32(keys), UInt32(heads), Self.bits(scale),
                                    bias == nil ? 0 : 1],
                             groups: ((queries + 63) / 64, batch * heads, 1))
        return out
    }
}
