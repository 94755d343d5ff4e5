import CPUBackend
import Tensor
import Testing
import VulkanBackend

/// `concat`, `permute`, `slice`, `repeatInterleave` and `upsampleNearest` on Vulkan against the
/// CPU backend. All bit-exact: these ops only move values (strided_copy.comp and
/// upsample_nearest.comp compute indices, never values).
@Suite("Vulkan parity: data movement")
struct DataMovementParityTests {
    /// Three inputs of differing extents along the axis.
    @Test(arguments: [
        ([2, 3, 4], 0), ([2, 3, 4], 1), ([2, 3, 4], 2),
        ([1, 4, 3, 2, 5], 1),  // a UNet skip connection: channels of [B, C, F, H, W]
        ([2, 3, 2, 2, 5], 4),
        ([300], 0),
    ] as [([Int], Int)])
    func concat(base: [Int], axis: Int) throws {
        let extents = [1, 3, 2]
        var inputs: [Pair] = []
        for (index, extent) in extents.enumerated() {
            var shape = base
            shape[axis] = extent * (base[axis] == 300 ? 100 : 1)
            inputs.append(try Parity.pair(shape, seed: 10 + UInt64(index), spread: 100))
        }
        let out = try Parity.run { backend, side in try backend.concat(inputs.map { $0[side] }, axis: axis) }
        Parity.expectExact(out, "concat \(inputs.map(\.shape)) on axis \(axis)")
    }

    /// One input, and inputs with an empty extent along the axis.
    @Test func concatEdgeCases() throws {
        let a = try Parity.pair([2, 3], seed: 13)
        let empty = try Parity.pair(values: [], shape: [2, 0])
        let b = try Parity.pair([2, 5], seed: 14)
        Parity.expectExact(try Parity.run { backend, side in try backend.concat([a[side]], axis: 0) }, "concat of one")
        Parity.expectExact(try Parity.run { backend, side in try backend.concat([a[side], empty[side], b[side]], axis: 1) },
                           "concat with an empty input")
    }

    /// The video layouts a UNet uses and rank 3..5 permutations with odd extents.
    @Test(arguments: [
        ([2, 5, 3, 4, 6], [0, 2, 1, 3, 4]),  // [B, C, F, H, W] <-> [B, F, C, H, W]
        ([2, 5, 3, 4, 6], [0, 3, 4, 2, 1]),  // [B, C, F, H, W] -> [B, H, W, F, C] (temporal attention)
        ([2, 4, 6, 3, 5], [0, 4, 3, 1, 2]),  // and back
        ([1, 3, 1, 4, 5], [0, 3, 4, 1, 2]),  // extent-1 axes
        ([2, 3, 4, 5], [0, 2, 3, 1]),  // [B, C, H, W] -> [B, H, W, C]
        ([2, 4, 5, 3], [0, 3, 1, 2]),
        ([33, 65, 17], [2, 1, 0]),
        ([3, 70, 37], [0, 2, 1]),
        ([4, 7], [1, 0]),
        ([5], [0]),
        ([], []),
    ] as [([Int], [Int])])
    func permute(shape: [Int], permutation: [Int]) throws {
        let x = try Parity.pair(shape, seed: 20, spread: 100)
        let out = try Parity.run { backend, side in try backend.permute(x[side], permutation) }
        #expect(out.vulkanShape == permutation.map { shape[$0] })
        Parity.expectExact(out, "permute \(shape) by \(permutation)")
    }

    /// Every permutation of a rank-4 shape with distinct odd extents.
    @Test func permuteEveryRank4Permutation() throws {
        let shape = [3, 5, 2, 7]
        let x = try Parity.pair(shape, seed: 21, spread: 100)
        for permutation in Self.permutations(4) {
            let out = try Parity.run { backend, side in try backend.permute(x[side], permutation) }
            Parity.expectExact(out, "permute \(shape) by \(permutation)")
        }
    }

    static func permutations(_ n: Int) -> [[Int]] {
        guard n > 0 else { return [[]] }
        return permutations(n - 1).flatMap { (smaller: [Int]) -> [[Int]] in
            (0 ... smaller.count).map { (position: Int) -> [Int] in
                var result = smaller
                result.insert(n - 1, at: position)
                return result
            }
        }
    }

