import Tensor

// Copies with strides (permute, slice, concat, repeat) and nearest upsampling.
extension VulkanBackend {
    /// Records `dst[dstOffset + Σ i·dstStride] = src[srcOffset + Σ i·srcStride]` over `extents`.
    private func stridedCopy(from source: Tensor, sourceOffset: Int = 0, sourceStrides: [Int],
                             to destination: Tensor, destinationOffset: Int = 0, destinationStrides: [Int],
                             extents: [Int], _ op: String) throws {
        let count = extents.reduce(1, *)
        guard count > 0 else { return }
        let layout = StridedLayout(extents: extents, strides: [sourceStrides, destinationStrides])
        guard let padded = layout.paddedExtents else {
            throw TensorError("vulkan: \(op) over \(extents) needs more than \(StridedLayout.rank) axes after merging")
        }
        try context.dispatch(.stridedCopy, buffers: [bound(source), bound(destination)],
                             push: [UInt32(count), UInt32(sourceOffset), UInt32(destinationOffset), 0]
                                 + padded + layout.paddedStrides(0) + layout.paddedStrides(1),
                             groups: Self.gridStrideGroups(count))
    }

    public func concat(_ tensors: [Tensor], axis: Int) throws -> Tensor {
        let shape = Shape.concatenated(tensors.map(\.shape), axis: axis)
        let out = try makeTensor(shape)
        let outStrides = Shape.strides(shape)
        var position = 0
        for tensor in tensors {
            try stridedCopy(from: tensor, sourceStrides: Shape.strides(tensor.shape), to: out,
                            destinationOffset: position * outStrides[axis], destinationStrides: outStrides, extents: tensor.shape, "concat")
            position += tensor.shape[axis]
        }
        return out
    }

    public func permute(_ x: Tensor, _ permutation: [Int]) throws -> Tensor {
        let shape = Shape.permuted(x.shape, permutation)
        let out = try makeTensor(shape)
        let inStrides = Shape.strides(x.shape)
        try stridedCopy(from: x, sourceStrides: permutation.map { inStrides[$0] }, to: out,
                        destinationStrides: Shape.strides(shape),
                        extents: shape, "permute")
        return out
    }

    public func slice(_ x: Tensor, axis: Int, start: Int, length: Int) throws -> Tensor {
        let shape = Shape.sliced(x.shape, axis: axis, start: start, length: length)
        let out = try makeTensor(shape)
        let inStrides = Shape.strides(x.shape)
        try stridedCopy(from: x, sourceOffset: start * inStrides[axis], sourceStrides: inStrides, to: out,
                        destinationStrides: Shape.strides(shape),
                        extents: shape, "slice")
        return out
    }

    public func repeatInterleave(_ x: Tensor, times: Int, axis: Int) throws -> Tensor {
        let out = try makeTensor(Shape.repeated(x.shape, times: times, axis: axis))
        // Walk x's shape with a `times` axis after `axis` that the source does not advance along.
        var extents = x.shape
        extents.insert(times, at: axis + 1)
        var sourceStrides = Shape.strides(x.shape)
        sourceStrides.insert(0, at: axis + 1)
        try stridedCopy(from: x, sourceStrides: sourceStrides, to: out, destinationStrides: Shape.strides(extents),
                        extents: extents,
                        "repeatInterleave")
        return out
    }

    public func upsampleNearest(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
        precondition(x.rank == 4, "upsampleNearest: input must be [N, C, H, W], got \(x.shape)")
        precondition(height > 0 && width > 0, "upsampleNearest: output size \(height)x\(width) must be positive")
        let out = try makeTensor([x.shape[0], x.shape[1], height, width])
        guard out.count > 0 else { return out }
        precondition(x.shape[2] > 0 && x.shape[3] > 0, "upsampleNearest: cannot resize the empty input \(x.shape)")
        try context.dispatch(.upsampleNearest, buffers: [bound(x), bound(out)],
                             push: [out.count, x.shape[2], x.shape[3], height, width].map { UInt32($0) },
                             groups: Self.gridStrideGroups(out.count))
        return out
    }
}
