import Tensor

// GEMM-shaped ops: linear, the two convolutions and attention.
extension VulkanBackend {
    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        let outShape = try Shape.linear(x.shape, weight: weight.shape, bias: bias?.shape)
        let k = x.shape[x.rank - 1], n = weight.shape[0]
        let m = k == 0 ? 0 : x.count / k
        let out = try makeTensor(outShape)
        guard out.count > 0 else { return out }
        if k == 0 { return try bias.map { try add(zeros(out.shape), $0) } ?? zeros(out.shape) }
        let (weightBuffer, constants) = boundWeight(weight)
        try dispatchGEMM(.linear, f32: .linear, weightConstants: constants,
                         buffers: [bound(x), weightBuffer, bound(bias), bound(out)],
                         push: [UInt32(m), UInt32(n), UInt32(k), bias == nil ? 0 : 1], rows: m, columns: n, reduction: k)
        return out
    }

    /// `geglu(linear(x, weight: weight, bias: bias))` in one dispatch: `linear.comp` with `GEGLU`,
    /// which gates each output in registers, so the `[..., 2n]` projection is never stored.
    public func linearGEGLU(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        let outShape = try Shape.linearGEGLU(x.shape, weight: weight.shape, bias: bias?.shape)
        let k = x.shape[x.rank - 1], n = weight.shape[0]
        if k == 0 { return try geglu(linear(x, weight: weight, bias: bias)) }
        let m = x.count / k
        let out = try makeTensor(outShape)
        guard out.count > 0 else { return out }
        let (weightBuffer, weightConstants) = boundWeight(weight)
        let buffers = [bound(x), weightBuffer, bound(bias), bound(out)]
        let push: [UInt32] = [UInt32(m), UInt32(n), UInt32(k), bias == nil ? 0 : 1]
        if try dispatchOnMatrices(.linearGEGLU, weightConstants: weightConstants, buffers: buffers, push: push,
                                  rows: m, columns: n / 2, reduction: k) {
            return out
        }
        try context.dispatch(.linear, constants: weightConstants.merging([3: 1]) { current, _ in current },
                             buffers: buffers, push: push, groups: ((n / 2 + 31) / 32, (m + 63) / 64, 1))
        return out
    }

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) throws -> Tensor {
        let outShape = try Shape.conv2d(x.shape, weight: weight.shape, bias: bias?.shape, stride: stride, padding: padding)
        let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (outputs, kernelHeight, kernelWidth) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let (outHeight, outWidth) = (outShape[2], outShape[3])
        let out = try makeTensor(outShape)
        guard out.count > 0 else { return out }
        let push = [batch, channels, height, width, outputs, kernelHeight, kernelWidth, stride, padding,
                    outHeight, outWidth, bias == nil ? 0 : 1].map { UInt32($0) }
        let (weightBuffer, constants) = boundWeight(weight)
        try dispatchGEMM(.conv2d, f32: .conv2d, weightConstants: constants,
                         buffers: [bound(x), weightBuffer, bound(bias), bound(out)], push: push,
                         rows: batch * outHeight * outWidth, columns: outputs,
                         reduction: channels * kernelHeight * kernelWidth, taps: (kernelHeight, kernelWidth))
        return out
    }

    public func temporalConv(_ x: Tensor, weight: Tensor, bias: Tensor?, padding: Int) throws -> Tensor {
        let outShape = try Shape.temporalConv(x.shape, weight: weight.shape, bias: bias?.shape, padding: padding)
        let (batch, channels, frames) = (x.shape[0], x.shape[1], x.shape[2])
        let plane = x.shape[3] * x.shape[4]
        let (outputs, kernel, outFrames) = (weight.shape[0], weight.shape[2], outShape[2])
        let out = try makeTensor(outShape)
        guard out.count > 0 else { return out }
        let push = [batch, channels, frames, plane, outputs, kernel, padding, outFrames, bias == nil ? 0 : 1]
            .map { UInt32($0) }
        let (weightBuffer, constants) = boundWeight(weight)
        try dispatchGEMM(.temporalConv, f32: .temporalConv, weightConstants: constants,
                         buffers: [bound(x), weightBuffer, bound(bias), bound(out)], push: push,
                         rows: batch * outFrames * plane, columns: outputs, reduction: channels * kernel,
                         taps: (kernel, 1))
        return out
    }

    /// The ops of `gemm_coopmat.comp` (its `OP` specialization constant).
    enum MatrixOp: UInt32 {
        case linear = 0, linearGEGLU, conv2d, temporalConv
    }

    /// Records `op` on cooperative matrices when this backend uses them (``cooperativeMatrix``),
    /// with the push constants of the op's f32 kernel; false when it does not (the caller records
    /// the f32 kernel). `columns` are output columns (for GEGLU, gated outputs); `reduction` the
    /// length of each output's dot product (linear: input features; conv: channels x taps);
    /// `taps` the convolution kernel's height and width (the temporal conv's frames and 1).
    func dispatchOnMatrices(_ op: MatrixOp, weightConstants: [UInt32: UInt32], buffers: [BoundBuffer], push: [UInt32],
                            rows: Int, columns: Int, reduction: Int,
                            taps: (height: Int, width: Int) = (1, 1)) throws -> Bool {
        guard let matrices = context.device.cooperativeMatrix else { return false }
        let columnsPerTile = op == .linearGEGLU ? 64 : 128
        let constants = weightConstants.merging([
            0: UInt32(matrices.workgroupSize), 4: op.rawValue, 5: UInt32(matrices.stagedPerInvocation),
            6: UInt32(matrices.m), 7: UInt32(matrices.n), 8: UInt32(matrices.k), 9: UInt32(matrices.epiloguePerLane),
            10: UInt32(taps.height), 11: UInt32(taps.width),
            // Vector loads (the buffers start 256-byte aligned): x rows of the linear ops 4
            // floats at a time, weight rows 8 values at a time.
            12: (op == .linear || op == .linearGEGLU) && reduction % 4 == 0 ? 1 : 0, 13: reduction % 8 == 0 ? 1 : 0,
        ]) { current, _ in current }
        try context.dispatch(.gemmCoopmat, constants: constants, buffers: buffers, push: push,
                             groups: ((columns + columnsPerTile - 1) / columnsPerTile, (rows + 127) / 128, 1))
        return true
    }

    /// Records a GEMM-shaped op of `rows` x `columns` outputs: on cooperative matrices where this
    /// backend uses them, else the f32 kernel `kernel` on 64 x 64 tiles (same bindings and push constants).
    private func dispatchGEMM(_ op: MatrixOp, f32 kernel: Kernel, weightConstants: [UInt32: UInt32],
                              buffers: [BoundBuffer], push: [UInt32], rows: Int, columns: Int, reduction: Int,
                              taps: (height: Int, width: Int) = (1, 1)) throws {
        if try dispatchOnMatrices(op, weightConstants: weightConstants, buffers: buffers, push: push,
                                  rows: rows, columns: columns, reduction: reduction, taps: taps) {
            return
        }
        try context.dispatch(kernel, constants: weightConstants, buffers: buffers, push: push,
                             groups: Self.tiledGroups(rows: rows, columns: columns))
    }

    /// Widest head the attention kernel is built for.
    static let maximumHeadWidth = 256

    public func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, scale: Float,
                          bias: Tensor?) throws -> Tensor {
        _ = try Shape.attention(query: query.shape, key: key.shape, value: value.shape, heads: heads, bias: bias?.shape)
        let (batch, queries, width) = (query.shape[0], query.shape[1], query.shape[2])
        let keys = key.shape[1]
        let headWidth = width / heads
        guard headWidth <= Self.maximumHeadWidth else {
            throw TensorError("vulkan: attention heads of width \(headWidth) are wider than the kernel's \(Self.maximumHeadWidth)")
        }
        guard keys > 0 else { return try zeros(query.shape) }
        let out = try makeTensor(query.shape)
        guard out.count > 0 else { return out }
        if attentionOnMatrices, let matrices = context.device.cooperativeMatrix, matrices.runsAttention(headWidth: headWidth) {
            try context.dispatch(.attentionCoopmat, constants: [
                0: UInt32(4 * matrices.subgroupSize), 1: UInt32(headWidth),
                6: UInt32(matrices.m), 7: UInt32(matrices.n), 8: UInt32(matrices.k),
            ], buffers: [bound(query), bound(key), bound(value), bound(bias), bound(out)],
                                 push: [UInt32(batch), UInt32(queries), UInt32(keys), UInt32(heads), Self.bits(scale),
                                        bias == nil ? 0 : 1],
                                 groups: Self.attentionGroups(queries: queries, pairs: batch * heads))
            return out
        }
        try context.dispatch(.attention, constants: [1: UInt32(headWidth)],
                             buffers: [bound(query), bound(key), bound(value), bound(bias), bound(out)],
                             push: [UInt32(batch), UInt32(queries), UInt32(keys), UInt32(heads), Self.bits(scale),
                                    bias == nil ? 0 : 1],
                             groups: Self.attentionGroups(queries: queries, pairs: batch * heads))
        return out
    }

    /// Workgroups of the attention kernels: query tiles of 64 in x, the (batch, head) `pairs` in
    /// y, continued in z past 65535 (the count every Vulkan device allows per dimension; the
    /// temporal attention of a large video has more: 2 x 72 x 128 positions x 5 heads).
    static func attentionGroups(queries: Int, pairs: Int) -> (x: Int, y: Int, z: Int) {
        ((queries + 63) / 64, min(pairs, 65535), (pairs + 65534) / 65535)
    }
}
