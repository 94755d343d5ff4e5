import CPUBackend
import Tensor
import Testing

/// `groupNorm` and `layerNorm` against a two-pass Double reference.
///
/// Tolerance: `1e-5 + 1e-5 |expected|`. Outputs are O(1); Float rounding of the mean, the
/// reciprocal standard deviation and one multiply-add keeps the error near 1e-6.
@Suite struct NormalizationOpsTests {
    typealias T = ElementwiseTesting

    /// Mean and biased variance of `values`, two-pass in Double.
    static func moments(_ values: ArraySlice<Float>) -> (mean: Double, variance: Double) {
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(values.count)
        return (mean, variance)
    }

    static func referenceGroupNorm(_ x: [Float], shape: [Int], groups: Int, weight: [Float]?, bias: [Float]?,
                                   epsilon: Double) -> [Double] {
        let channels = shape[1], spatial = shape.dropFirst(2).reduce(1, *)
        let block = channels / groups * spatial
        var out = [Double](repeating: 0, count: x.count)
        for start in stride(from: 0, to: x.count, by: block) {
            let (mean, variance) = moments(x[start ..< start + block])
            for i in start ..< start + block {
                let channel = i / spatial % channels
                let normalized = (Double(x[i]) - mean) / (variance + epsilon).squareRoot()
                out[i] = normalized * Double(weight?[channel] ?? 1) + Double(bias?[channel] ?? 0)
            }
        }
        return out
    }

    static let groupNormCases: [(shape: [Int], groups: Int)] = [
        ([2, 6, 5, 3], 1), ([2, 6, 5, 3], 2), ([2, 6, 5, 3], 3), ([2, 6, 5, 3], 6),
        ([3, 4, 7], 2), ([2, 4], 2), ([1, 8, 2, 3, 5], 4), ([2, 32, 3, 3], 32),
        ([1, 2, 3, 97, 113], 1),  // one block of 65,742 elements: several pieces and chunks
    ]

    @Test(arguments: groupNormCases.indices, [false, true])
    func groupNormMatchesReference(caseIndex: Int, affine: Bool) throws {
        let (shape, groups) = Self.groupNormCases[caseIndex]
        let (x, data) = try T.tensor(shape, seed: UInt64(caseIndex), spread: 2, offset: 0.5)
        let channels = shape[1]
        let weight = affine ? T.values(channels, seed: 100, spread: 1, offset: 1) : nil
        let bias = affine ? T.values(channels, seed: 101, spread: 0.5) : nil
        let result = try T.backend.groupNorm(
            x, groups: groups,
            weight: try weight.map { try T.backend.upload($0, shape: [channels]) },
            bias: try bias.map { try T.backend.upload($0, shape: [channels]) }, epsilon: 1e-5)
        #expect(result.shape == shape)
        let expected = Self.referenceGroupNorm(data, shape: shape, groups: groups, weight: weight, bias: bias,
                                               epsilon: 1e-5)
        T.expectClose(try T.backend.download(result), expected, absolute: 1e-5, relative: 1e-5,
                      "groupNorm \(shape) groups \(groups) affine \(affine)")
    }

    /// The fused norm + activation equals the two ops bit for bit (the same expression, the same
    /// lane function), over every case's shape (spatial extents that leave partial vectors).
    @Test(arguments: groupNormCases.indices, [Activation.silu, .gelu, .geluTanh])
    func groupNormWithActivationEqualsTheTwoOps(caseIndex: Int, activation: Activation) throws {
        let (shape, groups) = Self.groupNormCases[caseIndex]
        let (x, _) = try T.tensor(shape, seed: UInt64(caseIndex), spread: 2, offset: 0.5)
        let channels = shape[1]
        let weight = try T.backend.upload(T.values(channels, seed: 102, spread: 1, offset: 1), shape: [channels])
        let bias = try T.backend.upload(T.values(channels, seed: 103, spread: 0.5), shape: [channels])
        let fused = try T.backend.groupNorm(x, groups: groups, weight: weight, bias: bias, epsilon: 1e-5,
                                            activation: activation)
        let separate = try T.backend.activation(
            T.backend.groupNorm(x, groups: groups, weight: weight, bias: bias, epsilon: 1e-5), activation)
        #expect(fused.shape == shape)
        #expect(try T.backend.download(fused) == T.backend.download(separate), "groupNorm \(shape) + \(activation)")
    }

