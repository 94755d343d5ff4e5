import CPUBackend
import Tensor
import Testing
@testable import VulkanBackend

/// `groupNorm` (both overloads), `groupSums` and `layerNorm` on Vulkan against the CPU backend.
///
/// Tolerance for the normalised outputs: `max |vulkan - cpu| <= 1e-5 * max(1, max |cpu|)`.
/// Outputs are O(1) (inputs 0.5 ± 2, weights 1 ± 1). The GPU's statistics are two-pass f32
/// with Kahan-compensated partials (mean within about an ulp, variance within a few), its
/// `inversesqrt` is good to 2 ulp and it folds the weight into the scale with one more f32
/// rounding; the CPU takes float64 statistics rounded to f32. So the two differ by a few f32
/// ulps of the output, ~1e-6; a wrong group, channel or sample index errs by O(0.1).
@Suite("Vulkan parity: normalisation")
struct NormalizationParityTests {
    static let tolerance = 1e-5

    struct GroupCase: Sendable, CustomTestStringConvertible {
        let shape: [Int]
        let groups: Int
        var testDescription: String { "\(shape) groups \(groups)" }
    }

    static let groupCases = [
        GroupCase(shape: [2, 6, 5, 3], groups: 3),
        GroupCase(shape: [2, 6, 5, 3], groups: 1),
        GroupCase(shape: [2, 32, 3, 3], groups: 32),  // one channel per group
        GroupCase(shape: [1, 8, 2, 3, 5], groups: 4),  // rank 5: [N, C, F, H, W]
        GroupCase(shape: [1, 4, 3, 17, 19], groups: 2),  // 1938 elements per group: many per invocation
        GroupCase(shape: [3, 4, 7], groups: 2),  // rank 3
        GroupCase(shape: [2, 4], groups: 2),  // no trailing axes
    ]

    /// `affine`: 0 none, 1 weight only, 2 bias only, 3 both.
    @Test(arguments: groupCases, [0, 1, 2, 3])
    func groupNorm(_ c: GroupCase, affine: Int) throws {
        let channels = c.shape[1]
        let x = try Parity.pair(c.shape, seed: 60, spread: 2, offset: 0.5)
        let weight = affine & 1 != 0 ? try Parity.pair([channels], seed: 61, spread: 1, offset: 1) : nil
        let bias = affine & 2 != 0 ? try Parity.pair([channels], seed: 62, spread: 0.5) : nil
        let out = try Parity.run { backend, side in
            try backend.groupNorm(x[side], groups: c.groups, weight: weight?[side], bias: bias?[side], epsilon: 1e-5)
        }
        Parity.expectScaled(out, tolerance: Self.tolerance, "groupNorm \(c.testDescription) affine \(affine)")
    }

    /// The norm with its activation applied in the same shader (`group_norm.comp`'s ACTIVATION)
    /// against the CPU backend's fused op: the norm's error above, through activations whose
    /// slopes stay below 1.13, plus the activations' own (pointwise parity: ~4e-6 relative).
    @Test(arguments: [groupCases[0], groupCases[3], groupCases[4]], [Activation.silu, .gelu, .geluTanh])
    func groupNormWithActivation(_ c: GroupCase, activation: Activation) throws {
        let channels = c.shape[1]
        let x = try Parity.pair(c.shape, seed: 64, spread: 2, offset: 0.5)
        let weight = try Parity.pair([channels], seed: 65, spread: 1, offset: 1)
        let bias = try Parity.pair([channels], seed: 66, spread: 0.5)
        let out = try Parity.run { backend, side in
            try backend.groupNorm(x[side], groups: c.groups, weight: weight[side], bias: bias[side], epsilon: 1e-5,
                                  activation: activation)
        }
        Parity.expectScaled(out, tolerance: 2 * Self.tolerance, "groupNorm \(c.testDescription) + \(activation)")
        // And what the two ops give on the device.
        let vulkan = try Parity.vulkan()
        let fused = try vulkan.download(vulkan.groupNorm(x.vulkan, groups: c.groups, weight: weight.vulkan,
                                                         bias: bias.vulkan, epsilon: 1e-5, activation: activation))
        let separate = try vulkan.download(vulkan.activation(
            vulkan.groupNorm(x.vulkan, groups: c.groups, weight: weight.vulkan, bias: bias.vulkan, epsilon: 1e-5),
            activation))
        let difference = zip(fused, separate).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        #expect(difference <= 1e-6 * max(1, separate.reduce(0) { max($0, abs($1)) }), "fused vs two ops: \(difference)")
    }