    @Test(arguments: [
        ([10], 0, 0, 3), ([10], 0, 7, 3), ([10], 0, 4, 0), ([10], 0, 0, 10),
        ([4, 5, 6], 0, 3, 1), ([4, 5, 6], 1, 0, 2), ([4, 5, 6], 1, 3, 2), ([4, 5, 6], 2, 5, 1),
        ([2, 3, 4, 5, 6], 2, 1, 3),  // a frame range of a video
        ([1, 4, 9, 3, 3], 2, 2, 5),
        ([3, 300], 1, 37, 259),
    ] as [([Int], Int, Int, Int)])
    func slice(shape: [Int], axis: Int, start: Int, length: Int) throws {
        let x = try Parity.pair(shape, seed: 30, spread: 100)
        let out = try Parity.run { backend, side in try backend.slice(x[side], axis: axis, start: start, length: length) }
        Parity.expectExact(out, "slice \(shape) axis \(axis) \(start)..<\(start + length)")
    }

    @Test(arguments: [
        ([4], 0, 3), ([2, 3, 4], 0, 2), ([2, 3, 4], 1, 3), ([2, 3, 4], 2, 2), ([3, 2], 1, 1),
        ([2, 5, 2, 3, 2], 2, 4),
        ([2, 4, 1, 3, 3], 2, 5),  // one frame repeated along frames
        ([2, 7, 16], 0, 3),  // batch repeated (per-frame text context)
        ([2, 3, 4], 1, 0),  // zero times: an empty result, as on the CPU
    ] as [([Int], Int, Int)])
    func repeatInterleave(shape: [Int], axis: Int, times: Int) throws {
        let x = try Parity.pair(shape, seed: 40, spread: 100)
        let out = try Parity.run { backend, side in try backend.repeatInterleave(x[side], times: times, axis: axis) }
        Parity.expectExact(out, "repeatInterleave \(shape) x\(times) on axis \(axis)")
    }

    /// 2x (the UNet's Upsample2D), non-integer ratios up and down, and 14 -> 46, where
    /// PyTorch's single-precision scale picks a different source than the exact ratio.
    @Test(arguments: [
        ([2, 3, 4, 5], 8, 10), ([1, 2, 32, 32], 64, 64), ([1, 2, 5, 5], 9, 10), ([2, 2, 3, 4], 3, 4),
        ([1, 3, 7, 6], 3, 2), ([1, 1, 1, 1], 2, 3), ([1, 1, 1, 14], 1, 46), ([1, 2, 14, 3], 46, 7),
        ([1, 1, 17, 19], 23, 29),
    ] as [([Int], Int, Int)])
    func upsampleNearest(shape: [Int], height: Int, width: Int) throws {
        let x = try Parity.pair(shape, seed: 50, spread: 100)
        let out = try Parity.run { backend, side in try backend.upsampleNearest(x[side], height: height, width: width) }
        #expect(out.vulkanShape == [shape[0], shape[1], height, width])
        Parity.expectExact(out, "upsampleNearest \(shape) -> \(height)x\(width)")
    }

    /// The copy and add kernels take six axes after merging: an add or permute that keeps more
    /// throws an error saying so rather than computing something wrong.
    @Test func moreThanSixUnmergeableAxesThrow() throws {
        let vulkan = try Parity.vulkan()
        let a = try vulkan.zeros([2, 2, 2, 2, 2, 2, 2, 2])
        let b = try vulkan.zeros([2, 1, 2, 1, 2, 1, 2, 1])
        #expect {
            _ = try vulkan.add(a, b)
        } throws: { error in
            (error as? TensorError)?.message.contains("6 axes") == true
        }
        let x = try vulkan.zeros([2, 3, 2, 3, 2, 3, 2])
        #expect {
            _ = try vulkan.permute(x, [6, 5, 4, 3, 2, 1, 0])
        } throws: { error in
            (error as? TensorError)?.message.contains("6 axes") == true
        }
    }
}
