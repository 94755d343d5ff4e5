import Tensor
import TestSupport
import Testing
@testable import VulkanBackend

/// A backend that runs the GEMM-shaped ops on cooperative matrices, where the device allows.
enum CooperativeMatrixDevice {
    /// Attention too runs on the matrices (`attention_coopmat.comp`, which the product leaves off).
    static let backend: VulkanBackend? = try? VulkanBackend(device: nil, shaderDirectory: nil, weightType: .f32,
                                                            cooperativeMatrix: .on, attentionOnMatrices: true)
    /// The same with operator weights stored as f16.
    static let halfWeights: VulkanBackend? = try? VulkanBackend(device: nil, shaderDirectory: nil, weightType: .f16,
                                                                cooperativeMatrix: .on, attentionOnMatrices: true)
}

/// `gemm_coopmat.comp` (linear, linear + GEGLU, conv2d, temporal conv on cooperative matrices)
/// against the CPU backend, on the same shapes as the f32 kernels' suite plus shapes that cross
/// its 128 x 128 tiles and 32-deep K steps, and a whole UNet forward.
///
/// Runs only where the device offers cooperative matrices the kernel fits: an NVIDIA, AMD or
/// Intel GPU, or lavapipe from Mesa 26 (8x8x8 matrices on the CPU; `scripts/check-coopmat-lavapipe.sh`
/// runs this suite in a Debian chroot with it). Debian 12's lavapipe lacks them, so CI reports
/// the suite as skipped.
///
/// Tolerance: `max |vulkan - cpu| <= 2e-3 * max(1, max |cpu|)` (lavapipe's worst case here: 4.4e-4). The kernel rounds both operands
/// to f16 (relative error <= 2^-11 each), so each product is off by up to ~1e-3 of its size and a
/// sum of K products of random sign by ~sqrt(K) * 1e-3 * E|x w|, against outputs of size
/// ~sqrt(K) * E|x w|: about 1e-3 of the scale, with room for the largest of many outputs. An
/// indexing bug (a lost K step, a misplaced row, column or padding tap) errs by O(0.1) or more.
@Suite("Vulkan parity: cooperative-matrix GEMM",
       .enabled(if: CooperativeMatrixDevice.backend != nil, "the device has no cooperative matrices the kernel fits"))
struct CooperativeMatrixParityTests {
    static let tolerance = 2e-3

