import CPUBackend
import Tensor
import Testing
import VulkanBackend

/// `attention` on Vulkan against the CPU backend.
///
/// The shapes probe `attention.comp`'s tiling: query tiles of 64 (one row per invocation), key
/// tiles of 2048 / D keys staged in shared memory (2048 keys at D = 1, 682 at D = 3, 256 at
/// D = 8, 51 at D = 40, 32 at D = 64, 25 at D = 80, 12 at D = 160, 8 at D = 256), and chunks of
/// 8 keys per online-softmax step; every head width the denoisers use or the kernel allows.
///
/// Tolerance: `max |vulkan - cpu| <= 2e-5 * max(1, max |cpu|)`. Each output is a convex
/// combination of values in [-1, 1]: both backends compute scores as f32 dot products over
/// D <= 256 terms and softmax weights with base-2 exponentials (Vulkan's `exp2` is good to
/// 3 + 2|x| ulp; scores are at most a few units apart here, so ~1e-6 relative), accumulate up
/// to 2100 weighted values in f32 and divide by the weight sum. The difference stays near 1e-6;
/// a key tile that is skipped or counted twice, or a stale running maximum, moves results by
/// O(0.01) or more. Rows whose keys are all masked must be exactly zero on both backends.
@Suite("Vulkan parity: attention")
struct AttentionParityTests {
    static let tolerance = 2e-5

    struct Case: Sendable, CustomTestStringConvertible {
        let batch, queries, keys, heads, headWidth: Int
        var testDescription: String { "B\(batch) Lq\(queries) Lk\(keys) heads\(heads) d\(headWidth)" }
        /// Keys per shared-memory tile in attention.comp.
        var keyTile: Int { 2048 / headWidth }
    }

    enum BiasKind: String, Sendable, CaseIterable {
        /// No bias.
        case none
        /// Finite values in [-2, 2).
        case finite
        /// Finite values with scattered `-infinity` entries; the first row masked entirely.
        case masked
        /// Whole key tiles masked: odd rows see none of the first tile and the next two keys
        /// (the running maximum stays `-infinity` through a whole tile), rows `4k + 2` see only
        /// the first 5 keys, and the first row sees none.
        case tiled
    }

    @Test(arguments: [
        Case(batch: 1, queries: 1, keys: 1, heads: 1, headWidth: 1),
        Case(batch: 2, queries: 5, keys: 3, heads: 2, headWidth: 3),  // temporal-attention sized
        Case(batch: 1, queries: 65, keys: 2100, heads: 1, headWidth: 1),  // two key tiles of 2048
        Case(batch: 1, queries: 7, keys: 700, heads: 1, headWidth: 3),  // key tiles of 682
        Case(batch: 2, queries: 70, keys: 257, heads: 2, headWidth: 8),  // query and key tiles straddled
        Case(batch: 1, queries: 33, keys: 53, heads: 2, headWidth: 40),
        Case(batch: 1, queries: 64, keys: 33, heads: 1, headWidth: 64),  // one full query tile
        Case(batch: 1, queries: 129, keys: 26, heads: 2, headWidth: 80),  // three query tiles
        Case(batch: 1, queries: 9, keys: 25, heads: 1, headWidth: 160),  // three key tiles of 12
        Case(batch: 1, queries: 3, keys: 17, heads: 1, headWidth: 256),  // the widest head: tiles of 8
        Case(batch: 35000, queries: 1, keys: 2, heads: 2, headWidth: 1),  // 70,000 (batch, head) pairs: past 65535 workgroups in y
    ], BiasKind.allCases)
    func attention(_ c: Case, bias biasKind: BiasKind) throws {
        try Self.checkAttention(c, bias: biasKind, on: Parity.vulkan(), tolerance: Self.tolerance)
    }

    static func checkAttention(_ c: Case, bias biasKind: BiasKind, on vulkan: VulkanBackend, tolerance: Double) throws {
        var random = SeededRandom(seed: 40)
        let width = c.heads * c.headWidth
        let query = try Parity.pair(values: random.values(c.batch * c.queries * width), shape: [c.batch, c.queries, width], on: vulkan)
        let key = try Parity.pair(values: random.values(c.batch * c.keys * width), shape: [c.batch, c.keys, width], on: vulkan)
        let value = try Parity.pair(values: random.values(c.batch * c.keys * width), shape: [c.batch, c.keys, width], on: vulkan)
        var biasValues: [Float]?
        switch biasKind {
        case .none:
            biasValues = nil
        case .finite:
            biasValues = random.values(c.queries * c.keys, spread: 2)
        case .masked:
            var values = random.values(c.queries * c.keys, spread: 2)
            for index in values.indices where index < c.keys || index % 3 == 1 { values[index] = -.infinity }
            biasValues = values
        case .tiled:
            var values = random.values(c.queries * c.keys, spread: 2)
            let hidden = c.keyTile + 2
            for i in 0 ..< c.queries {
                for j in 0 ..< c.keys where i == 0 || (i % 2 == 1 && j < hidden) || (i % 4 == 2 && j >= 5) {
                    values[i * c.keys + j] = -.infinity
                }
            }
            biasValues = values
        }
        let bias = try biasValues.map { try Parity.pair(values: $0, shape: [c.queries, c.keys], on: vulkan) }
        let scale = 1 / Float(c.headWidth).squareRoot()
        let out = try Parity.run(on: vulkan) { backend, side in
            try backend.attention(query: query[side], key: key[side], value: value[side], heads: c.heads, scale: scale,
                                  bias: bias?[side])
        }
        let label = "attention \(c.testDescription) bias \(biasKind)"
        #expect(out.vulkan.allSatisfy { $0.isFinite }, "\(label): non-finite output")
        if biasKind == .masked || biasKind == .tiled {
            // The fully masked first query row is exactly zero in every batch row.
            for b in 0 ..< c.batch {
                let row = out.vulkan[(b * c.queries) * width ..< (b * c.queries + 1) * width]
                #expect(row.allSatisfy { $0 == 0 }, "\(label): masked row of batch \(b) is not zero")
            }
        }
        Parity.expectScaled(out, tolerance: tolerance, label)
    }

