import CPUBackend
import Tensor
import Testing
import VulkanBackend

/// `linear`, `conv2d` and `temporalConv` (the 64 x 64-tiled GEMM kernels with K tiles of 16)
/// on Vulkan against the CPU backend.
///
/// Tolerance: `max |vulkan - cpu| <= 2e-5 * max(1, max |cpu|)`. Inputs are uniform in [-1, 1],
/// so each output is a sum of K <= 640 products of magnitude <= 1 (plus a bias). Both backends
/// accumulate in f32 but in different orders (OpenBLAS's blocked vector kernels against one
/// fused multiply-add chain per output on the GPU), so either may be off by the rounding of its
/// sum: roughly sqrt(K) * 2^-24 * (partial sums of magnitude <= sqrt(K)) ~ K * 6e-8, well below
/// 2e-5 * max(1, |result|) for these K (|result| itself grows like sqrt(K)). An indexing bug (a
/// lost or repeated K tile, a misplaced row or channel, a padding tap read from the wrong place)
/// errs by O(0.1) or more.
@Suite("Vulkan parity: linear and convolutions")
struct GemmParityTests {
    static let tolerance = 2e-5

    static let linearCases = [
        LinearCase(input: [1, 1], outputs: 1),
        LinearCase(input: [70, 33], outputs: 65),  // M and N straddle a 64 tile, K two partial tiles
        LinearCase(input: [64, 16], outputs: 64),  // exactly one tile and one K tile
        LinearCase(input: [65, 17], outputs: 63),
        LinearCase(input: [3, 100], outputs: 130),  // three column tiles, K = 6.25 tiles
        LinearCase(input: [130, 48], outputs: 5),  // three row tiles, K = 3 whole tiles
        LinearCase(input: [2, 33, 40], outputs: 70),  // rank 3: rows = 66
        LinearCase(input: [2, 3, 5, 16], outputs: 129),  // rank 4
        LinearCase(input: [2, 640], outputs: 64),  // a long reduction
    ]
    static let gegluCases = [
        LinearCase(input: [1, 1], outputs: 2),
        LinearCase(input: [70, 33], outputs: 66),  // 33 outputs: a second, nearly empty column tile
        LinearCase(input: [65, 17], outputs: 128),  // exactly two column tiles, M straddles a row tile
        LinearCase(input: [2, 33, 40], outputs: 258),
    ]
    static let convCases = [
        ConvCase(input: [2, 5, 9, 11], weight: [7, 5, 3, 3], stride: 1, padding: 1),  // 198 pixels, K = 45
        ConvCase(input: [1, 8, 12, 11], weight: [16, 8, 3, 3], stride: 1, padding: 1),  // 132 pixels, K = 72
        ConvCase(input: [1, 3, 3, 3], weight: [2, 3, 3, 3], stride: 1, padding: 1),  // mostly padding
        ConvCase(input: [1, 70, 5, 3], weight: [66, 70, 1, 1], stride: 1, padding: 0),  // 1x1, O straddles 64
        ConvCase(input: [1, 1, 1, 1], weight: [1, 1, 1, 1], stride: 1, padding: 0),
        ConvCase(input: [1, 4, 8, 8], weight: [4, 4, 3, 3], stride: 2, padding: 1),  // diffusers' Downsample2D
        ConvCase(input: [2, 3, 9, 7], weight: [65, 3, 3, 3], stride: 2, padding: 1),  // odd sizes: 5 x 4
        ConvCase(input: [1, 2, 10, 9], weight: [3, 2, 3, 3], stride: 2, padding: 0),
    ]
    static let temporalCases = [
        TemporalCase(input: [1, 4, 5, 3, 3], outputs: 6, kernel: 3, padding: 1),
        TemporalCase(input: [2, 9, 3, 5, 7], outputs: 65, kernel: 3, padding: 1),  // 210 rows, O straddles 64
        TemporalCase(input: [1, 3, 1, 2, 2], outputs: 2, kernel: 3, padding: 1),  // one frame: both neighbours padding
        TemporalCase(input: [1, 17, 4, 4, 4], outputs: 5, kernel: 1, padding: 0),  // K = 17: two K tiles
        TemporalCase(input: [2, 6, 8, 1, 1], outputs: 3, kernel: 3, padding: 0),  // no padding, 1x1 planes
    ]


    struct LinearCase: Sendable, CustomTestStringConvertible {
        let input: [Int]
        let outputs: Int
        var testDescription: String { "x \(input) -> \(outputs)" }
    }