    /// A mean 1,000 standard deviations from zero, where `E[x²] - E[x]²` in f32 would lose the
    /// variance. Tolerance 3e-4 absolute: an ulp of the mean near 1000 is 6.1e-5 and each
    /// backend rounds its mean to f32 differently (within about an ulp), which the
    /// normalisation multiplies by 1 / std ≈ 1.7.
    @Test func groupNormKeepsVarianceUnderLargeMean() throws {
        let x = try Parity.pair([2, 4, 20, 20], seed: 63, spread: 1, offset: 1000)
        let out = try Parity.run { backend, side in
            try backend.groupNorm(x[side], groups: 2, weight: nil, bias: nil, epsilon: 1e-6)
        }
        Parity.expectElementwise(out, absolute: 3e-4, relative: 0, "groupNorm with mean 1000")
    }

    /// A constant group has zero variance: the output is the bias, with no NaN from 0 / 0.
    @Test func groupNormOfConstantIsBias() throws {
        let vulkan = try Parity.vulkan()
        let x = try vulkan.upload([Float](repeating: 3, count: 12), shape: [1, 2, 6])
        let bias = try vulkan.upload([0.25, -0.5], shape: [2])
        let result = try vulkan.download(vulkan.groupNorm(x, groups: 2, weight: nil, bias: bias, epsilon: 1e-5))
        #expect(result == [Float](repeating: 0.25, count: 6) + [Float](repeating: -0.5, count: 6))
    }

