import CPUBackend
import Tensor
import TestSupport
import Testing

/// `concat`, `permute`, `slice`, `repeatInterleave` and `upsampleNearest` against index-by-index
/// references. All exact: these ops only move values.
@Suite struct DataMovementOpsTests {
    typealias T = ElementwiseTesting

    static func referencePermute(_ data: [Float], shape: [Int], _ permutation: [Int]) -> [Float] {
        let outShape = permutation.map { shape[$0] }
        return (0 ..< data.count).map { index in
            let at = coordinates(index, in: outShape)
            var source = [Int](repeating: 0, count: shape.count)
            for (outAxis, inAxis) in permutation.enumerated() { source[inAxis] = at[outAxis] }
            return data[T.linearIndex(source, in: shape)]
        }
    }

    /// Every permutation of `0 ..< n`.
    static func permutations(_ n: Int) -> [[Int]] {
        guard n > 0 else { return [[]] }
        return permutations(n - 1).flatMap { smaller in
            (0 ... smaller.count).map { position in
                var result = smaller
                result.insert(n - 1, at: position)
                return result
            }
        }
    }

    /// All 1 + 1 + 2 + 6 + 24 + 120 permutations of shapes of rank 0 to 5, some with extent-1 axes.
    @Test(arguments: [[], [7], [3, 5], [4, 1, 3], [2, 3, 4, 5], [3, 1, 4, 2, 5], [2, 3, 2, 4, 3]])
    func permuteMatchesReferenceForEveryPermutation(shape: [Int]) throws {
        let (x, data) = try T.tensor(shape, seed: 10, spread: 100)
        for permutation in Self.permutations(shape.count) {
            let result = try T.backend.permute(x, permutation)
            #expect(result.shape == permutation.map { shape[$0] })
            #expect(try T.backend.download(result) == Self.referencePermute(data, shape: shape, permutation),
                    "permute \(shape) by \(permutation)")
        }
    }

    /// The video layouts, large enough to run the parallel block-copy and tiled-transpose kernels.
    @Test(arguments: [
        ([2, 16, 20, 8, 8], [0, 2, 1, 3, 4]),  // [B, F, C, H, W] -> [B, C, F, H, W]
        ([2, 20, 16, 8, 8], [0, 3, 4, 2, 1]),  // [B, C, F, H, W] -> [B, H, W, F, C]
        ([2, 8, 8, 16, 20], [0, 4, 3, 1, 2]),  // and back
        ([33, 65, 17], [2, 1, 0]),  // odd extents, partial tiles
        ([3, 1000, 37], [0, 2, 1]),
    ])
    func permuteVideoLayouts(shape: [Int], permutation: [Int]) throws {
        let (x, data) = try T.tensor(shape, seed: 11, spread: 100)
        let result = try T.backend.permute(x, permutation)
        #expect(try T.backend.download(result) == Self.referencePermute(data, shape: shape, permutation))
    }

    @Test(arguments: [0, 1, 2])
    func concatJoinsAlongEachAxis(axis: Int) throws {
        let base = [2, 3, 4]
        let extents = [1, 3, 2]
        var inputs: [(Tensor, [Float], [Int])] = []
        for (index, extent) in extents.enumerated() {
            var shape = base
            shape[axis] = extent
            let (tensor, data) = try T.tensor(shape, seed: 40 + UInt64(index), spread: 100)
            inputs.append((tensor, data, shape))
        }
        let result = try T.backend.concat(inputs.map(\.0), axis: axis)
        var outShape = base
        outShape[axis] = extents.reduce(0, +)
        #expect(result.shape == outShape)
        let expected = (0 ..< outShape.reduce(1, *)).map { index -> Float in
            var at = coordinates(index, in: outShape)
            var input = 0
            while at[axis] >= extents[input] { at[axis] -= extents[input]; input += 1 }
            return inputs[input].1[T.linearIndex(at, in: inputs[input].2)]
        }
        #expect(try T.backend.download(result) == expected, "concat on axis \(axis)")
    }

    @Test func concatLargeTensorsAlongTheBatch() throws {
        let (a, aData) = try T.tensor([2, 40_000], seed: 50)
        let (b, bData) = try T.tensor([1, 40_000], seed: 51)
        let (c, cData) = try T.tensor([9], seed: 52)
        #expect(try T.backend.download(T.backend.concat([a, b], axis: 0)) == aData + bData)
        #expect(try T.backend.download(T.backend.concat([c], axis: 0)) == cData)
    }

    @Test(arguments: [
        ([10], 0, 0, 3), ([10], 0, 7, 3), ([10], 0, 4, 0), ([10], 0, 0, 10),
        ([4, 5, 6], 0, 3, 1), ([4, 5, 6], 1, 0, 2), ([4, 5, 6], 1, 3, 2), ([4, 5, 6], 2, 5, 1),
        ([2, 3, 4, 5, 6], 2, 1, 3),
    ])
    func sliceTakesARange(shape: [Int], axis: Int, start: Int, length: Int) throws {
        let (x, data) = try T.tensor(shape, seed: 60, spread: 100)
        let result = try T.backend.slice(x, axis: axis, start: start, length: length)
        var outShape = shape
        outShape[axis] = length
        #expect(result.shape == outShape)
        let expected = (0 ..< outShape.reduce(1, *)).map { index -> Float in
            var at = coordinates(index, in: outShape)
            at[axis] += start
            return data[T.linearIndex(at, in: shape)]
        }
        #expect(try T.backend.download(result) == expected)
    }

    @Test(arguments: [([4], 0, 3), ([2, 3, 4], 0, 2), ([2, 3, 4], 1, 3), ([2, 3, 4], 2, 2), ([3, 2], 1, 1),
                      ([2, 5, 2, 3, 2], 2, 4)])
    func repeatInterleaveRepeatsEachSlice(shape: [Int], axis: Int, times: Int) throws {
        let (x, data) = try T.tensor(shape, seed: 70, spread: 100)
        let result = try T.backend.repeatInterleave(x, times: times, axis: axis)
        var outShape = shape
        outShape[axis] *= times
        #expect(result.shape == outShape)
        let expected = (0 ..< outShape.reduce(1, *)).map { index -> Float in
            var at = coordinates(index, in: outShape)
            at[axis] /= times
            return data[T.linearIndex(at, in: shape)]
        }
        #expect(try T.backend.download(result) == expected)
    }

    /// Sizes where PyTorch's `nearest` agrees with the exact `floor(dst * in / out)`.
    @Test(arguments: [([2, 3, 3, 5], 6, 10), ([1, 2, 5, 5], 9, 10), ([1, 1, 4, 4], 8, 8), ([2, 2, 3, 4], 3, 4),
                      ([1, 3, 7, 6], 3, 2), ([1, 1, 1, 1], 2, 3), ([2, 4, 32, 32], 64, 64)])
    func upsampleNearestUsesFloorIndex(shape: [Int], height: Int, width: Int) throws {
        let (x, data) = try T.tensor(shape, seed: 80, spread: 100)
        let result = try T.backend.upsampleNearest(x, height: height, width: width)
        let outShape = [shape[0], shape[1], height, width]
        #expect(result.shape == outShape)
        let expected = (0 ..< outShape.reduce(1, *)).map { index -> Float in
            let at = coordinates(index, in: outShape)
            let y = at[2] * shape[2] / height, x = at[3] * shape[3] / width
            return data[T.linearIndex([at[0], at[1], y, x], in: shape)]
        }
        #expect(try T.backend.download(result) == expected)
    }

    /// 14 -> 46 is a size where PyTorch's single-precision scale differs from the exact formula:
    /// output 23 reads input 6 (`23 * Float(14 / 46)` rounds below 7), not `23 * 14 / 46 = 7`.
    /// Indices from:
    /// .venv-ref/bin/python -c "import torch; print(torch.nn.functional.interpolate(
    ///     torch.arange(14.).reshape(1,1,1,14), size=(1,46), mode='nearest').flatten().int().tolist())"
    @Test func upsampleNearestMatchesTorchSingleScale() throws {
        let torchIndices = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 8, 8, 8,
                            9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 12, 12, 12, 13, 13, 13]
        let x = try T.backend.upload((0 ..< 14).map(Float.init), shape: [1, 1, 1, 14])
        let result = try T.backend.download(T.backend.upsampleNearest(x, height: 1, width: 46))
        #expect(result == torchIndices.map(Float.init))
    }
}