    @Test(arguments: Self.linearCases, [false, true])
    func linear(_ c: LinearCase, bias hasBias: Bool) throws {
        try Self.checkLinear(c, bias: hasBias, on: Parity.vulkan(), tolerance: Self.tolerance)
    }

    static func checkLinear(_ c: LinearCase, bias hasBias: Bool, on vulkan: VulkanBackend, tolerance: Double) throws {
        let k = c.input.last!
        let x = try Parity.pair(c.input, seed: 1, on: vulkan)
        let weight = try Parity.pair([c.outputs, k], seed: 2, on: vulkan)
        let bias = hasBias ? try Parity.pair([c.outputs], seed: 3, on: vulkan) : nil
        let out = try Parity.run(on: vulkan) { backend, side in
            try backend.linear(x[side], weight: weight[side], bias: bias?[side])
        }
        #expect(out.vulkanShape == Array(c.input.dropLast()) + [c.outputs])
        Parity.expectScaled(out, tolerance: tolerance, "linear \(c.testDescription) bias \(hasBias)")
    }

    /// The fused projection + GEGLU (`linear.comp` with GEGLU: 32 outputs per tile, their hidden
    /// and gate columns side by side) against the CPU's fused op: the GEMM's error above through
    /// `h * gelu(g)` (|d/dh| = |gelu(g)| and |d/dg| = |h gelu'(g)| stay within the outputs'
    /// scale for these O(10) projections), plus gelu's own (~4e-6 relative).
    @Test(arguments: Self.gegluCases, [false, true])
    func linearGEGLU(_ c: LinearCase, bias hasBias: Bool) throws {
        try Self.checkLinearGEGLU(c, bias: hasBias, on: Parity.vulkan(), tolerance: Self.tolerance)
    }

    static func checkLinearGEGLU(_ c: LinearCase, bias hasBias: Bool, on vulkan: VulkanBackend, tolerance: Double) throws {
        let k = c.input.last!
        let x = try Parity.pair(c.input, seed: 5, on: vulkan)
        let weight = try Parity.pair([c.outputs, k], seed: 6, on: vulkan)
        let bias = hasBias ? try Parity.pair([c.outputs], seed: 7, on: vulkan) : nil
        let out = try Parity.run(on: vulkan) { backend, side in
            try backend.linearGEGLU(x[side], weight: weight[side], bias: bias?[side])
        }
        #expect(out.vulkanShape == Array(c.input.dropLast()) + [c.outputs / 2])
        Parity.expectScaled(out, tolerance: 2 * tolerance, "linearGEGLU \(c.testDescription) bias \(hasBias)")
    }

    /// No rows: an empty result. No input features: the bias (or zeros) in every row, which
    /// the Vulkan backend builds without the GEMM kernel (checked against the definition, as
    /// BLAS rejects K = 0 leading dimensions).
    @Test func linearEmptyExtents() throws {
        let vulkan = try Parity.vulkan()
        let noRows = try vulkan.linear(vulkan.zeros([0, 8]), weight: vulkan.upload(SeededRandom(seed: 4).valuesCopy(40), shape: [5, 8]),
                                       bias: nil)
        #expect(noRows.shape == [0, 5])
        #expect(try vulkan.download(noRows).isEmpty)

        let bias: [Float] = [0.5, -1, 2]
        let noFeatures = try vulkan.linear(vulkan.zeros([2, 2, 0]), weight: vulkan.zeros([3, 0]),
                                           bias: vulkan.upload(bias, shape: [3]))
        #expect(noFeatures.shape == [2, 2, 3])
        #expect(try vulkan.download(noFeatures) == bias + bias + bias + bias)
        let unbiased = try vulkan.linear(vulkan.zeros([4, 0]), weight: vulkan.zeros([3, 0]), bias: nil)
        #expect(try vulkan.download(unbiased) == [Float](repeating: 0, count: 12))
    }

    struct ConvCase: Sendable, CustomTestStringConvertible {
        let input: [Int]
        let weight: [Int]
        let stride: Int
        let padding: Int
        var testDescription: String { "x \(input) w \(weight) stride \(stride) pad \(padding)" }
    }

    @Test(arguments: Self.convCases, [false, true])
    func conv2d(_ c: ConvCase, bias hasBias: Bool) throws {
        try Self.checkConv2d(c, bias: hasBias, on: Parity.vulkan(), tolerance: Self.tolerance)
    }