    /// No keys: every row is fully masked, so the result is zeros (as the CPU backend gives).
    /// No queries: an empty result.
    @Test func emptyKeysAndQueries() throws {
        let query = try Parity.pair([2, 3, 8], seed: 41)
        let empty = try Parity.pair(values: [], shape: [2, 0, 8])
        let noKeys = try Parity.run { backend, side in
            try backend.attention(query: query[side], key: empty[side], value: empty[side], heads: 2, scale: 0.5, bias: nil)
        }
        #expect(noKeys.vulkan == [Float](repeating: 0, count: 48))
        Parity.expectExact(noKeys, "attention with no keys")

        let emptyBias = try Parity.pair(values: [], shape: [3, 0])
        let noKeysBiased = try Parity.run { backend, side in
            try backend.attention(query: query[side], key: empty[side], value: empty[side], heads: 4, scale: 0.5,
                                  bias: emptyBias[side])
        }
        Parity.expectExact(noKeysBiased, "attention with no keys and an empty bias")

        let keys = try Parity.pair([2, 5, 8], seed: 42)
        let noQueries = try Parity.run { backend, side in
            try backend.attention(query: empty[side], key: keys[side], value: keys[side], heads: 1, scale: 0.5, bias: nil)
        }
        #expect(noQueries.vulkanShape == [2, 0, 8])
        #expect(noQueries.vulkan.isEmpty)
    }

    /// Scores 1000 apart in magnitude: the online softmax must subtract the running maximum
    /// (across key tiles and chunks) to stay finite. The last key dominates by e^-10 or more
    /// per other key, so the output is (keys - 1) within 1e-3.
    @Test(arguments: [2, 200, 2100])
    func softmaxIsStableForLargeScores(keys: Int) throws {
        let vulkan = try Parity.vulkan()
        let keyValues = (0 ..< keys).map { (j: Int) -> Float in 1 + 2 * Float(j) / Float(keys - 1) }
        let scoreScale = Float(10 * (keys - 1)) / 2
        let result = try vulkan.attention(
            query: vulkan.upload([1], shape: [1, 1, 1]), key: vulkan.upload(keyValues, shape: [1, keys, 1]),
            value: vulkan.upload((0 ..< keys).map(Float.init), shape: [1, keys, 1]), heads: 1,
            scale: max(1000, scoreScale), bias: nil)
        let output = try vulkan.download(result)[0]
        #expect(abs(output - Float(keys - 1)) <= 1e-3, "got \(output)")
    }

    /// A large finite negative bias (diffusers' mask style) weighs exactly nothing, like
    /// `-infinity`: the masked keys' huge values (1e30) must not leak into the output.
    @Test(arguments: [16, 100])
    func largeNegativeBiasMasksExactly(keys: Int) throws {
        let vulkan = try Parity.vulkan()
        var bias = [Float](repeating: 0, count: 2 * keys)
        for j in 0 ..< keys where j % 2 == 1 {
            bias[j] = -10_000
            bias[keys + j] = -.infinity
        }
        let result = try vulkan.attention(
            query: vulkan.upload([0.5, -0.5], shape: [1, 2, 1]),
            key: vulkan.upload((0 ..< keys).map { (j: Int) -> Float in Float(j) / Float(keys) }, shape: [1, keys, 1]),
            value: vulkan.upload((0 ..< keys).map { (j: Int) -> Float in j % 2 == 1 ? 1e30 : 1 }, shape: [1, keys, 1]),
            heads: 1, scale: 1, bias: vulkan.upload(bias, shape: [2, keys]))
        let output = try vulkan.download(result)
        #expect(output.allSatisfy { abs($0 - 1) <= 1e-6 }, "got \(output)")
    }

    /// Heads wider than the kernel's 256 are a resource limit: a thrown error naming the width.
    @Test func headWiderThanKernelThrows() throws {
        let vulkan = try Parity.vulkan()
        let x = try vulkan.zeros([1, 2, 257])
        #expect {
            _ = try vulkan.attention(query: x, key: x, value: x, heads: 1, scale: 1, bias: nil)
        } throws: { error in
            (error as? TensorError)?.message.contains("257") == true
        }
    }
}