    /// Sums compared relatively: `sumOfSquares` within 1e-5 of the CPU's, `sum` within 1e-5 of
    /// `sqrt(count * sumOfSquares)` (a bound on |sum| that stays meaningful when the sum
    /// cancels to near zero), `count` exactly. The GPU derives both from f32 two-pass moments
    /// (`n * mean`, `n * (variance + mean²)` in float64), good to a few f32 ulps, ~1e-6.
    @Test(arguments: groupCases + [GroupCase(shape: [2, 4, 20, 20], groups: 2)], [Float(0.5), 1000])
    func groupSums(_ c: GroupCase, offset: Float) throws {
        let x = try Parity.pair(c.shape, seed: 64, spread: 2, offset: offset)
        let vulkan = try Parity.vulkan().groupSums(x.vulkan, groups: c.groups)
        let cpu = try Parity.cpu.groupSums(x.cpu, groups: c.groups)
        let label = "groupSums \(c.testDescription) offset \(offset)"
        #expect(vulkan.count == cpu.count, "\(label): count")
        #expect(vulkan.sum.count == cpu.sum.count && vulkan.sumOfSquares.count == cpu.sumOfSquares.count, "\(label): rows")
        guard vulkan.sum.count == cpu.sum.count, vulkan.sumOfSquares.count == cpu.sumOfSquares.count else { return }
        for row in cpu.sum.indices {
            let squares = cpu.sumOfSquares[row]
            #expect(abs(vulkan.sumOfSquares[row] - squares) <= 1e-5 * squares,
                    "\(label): row \(row) sum of squares \(vulkan.sumOfSquares[row]), cpu \(squares)")
            let sumScale = (Double(cpu.count) * squares).squareRoot()
            #expect(abs(vulkan.sum[row] - cpu.sum[row]) <= 1e-5 * sumScale,
                    "\(label): row \(row) sum \(vulkan.sum[row]), cpu \(cpu.sum[row])")
        }
    }

    /// Empty trailing axes: zero sums over zero elements per group, as on the CPU.
    @Test func groupSumsOfEmptyGroups() throws {
        let x = try Parity.pair(values: [], shape: [2, 4, 0, 3])
        let vulkan = try Parity.vulkan().groupSums(x.vulkan, groups: 2)
        let cpu = try Parity.cpu.groupSums(x.cpu, groups: 2)
        #expect(vulkan == cpu)
    }

    /// The overload with given statistics, fed the same (mean, variance) on both backends.
    @Test(arguments: groupCases, [false, true])
    func groupNormWithGivenStatistics(_ c: GroupCase, affine: Bool) throws {
        let channels = c.shape[1]
        let x = try Parity.pair(c.shape, seed: 65, spread: 2, offset: 0.5)
        let (mean, variance) = try Parity.cpu.groupSums(x.cpu, groups: c.groups).moments
        let weight = affine ? try Parity.pair([channels], seed: 66, spread: 1, offset: 1) : nil
        let bias = affine ? try Parity.pair([channels], seed: 67, spread: 0.5) : nil
        let out = try Parity.run { backend, side in
            try backend.groupNorm(x[side], groups: c.groups, mean: mean, variance: variance, weight: weight?[side],
                                  bias: bias?[side], epsilon: 1e-5)
        }
        Parity.expectScaled(out, tolerance: Self.tolerance, "groupNorm(mean:variance:) \(c.testDescription) affine \(affine)")
    }

    /// How clips use it: sums of two frame ranges added up normalise each range as the whole
    /// video would be normalised.
    @Test func groupSumsOfClipsAddUpToTheWholeVideo() throws {
        let vulkan = try Parity.vulkan()
        let shape = [1, 4, 6, 3, 3]
        let x = try Parity.pair(shape, seed: 68, spread: 2, offset: 0.5)
        let first = try vulkan.slice(x.vulkan, axis: 2, start: 0, length: 4)
        let second = try vulkan.slice(x.vulkan, axis: 2, start: 4, length: 2)
        var sums = try vulkan.groupSums(first, groups: 2)
        sums.add(try vulkan.groupSums(second, groups: 2))
        let (mean, variance) = sums.moments
        let joined = try vulkan.concat([first, second].map {
            try vulkan.groupNorm($0, groups: 2, mean: mean, variance: variance, weight: nil, bias: nil, epsilon: 1e-5)
        }, axis: 2)
        let whole = try Parity.cpu.groupNorm(x.cpu, groups: 2, weight: nil, bias: nil, epsilon: 1e-5)
        let out = Outputs(vulkan: try vulkan.download(joined), cpu: try Parity.cpu.download(whole), vulkanShape: joined.shape,
                          cpuShape: whole.shape)
        Parity.expectScaled(out, tolerance: Self.tolerance, "clip-wise groupNorm")
    }

    static let layerShapes: [[Int]] = [[7], [3, 5], [2, 3, 320], [2, 1, 300], [4, 257], [1, 1, 1], [5, 1]]

    /// `affine`: 0 none, 1 weight only, 2 bias only, 3 both. Widths above 256 make invocations
    /// take several elements of a row; a width of 1 has zero variance (the output is the bias).
    @Test(arguments: layerShapes, [0, 1, 2, 3])
    func layerNorm(shape: [Int], affine: Int) throws {
        try Self.checkLayerNorm(shape: shape, affine: affine, rowsPerSubgroup: nil)
    }

    /// The subgroup-per-row layout GPUs get (lavapipe runs the invocation-per-row one by
    /// default): the same results within the same tolerance, forced here on the CPU device.
    @Test(arguments: layerShapes + [[9, 1280], [130, 77]], [0, 3])
    func layerNormSubgroupPerRow(shape: [Int], affine: Int) throws {
        try Self.checkLayerNorm(shape: shape, affine: affine, rowsPerSubgroup: true)
    }

    /// `layerNorm` on both backends; `rowsPerSubgroup` forces the Vulkan kernel's layout (nil:
    /// the device's own choice).
    static func checkLayerNorm(shape: [Int], affine: Int, rowsPerSubgroup: Bool?) throws {
        let width = shape.last!
        let x = try Parity.pair(shape, seed: 70, spread: 3, offset: -1)
        let weight = affine & 1 != 0 ? try Parity.pair([width], seed: 71, spread: 0.5, offset: 1) : nil
        let bias = affine & 2 != 0 ? try Parity.pair([width], seed: 72) : nil
        let out = try Parity.run { backend, side in
            if side == .vulkan, let rowsPerSubgroup {
                return try Parity.vulkan().layerNorm(x[side], weight: weight?[side], bias: bias?[side], epsilon: 1e-5,
                                                     rowsPerSubgroup: rowsPerSubgroup)
            }
            return try backend.layerNorm(x[side], weight: weight?[side], bias: bias?[side], epsilon: 1e-5)
        }
        let layout = rowsPerSubgroup.map { $0 ? " per subgroup" : " per invocation" } ?? ""
        Parity.expectScaled(out, tolerance: tolerance, "layerNorm\(layout) \(shape) affine \(affine)")
    }
}
