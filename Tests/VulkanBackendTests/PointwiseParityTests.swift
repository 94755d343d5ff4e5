import CPUBackend
import Tensor
import Testing
import VulkanBackend

/// Memory (`upload`, `download`, `zeros`), the element-wise ops (`activation`, `geglu`, `add`,
/// `scale`) and `timestepEmbedding` on Vulkan against the CPU backend. Sizes around 256 probe
/// the grid-stride kernels' workgroups.
@Suite("Vulkan parity: memory and pointwise")
struct PointwiseParityTests {
    // MARK: Memory

    /// Bit-exact: a copy to the device and back, special values included.
    @Test(arguments: [[], [0], [1], [5], [3, 0, 2], [255], [257], [1000, 3]] as [[Int]])
    func uploadDownloadRoundTrip(shape: [Int]) throws {
        let vulkan = try Parity.vulkan()
        let specials: [Float] = [-0.0, .infinity, -.infinity, .nan, Float(bitPattern: 0x7FC1_2345), Float(bitPattern: 0x0001_1170),
                                 .greatestFiniteMagnitude, -.leastNonzeroMagnitude]
        let count = shape.reduce(1, *)
        var random = SeededRandom(seed: 1)
        var values = random.values(count, spread: 1000)
        for index in 0 ..< min(count, specials.count) { values[index] = specials[index] }
        let tensor = try vulkan.upload(values, shape: shape)
        #expect(tensor.shape == shape)
        let back = try vulkan.download(tensor)
        #expect(back.map(\.bitPattern) == values.map(\.bitPattern))
    }

    /// Zeros, also in memory a freed tensor left dirty (the pool reuses blocks of a size class).
    @Test(arguments: [[], [0], [7], [256], [3, 65, 5]] as [[Int]])
    func zeros(shape: [Int]) throws {
        let vulkan = try Parity.vulkan()
        let count = shape.reduce(1, *)
        for _ in 0 ..< 3 {
            _ = try vulkan.download(vulkan.upload([Float](repeating: .nan, count: count), shape: shape))
        }
        let zero = try vulkan.zeros(shape)
        #expect(zero.shape == shape)
        #expect(try vulkan.download(zero).map(\.bitPattern) == [UInt32](repeating: 0, count: count))
    }

    // MARK: Activations

    /// Tolerance `|vulkan - cpu| <= 1e-6 * max(1, |x|) + 4e-6 * |cpu|`: the GPU's `exp` is the
    /// CPU's polynomial (about 1 ulp) but a Vulkan division may be 2.5 ulp off, so SiLU and the
    /// tanh GELU differ by a few ulp (relative part); the GPU's `erf` is within 1.8e-7 and the
    /// CPU's within 4.5e-7, which a GELU scales by |x| / 2 (absolute part, also covering
    /// `1 + erf` cancelling for very negative x, as it does in PyTorch).
    @Test(arguments: Activation.allCases)
    func activation(_ activation: Activation) throws {
        let extremes: [Float] = [0, -0.0, -0.5, 0.5, -3, 3, -10, 10, -30, 30, -50, 50, -100, 100, 1e-20, -1e-20,
                                 -88, 88, -89, 89]
        var random = SeededRandom(seed: 2)
        let data = extremes + random.values(5011, spread: 8)
        let x = try Parity.pair(values: data, shape: [data.count])
        let out = try Parity.run { backend, side in try backend.activation(x[side], activation) }
        #expect(out.vulkan.allSatisfy { $0.isFinite }, "\(activation): non-finite output")
        Parity.expectElementwise(out, absolute: { (i: Int) -> Double in 1e-6 * max(1, Double(abs(data[i]))) },
                                 relative: 4e-6, "\(activation)")
    }

    /// Rank 3..5 and widths around the grid-stride block. Tolerance as the GELU's, times |h|:
    /// `1e-6 * max(1, |g|) * max(1, |h|) + 4e-6 * |cpu|`.
    @Test(arguments: [[2], [4, 6], [2, 3, 10], [3, 1, 2, 2, 130], [1, 514]] as [[Int]])
    func geglu(shape: [Int]) throws {
        let x = try Parity.pair(shape, seed: 3, spread: 4)
        let out = try Parity.run { backend, side in try backend.geglu(x[side]) }
        let half = shape.last! / 2
        #expect(out.vulkanShape == shape.dropLast() + [half])
        let absolute = { (i: Int) -> Double in
            let base = i / half * 2 * half + i % half
            let h = Double(abs(x.values[base])), g = Double(abs(x.values[base + half]))
            return 1e-6 * max(1, g) * max(1, h)
        }
        Parity.expectElementwise(out, absolute: absolute, relative: 4e-6, "geglu \(shape)")
    }