    /// A mean 1,000 standard deviations from zero: `E[x²] - E[x]²` in Float would lose the
    /// variance entirely. Tolerance 1e-4: the Float mean near 1,000 is only good to 3e-5.
    @Test func groupNormKeepsVarianceUnderLargeMean() throws {
        let shape = [2, 4, 50, 50]
        let (x, data) = try T.tensor(shape, seed: 7, spread: 1, offset: 1000)
        let result = try T.backend.groupNorm(x, groups: 2, weight: nil, bias: nil, epsilon: 1e-6)
        let expected = Self.referenceGroupNorm(data, shape: shape, groups: 2, weight: nil, bias: nil, epsilon: 1e-6)
        T.expectClose(try T.backend.download(result), expected, absolute: 1e-4, relative: 0,
                      "groupNorm with mean 1000")
    }

    /// A constant block has zero variance: the output is `bias`, with no NaN from `0 / 0`.
    @Test func groupNormOfConstantIsBias() throws {
        let x = try T.backend.upload([Float](repeating: 3, count: 12), shape: [1, 2, 6])
        let bias = try T.backend.upload([0.25, -0.5], shape: [2])
        let result = try T.backend.download(T.backend.groupNorm(x, groups: 2, weight: nil, bias: bias, epsilon: 1e-5))
        #expect(result == [Float](repeating: 0.25, count: 6) + [Float](repeating: -0.5, count: 6))
    }

    /// Widths below, at and above a vector, with tails (7, 5, 1500, 33), whole vectors (32, 320).
    static let layerNormShapes: [[Int]] = [[7], [3, 5], [2, 3, 320], [2, 2, 1500], [1, 1, 1], [9, 32], [4, 33]]

    @Test(arguments: layerNormShapes.indices, [0, 1, 2, 3])
    func layerNormMatchesReference(shapeIndex: Int, affineMask: Int) throws {
        let shape = Self.layerNormShapes[shapeIndex]
        // The last shape's rows have a mean large next to their spread (100 against 3).
        try checkLayerNorm(shape, affineMask: affineMask, offset: shapeIndex == Self.layerNormShapes.count - 1 ? 100 : -1,
                           seed: 20 + UInt64(shapeIndex))
    }

    /// `layerNorm` of random `shape` (values in `offset ± 3`) against the Double reference,
    /// in each instruction set this CPU runs.
    func checkLayerNorm(_ shape: [Int], affineMask: Int, offset: Float, seed: UInt64) throws {
        let width = shape.last!
        let (x, data) = try T.tensor(shape, seed: seed, spread: 3, offset: offset)
        let weight = affineMask & 1 != 0 ? T.values(width, seed: 30, spread: 0.5, offset: 1) : nil
        let bias = affineMask & 2 != 0 ? T.values(width, seed: 31) : nil
        for instructionSet in CPUBackend.InstructionSet.supported {
            let backend = CPUBackend(threads: 2, instructionSet: instructionSet)
            let result = try backend.layerNorm(
                x, weight: try weight.map { try backend.upload($0, shape: [width]) },
                bias: try bias.map { try backend.upload($0, shape: [width]) }, epsilon: 1e-5)
            checkLayerNorm(try backend.download(result), data: data, width: width, weight: weight, bias: bias,
                           label: "layerNorm \(shape) \(instructionSet) weight \(weight != nil) bias \(bias != nil)")
        }
    }

    func checkLayerNorm(_ actual: [Float], data: [Float], width: Int, weight: [Float]?, bias: [Float]?, label: String) {
        var expected = [Double]()
        for start in stride(from: 0, to: data.count, by: width) {
            let (mean, variance) = Self.moments(data[start ..< start + width])
            for i in 0 ..< width {
                let normalized = (Double(data[start + i]) - mean) / (variance + 1e-5).squareRoot()
                expected.append(normalized * Double(weight?[i] ?? 1) + Double(bias?[i] ?? 0))
            }
        }
        T.expectClose(actual, expected, absolute: 1e-5, relative: 1e-5, label)
    }
}
