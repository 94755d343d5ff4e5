#if canImport(Glibc)
import Glibc
#endif
import Tensor

// Element-wise ops and the timestep embedding.
extension VulkanBackend {
    /// `pointwise.comp`'s `OP` for `x * factor` (0-2 are the activations' shader codes).
    private static let scaleOp: UInt32 = 3

    /// Runs `pointwise.comp` with `OP = op`.
    private func pointwise(_ x: Tensor, _ op: UInt32, factor: Float = 1) throws -> Tensor {
        let out = try makeTensor(x.shape)
        guard out.count > 0 else { return out }
        try context.dispatch(.pointwise, constants: [0: op], buffers: [bound(x), bound(out)],
                             push: [UInt32(x.count), Self.bits(factor)], groups: Self.gridStrideGroups(x.count))
        return out
    }

    public func activation(_ x: Tensor, _ activation: Activation) throws -> Tensor {
        try pointwise(x, Self.shaderCode(activation))
    }

    public func scale(_ x: Tensor, by factor: Float) throws -> Tensor {
        try pointwise(x, Self.scaleOp, factor: factor)
    }

    /// `activation`'s number in the shaders (`common.glsl`'s `activate`: `pointwise.comp`'s `OP`,
    /// `group_norm.comp`'s `ACTIVATION`).
    static func shaderCode(_ activation: Activation) -> UInt32 {
        switch activation {
        case .silu: 0
        case .gelu: 1
        case .geluTanh: 2
        }
    }

    public func geglu(_ x: Tensor) throws -> Tensor {
        precondition(x.rank >= 1 && x.shape[x.rank - 1] % 2 == 0, "geglu: last axis of \(x.shape) must be even")
        let half = x.shape[x.rank - 1] / 2
        let out = try makeTensor(Array(x.shape.dropLast()) + [half])
        guard out.count > 0 else { return out }
        try context.dispatch(.geglu, buffers: [bound(x), bound(out)], push: [UInt32(out.count), UInt32(half)],
                             groups: Self.gridStrideGroups(out.count))
        return out
    }

    public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let bShape = Shape.broadcast(b.shape, to: a.shape)
        let out = try makeTensor(a.shape)
        guard out.count > 0 else { return out }
        let bStrides = zip(Shape.strides(bShape), zip(a.shape, bShape)).map { stride, extents in
            extents.1 == 1 && extents.0 != 1 ? 0 : stride
        }
        let layout = StridedLayout(extents: a.shape, strides: [Shape.strides(a.shape), bStrides])
        guard let extents = layout.paddedExtents else {
            throw TensorError("vulkan: add of \(b.shape) to \(a.shape) needs more than \(StridedLayout.rank) axes")
        }
        try context.dispatch(.add, buffers: [bound(a), bound(b), bound(out)],
                             push: [UInt32(a.count), 0, 0, 0] + extents + layout.paddedStrides(1),
                             groups: Self.gridStrideGroups(a.count))
        return out
    }

    public func timestepEmbedding(_ timesteps: Tensor, dim: Int, flipSinToCos: Bool, downscaleFreqShift: Float,
                                  maxPeriod: Float) throws -> Tensor {
        precondition(timesteps.rank == 1, "timestepEmbedding: timesteps must be [N], got \(timesteps.shape)")
        precondition(dim > 0, "timestepEmbedding: dim must be positive, got \(dim)")
        let out = try makeTensor([timesteps.shape[0], dim])
        guard out.count > 0 else { return out }
        // The same f32 constants as the CPU backend (and PyTorch's float32 arithmetic).
        let logPeriod = Float(-log(Double(maxPeriod)))
        let divisor = Float(Double(dim / 2) - Double(downscaleFreqShift))
        try context.dispatch(.timestepEmbedding, buffers: [bound(timesteps), bound(out)],
                             push: [UInt32(out.count), UInt32(dim), Self.bits(logPeriod), Self.bits(divisor),
                                    flipSinToCos ? 1 : 0],
                             groups: Self.gridStrideGroups(out.count))
        return out
    }
}