    static func checkConv2d(_ c: ConvCase, bias hasBias: Bool, on vulkan: VulkanBackend, tolerance: Double) throws {
        let x = try Parity.pair(c.input, seed: 10, on: vulkan)
        let weight = try Parity.pair(c.weight, seed: 11, on: vulkan)
        let bias = hasBias ? try Parity.pair([c.weight[0]], seed: 12, on: vulkan) : nil
        let out = try Parity.run(on: vulkan) { backend, side in
            try backend.conv2d(x[side], weight: weight[side], bias: bias?[side], stride: c.stride, padding: c.padding)
        }
        let outHeight = (c.input[2] + 2 * c.padding - c.weight[2]) / c.stride + 1
        let outWidth = (c.input[3] + 2 * c.padding - c.weight[3]) / c.stride + 1
        #expect(out.vulkanShape == [c.input[0], c.weight[0], outHeight, outWidth])
        Parity.expectScaled(out, tolerance: tolerance, "conv2d \(c.testDescription) bias \(hasBias)")
    }

    struct TemporalCase: Sendable, CustomTestStringConvertible {
        let input: [Int]
        let outputs: Int
        let kernel: Int
        let padding: Int
        var testDescription: String { "x \(input) -> \(outputs) kernel \(kernel) pad \(padding)" }
    }

    @Test(arguments: Self.temporalCases, [false, true])
    func temporalConv(_ c: TemporalCase, bias hasBias: Bool) throws {
        try Self.checkTemporalConv(c, bias: hasBias, on: Parity.vulkan(), tolerance: Self.tolerance)
    }

    static func checkTemporalConv(_ c: TemporalCase, bias hasBias: Bool, on vulkan: VulkanBackend, tolerance: Double) throws {
        let channels = c.input[1]
        let weightValues = SeededRandom(seed: 21).valuesCopy(c.outputs * channels * c.kernel)
        // Both weight layouts hold the same values in the same order.
        let weight5 = try Parity.pair(values: weightValues, shape: [c.outputs, channels, c.kernel, 1, 1], on: vulkan)
        let weight3 = try Parity.pair(values: weightValues, shape: [c.outputs, channels, c.kernel], on: vulkan)
        let x = try Parity.pair(c.input, seed: 20, on: vulkan)
        let bias = hasBias ? try Parity.pair([c.outputs], seed: 22, on: vulkan) : nil
        let frames = c.input[2] + 2 * c.padding - c.kernel + 1
        for (weight, layout) in [(weight5, "[O, C, K, 1, 1]"), (weight3, "[O, C, K]")] {
            let out = try Parity.run(on: vulkan) { backend, side in
                try backend.temporalConv(x[side], weight: weight[side], bias: bias?[side], padding: c.padding)
            }
            #expect(out.vulkanShape == [c.input[0], c.outputs, frames, c.input[3], c.input[4]])
            Parity.expectScaled(out, tolerance: tolerance,
                                "temporalConv \(c.testDescription) weight \(layout) bias \(hasBias)")
        }
    }

    /// Operands that do not fit are the same thrown error on both backends (the shared rules of
    /// `Shape`), never a trap.
    @Test func mismatchedOperandsThrowTheSameErrorOnBothBackends() throws {
        let calls: [(String, (any Backend) throws -> Tensor)] = [
            ("linear", { try $0.linear($0.zeros([2, 3]), weight: $0.zeros([4, 5]), bias: nil) }),
            ("conv2d", { try $0.conv2d($0.zeros([1, 3, 4, 4]), weight: $0.zeros([2, 4, 3, 3]), bias: nil, stride: 1, padding: 1) }),
            ("temporalConv", { try $0.temporalConv($0.zeros([1, 3, 2, 2, 2]), weight: $0.zeros([5, 3, 5]), bias: nil, padding: 0) }),
            ("attention", {
                try $0.attention(query: $0.zeros([2, 9, 16]), key: $0.zeros([2, 4, 16]), value: $0.zeros([2, 4, 16]),
                                 heads: 3, scale: 1, bias: nil)
            }),
            ("groupNorm", { try $0.groupNorm($0.zeros([2, 6, 3]), groups: 4, weight: nil, bias: nil, epsilon: 1e-5) }),
            ("layerNorm", { try $0.layerNorm($0.zeros([3, 7]), weight: nil, bias: $0.zeros([6]), epsilon: 1e-5) }),
        ]
        for (op, call) in calls {
            var messages: [String] = []
            for backend in [try Parity.vulkan() as any Backend, Parity.cpu] {
                do {
                    _ = try call(backend)
                    Issue.record("\(op) on \(backend.name) did not throw")
                } catch let error as TensorError {
                    messages.append(error.description)
                }
            }
            #expect(messages.count == 2 && messages[0] == messages[1] && messages[0].hasPrefix("\(op): "), "\(messages)")
        }
    }
}