    // MARK: add and scale

    static let broadcastCases: [(a: [Int], b: [Int])] = [
        ([2, 3, 4], [2, 3, 4]),  // same shape
        ([300, 257], [300, 257]),
        ([2, 3, 4, 5], [3, 1, 1]),  // per-channel bias [C, 1, 1]
        ([2, 3, 4, 5], [2, 3, 1, 1]),
        ([2, 3, 4, 5, 6], [1, 3, 1, 1, 1]),  // per-channel on a video [B, C, F, H, W]
        ([2, 5, 7], [7]),  // leading-rank broadcast: a row [D] on [..., D]
        ([2, 5, 7], [5, 1]),
        ([2, 3, 4], [2, 1, 4]),  // broadcast in the middle
        ([5, 4, 3], [1]),  // scalar-like
        ([5, 4, 3], [1, 1, 1]),
        ([5, 4, 3], []),  // a rank-0 scalar
        ([9], [1]),
        ([1], [1]),
        ([3, 1, 4], [1, 1, 4]),  // extent-1 axes on both sides
        ([2, 3, 4, 5, 6], [3, 1, 5, 1]),  // alternating runs, rank 5
        ([2, 1, 3, 2, 4, 1, 5], [3, 1, 4, 1, 5]),  // rank 7 that merges to fewer than 7 axes
        ([0, 4], [4]),  // empty
    ]

    /// Bit-exact: one f32 addition per element, correctly rounded on both.
    @Test(arguments: broadcastCases.indices)
    func add(caseIndex: Int) throws {
        let (aShape, bShape) = Self.broadcastCases[caseIndex]
        let a = try Parity.pair(aShape, seed: 5, spread: 10)
        let b = try Parity.pair(bShape, seed: 6, spread: 10)
        let out = try Parity.run { backend, side in try backend.add(a[side], b[side]) }
        Parity.expectExact(out, "add \(aShape) + \(bShape)")
    }

    /// Bit-exact: one f32 multiplication per element.
    @Test(arguments: [[0], [1], [17], [255], [3, 1000]] as [[Int]], [Float(0.18215), -2, 0])
    func scale(shape: [Int], factor: Float) throws {
        let x = try Parity.pair(shape, seed: 8, spread: 5)
        let out = try Parity.run { backend, side in try backend.scale(x[side], by: factor) }
        Parity.expectExact(out, "scale \(shape) by \(factor)")
    }

    // MARK: Timestep embedding

    static let timesteps: [Float] = [0, 1, 37.5, 261, 500, 999]

    /// Tolerance `2e-6 + 2.4e-7 * t` per value (t the row's timestep): both compute the
    /// exponent `logPeriod * i / divisor` rounded the same way, but the GPU's `exp` (the CPU
    /// backend's polynomial, ~1 ulp) may differ from libm's `expf` by an ulp (1.2e-7 relative),
    /// which moves the argument `t * frequency` (frequency <= 1) by up to `t * 1.2e-7`; sin and
    /// cos of the exactly reduced argument add an ulp or two each side. A swapped half, a wrong
    /// frequency index or a missing padding column errs by O(0.1).
    @Test(arguments: [1, 7, 8, 9, 320, 321], [false, true])
    func timestepEmbedding(dim: Int, flip: Bool) throws {
        let t = try Parity.pair(values: Self.timesteps, shape: [Self.timesteps.count])
        for shift: Float in [0, 1] {
            let out = try Parity.run { backend, side in
                try backend.timestepEmbedding(t[side], dim: dim, flipSinToCos: flip, downscaleFreqShift: shift,
                                              maxPeriod: 10000)
            }
            let absolute = { (i: Int) -> Double in 2e-6 + 2.4e-7 * Double(Self.timesteps[i / dim]) }
            Parity.expectElementwise(out, absolute: absolute, relative: 0, "timestepEmbedding dim \(dim) flip \(flip) shift \(shift)")
            if dim % 2 == 1 {
                #expect((0 ..< Self.timesteps.count).allSatisfy { out.vulkan[$0 * dim + dim - 1] == 0 },
                        "odd dim \(dim): the padding column is not zero")
            }
        }
    }

    /// No timesteps: an empty embedding.
    @Test func timestepEmbeddingOfNoTimesteps() throws {
        let vulkan = try Parity.vulkan()
        let result = try vulkan.timestepEmbedding(vulkan.zeros([0]), dim: 320, flipSinToCos: true,
                                                  downscaleFreqShift: 0, maxPeriod: 10000)
        #expect(result.shape == [0, 320])
    }
}
