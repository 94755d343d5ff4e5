/// An element-wise walk over `extents` (row-major) with one stride per operand, simplified to the
/// six axes the copy and add kernels take.
///
/// Axes of extent 1 are dropped and neighbouring axes merge when every operand steps through
/// them as through one axis (`stride[i] == stride[i + 1] * extent[i + 1]`).
struct StridedLayout: Equatable {
    /// The kernels' fixed rank.
    static let rank = 6

    var extents: [Int]
    /// One stride list per operand, each `extents.count` long.
    var strides: [[Int]]

    init(extents: [Int], strides: [[Int]]) {
        precondition(strides.allSatisfy { $0.count == extents.count }, "one stride per axis and operand")
        var mergedExtents: [Int] = []
        var mergedStrides = [[Int]](repeating: [], count: strides.count)
        for axis in extents.indices where extents[axis] != 1 {
            if let last = mergedExtents.last,
               strides.indices.allSatisfy({ mergedStrides[$0].last! == strides[$0][axis] * extents[axis] }) {
                mergedExtents[mergedExtents.count - 1] = last * extents[axis]
                for operand in strides.indices { mergedStrides[operand][mergedStrides[operand].count - 1] = strides[operand][axis] }
            } else {
                mergedExtents.append(extents[axis])
                for operand in strides.indices { mergedStrides[operand].append(strides[operand][axis]) }
            }
        }
        self.extents = mergedExtents
        self.strides = mergedStrides
    }

    /// Extents padded with leading 1s to ``rank`` axes, as `UInt32`; `nil` when more axes remain.
    var paddedExtents: [UInt32]? {
        guard extents.count <= Self.rank else { return nil }
        return [UInt32](repeating: 1, count: Self.rank - extents.count) + extents.map { UInt32($0) }
    }

    /// Operand `operand`'s strides padded with leading 0s to ``rank`` axes.
    func paddedStrides(_ operand: Int) -> [UInt32] {
        [UInt32](repeating: 0, count: Self.rank - strides[operand].count) + strides[operand].map { UInt32($0) }
    }
}