    static func matrices() throws -> VulkanBackend { try #require(CooperativeMatrixDevice.backend) }

    typealias LinearCase = GemmParityTests.LinearCase
    typealias ConvCase = GemmParityTests.ConvCase
    typealias TemporalCase = GemmParityTests.TemporalCase

    @Test(arguments: GemmParityTests.linearCases + [
        LinearCase(input: [300, 96], outputs: 200),  // 3 row and 2 column tiles of 128, K = 3 steps
        LinearCase(input: [129, 33], outputs: 129),  // one past a tile each way, K one past a step
        LinearCase(input: [256, 64], outputs: 256),  // whole tiles and steps
    ], [false, true])
    func linear(_ c: LinearCase, bias hasBias: Bool) throws {
        try GemmParityTests.checkLinear(c, bias: hasBias, on: Self.matrices(), tolerance: Self.tolerance)
    }

    /// A tile covers 64 gated outputs: their hidden and gate columns in each subgroup's half.
    @Test(arguments: GemmParityTests.gegluCases + [
        LinearCase(input: [200, 40], outputs: 258),  // 129 outputs: three column tiles, the last nearly empty
        LinearCase(input: [130, 64], outputs: 128),  // exactly one column tile
    ], [false, true])
    func linearGEGLU(_ c: LinearCase, bias hasBias: Bool) throws {
        try GemmParityTests.checkLinearGEGLU(c, bias: hasBias, on: Self.matrices(), tolerance: Self.tolerance)
    }

    @Test(arguments: GemmParityTests.convCases + [
        ConvCase(input: [2, 40, 9, 10], weight: [130, 40, 3, 3], stride: 1, padding: 1),  // K = 360, O past a tile
        ConvCase(input: [1, 33, 17, 15], weight: [20, 33, 3, 3], stride: 2, padding: 1),  // strided, odd sizes
    ], [false, true])
    func conv2d(_ c: ConvCase, bias hasBias: Bool) throws {
        try GemmParityTests.checkConv2d(c, bias: hasBias, on: Self.matrices(), tolerance: Self.tolerance)
    }

    @Test(arguments: GemmParityTests.temporalCases + [
        TemporalCase(input: [2, 20, 5, 4, 7], outputs: 140, kernel: 3, padding: 1),  // 280 rows, K = 60
        TemporalCase(input: [2, 16, 6, 3, 5], outputs: 130, kernel: 3, padding: 1),  // K = 48: weight rows 8 at a time
    ], [false, true])
    func temporalConv(_ c: TemporalCase, bias hasBias: Bool) throws {
        try GemmParityTests.checkTemporalConv(c, bias: hasBias, on: Self.matrices(), tolerance: Self.tolerance)
    }

    /// Operator weights stored as f16 (as `--weight-precision f16` stores them), which the kernel
    /// reads 8 at a time where the reduction is a multiple of 8 and one at a time elsewhere;
    /// against the CPU with the f16-rounded weights.
    @Test(arguments: [
        ("linear", [130, 64, 200]), ("linear", [70, 33, 65]), ("geglu", [65, 40, 130]),
        ("conv2d", [8]), ("conv2d", [5]), ("temporal", [8]), ("temporal", [5]),
    ])
    func halfWeights(_ op: String, _ sizes: [Int]) throws {
        let half = try #require(CooperativeMatrixDevice.halfWeights)
        let out: Outputs
        switch op {
        case "linear", "geglu":
            let (m, k, n) = (sizes[0], sizes[1], sizes[2])
            let x = try HalfWeightTests.upload([m, k], seed: 31, on: half), bias = try HalfWeightTests.upload([n], seed: 32, on: half)
            out = try HalfWeightTests.run(on: half, weightShape: [n, k], seed: 33) { backend, weight in
                let vulkan = backend is VulkanBackend
                let (input, b) = (vulkan ? x.vulkan : x.cpu, vulkan ? bias.vulkan : bias.cpu)
                return op == "geglu" ? try backend.linearGEGLU(input, weight: weight, bias: b)
                    : try backend.linear(input, weight: weight, bias: b)
            }
        case "conv2d":
            let x = try HalfWeightTests.upload([2, sizes[0], 9, 7], seed: 34, on: half)
            out = try HalfWeightTests.run(on: half, weightShape: [67, sizes[0], 3, 3], seed: 35) { backend, weight in
                try backend.conv2d(backend is VulkanBackend ? x.vulkan : x.cpu, weight: weight, bias: nil, stride: 1, padding: 1)
            }
        default:
            let video = try HalfWeightTests.upload([1, sizes[0], 6, 3, 3], seed: 36, on: half)
            out = try HalfWeightTests.run(on: half, weightShape: [7, sizes[0], 3, 1, 1], seed: 37) { backend, weight in
                try backend.temporalConv(backend is VulkanBackend ? video.vulkan : video.cpu, weight: weight, bias: nil, padding: 1)
            }
        }
        Parity.expectScaled(out, tolerance: Self.tolerance, "\(op) \(sizes) with f16 weights on cooperative matrices")
    }

    /// `attention_coopmat.comp` (heads of 16 to 64 channels; 64 needs more shared memory than
    /// lavapipe has, so there it runs the f32 kernel): query tiles of 64 (16 rows a subgroup) and
    /// key tiles of 32 straddled, every bias kind of the f32 suite (masked rows exactly zero).
    /// Tolerance as the GEMMs' (2e-3 of the scale): q, k, v and the weights are rounded to f16,
    /// so scores are off by ~1e-3 of |q| |k| and the outputs, convex combinations of v in
    /// [-1, 1], by ~1e-3 at most (lavapipe's worst: 4.7e-4).
    @Test(arguments: [
        AttentionParityTests.Case(batch: 2, queries: 5, keys: 3, heads: 2, headWidth: 16),  // temporal-attention sized
        AttentionParityTests.Case(batch: 2, queries: 70, keys: 257, heads: 2, headWidth: 16),  // both tiles straddled
        AttentionParityTests.Case(batch: 1, queries: 64, keys: 32, heads: 1, headWidth: 32),  // one tile each
        AttentionParityTests.Case(batch: 1, queries: 129, keys: 77, heads: 3, headWidth: 32),  // cross-attention sized
        AttentionParityTests.Case(batch: 1, queries: 33, keys: 100, heads: 2, headWidth: 48),
        AttentionParityTests.Case(batch: 1, queries: 40, keys: 65, heads: 2, headWidth: 64),  // VideoCrafter2's width
        AttentionParityTests.Case(batch: 33000, queries: 1, keys: 3, heads: 2, headWidth: 16),  // pairs past 65535 workgroups in y
    ], AttentionParityTests.BiasKind.allCases)
    func attention(_ c: AttentionParityTests.Case, bias: AttentionParityTests.BiasKind) throws {
        try AttentionParityTests.checkAttention(c, bias: bias, on: Self.matrices(), tolerance: Self.tolerance)
    }

    /// The whole forward: every linear, convolution and feed-forward of the fixture UNets on
    /// cooperative matrices, within 1e-2 of the CPU backend's scale (the per-op error above
    /// through ~50 ops: 2.1e-3 and 1.3e-3 on lavapipe; the f32 kernels' suite holds 1e-3).
    @Test(arguments: ["unet-tiny", "unet-fps"])
    func unetForward(name: String) async throws {
        let ours = try await VulkanModelTests.forward(name, on: Self.matrices())
        let cpu = try await VulkanModelTests.forward(name, on: VulkanModelTests.cpu)
        let scale = maxAbs(cpu)
        #expect(scale > 0.5, "reference output is degenerate")
        #expect(maxAbsDifference(ours, cpu) <= 1e-2 * scale)
        if Parity.verbose { print("coopmat forward \(name): \(maxAbsDifference(ours, cpu) / scale) of scale") }
    }
}
