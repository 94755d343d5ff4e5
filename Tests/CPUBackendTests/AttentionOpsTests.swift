#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import CPUBackend
import CPUKernels
import CPUKernelsAVX2
import CPUKernelsAVX512
import Tensor
import Testing

// `attention` against a naive reference with double-precision accumulation. The shapes probe
// both kernels' tiling. The flash kernel (any key count): an online softmax over tiles of
// `FlashTiling.keyTile` keys, query rows in groups of 4 and tiles of 64, head widths
// 4/8/16/32/64 specialised, and heads narrower than a vector over many keys taking the
// transposed-values path. The query-lanes kernel: queries in blocks of a vector's lanes, keys
// in tiles of 256, head widths 4/8/16/32/64 specialised, values in blocks of eight channels.
// Each case runs with both kernels, in every instruction set this CPU runs (AVX2, AVX-512).
// Every comparison allows a maximum absolute error of 1e-4 times the larger of 1 and the
// reference's largest magnitude: the outputs are convex combinations of values in [-1, 1], and
// float32 accumulation over at most 1100 keys with a 2e-7 exponential stays far below that.

@Suite("Attention ops")
struct AttentionOpsTests {
    let backend = CPUBackend(threads: 2)

    struct Case: Sendable, CustomTestStringConvertible {
        let batch, queries, keys, heads, headWidth: Int
        var testDescription: String { "B\(batch) Lq\(queries) Lk\(keys) heads\(heads) d\(headWidth)" }
    }

    enum BiasKind: String, Sendable, CaseIterable {
        /// No bias.
        case none
        /// Finite values in [-2, 2).
        case finite
        /// Finite values with scattered `-infinity` entries and a first row masked entirely.
        case masked
        /// Whole key tiles masked per row: odd rows see no key of the first tile nor the next
        /// two (so the running maximum stays `-infinity` through a whole tile), rows `4k + 2`
        /// see only the first 5 keys, and the first row sees none.
        case tiled
    }

    static let cases = [
        // Few keys (temporal attention: one key per frame).
        Case(batch: 1, queries: 1, keys: 1, heads: 1, headWidth: 1),
        Case(batch: 2, queries: 5, keys: 3, heads: 2, headWidth: 3),
        Case(batch: 3, queries: 16, keys: 16, heads: 8, headWidth: 8),
        Case(batch: 1, queries: 33, keys: 17, heads: 1, headWidth: 8),
        Case(batch: 2, queries: 7, keys: 64, heads: 2, headWidth: 40),
        Case(batch: 1, queries: 300, keys: 9, heads: 2, headWidth: 3),
        // The query-lanes kernel's specialised head widths (4, 8, 16, 32, 64: blocks of eight
        // channels and a short last block), query blocks of 8 and 16 lanes.
        Case(batch: 2, queries: 17, keys: 12, heads: 2, headWidth: 4),
        Case(batch: 1, queries: 20, keys: 24, heads: 2, headWidth: 16),
        Case(batch: 2, queries: 9, keys: 30, heads: 3, headWidth: 32),
        Case(batch: 1, queries: 16, keys: 40, heads: 2, headWidth: 64),
        Case(batch: 1, queries: 24, keys: 64, heads: 1, headWidth: 12),
        Case(batch: 1, queries: 20, keys: 1024, heads: 1, headWidth: 8),
        // Every specialised head width, generic odd and wide ones, query counts that leave
        // partial groups and tiles, key counts that leave partial chunks and span key tiles.
        Case(batch: 1, queries: 5, keys: 65, heads: 1, headWidth: 3),
        Case(batch: 2, queries: 40, keys: 77, heads: 8, headWidth: 8),
        Case(batch: 2, queries: 67, keys: 300, heads: 2, headWidth: 8),
        Case(batch: 1, queries: 33, keys: 150, heads: 3, headWidth: 16),
        Case(batch: 1, queries: 21, keys: 129, heads: 2, headWidth: 32),
        Case(batch: 1, queries: 9, keys: 260, heads: 2, headWidth: 64),
        Case(batch: 1, queries: 13, keys: 140, heads: 2, headWidth: 80),
        Case(batch: 1, queries: 11, keys: 97, heads: 3, headWidth: 13),
        Case(batch: 1, queries: 6, keys: 70, heads: 1, headWidth: 160),
        Case(batch: 1, queries: 200, keys: 200, heads: 2, headWidth: 40),
        Case(batch: 1, queries: 70, keys: 1100, heads: 1, headWidth: 1),
        Case(batch: 2, queries: 9, keys: 1030, heads: 2, headWidth: 8),
        // Heads narrower than a vector over at least 256 keys (values packed transposed):
        // odd widths, the specialised 4 and 8, one wider than AVX2's vector but not AVX-512's.
        Case(batch: 1, queries: 37, keys: 530, heads: 2, headWidth: 3),
        Case(batch: 1, queries: 45, keys: 700, heads: 2, headWidth: 4),
        Case(batch: 1, queries: 10, keys: 333, heads: 1, headWidth: 13),
    ]

    @Test("attention matches the reference with every kernel that takes the case", arguments: cases, BiasKind.allCases)
    func attentionMatchesReference(_ c: Case, bias biasKind: BiasKind) throws {
        let kernels = CPUBackend.AttentionKernel.supported
        #expect(kernels.count >= 2)
        for kernel in kernels {
            try checkAttention(c, bias: biasKind, kernel: kernel)
        }
    }

    @Test func kernelChoice() {
        let avx2 = CPUBackend(threads: 1, instructionSet: .avx2)
        #expect(avx2.attentionKernel(queries: 16, keys: 16, headWidth: 16) == .queryLanes(.avx2))
        #expect(avx2.attentionKernel(queries: 16, keys: 17, headWidth: 16) == .flash(.avx2))
        #expect(avx2.attentionKernel(queries: 16, keys: 16, headWidth: 32) == .flash(.avx2))
        #expect(avx2.attentionKernel(queries: 1024, keys: 128, headWidth: 8) == .queryLanes(.avx2))
        #expect(avx2.attentionKernel(queries: 1024, keys: 129, headWidth: 8) == .flash(.avx2))
        #expect(avx2.attentionKernel(queries: 1024, keys: 1024, headWidth: 64) == .flash(.avx2))
        guard CPUBackend.InstructionSet.avx512.isSupported else { return }
        let avx512 = CPUBackend(threads: 1, instructionSet: .avx512)
        #expect(avx512.attentionKernel(queries: 16, keys: 16, headWidth: 8) == .queryLanes(.avx512))
        #expect(avx512.attentionKernel(queries: 8, keys: 16, headWidth: 8) == .queryLanes(.avx2))
        #expect(avx512.attentionKernel(queries: 4096, keys: 4096, headWidth: 8) == .queryLanes(.avx512))
        #expect(avx512.attentionKernel(queries: 512, keys: 512, headWidth: 16) == .queryLanes(.avx512))
        #expect(avx512.attentionKernel(queries: 1024, keys: 1024, headWidth: 16) == .flash(.avx512))
        #expect(avx512.attentionKernel(queries: 16, keys: 16, headWidth: 32) == .queryLanes(.avx512))
        #expect(avx512.attentionKernel(queries: 64, keys: 64, headWidth: 32) == .flash(.avx512))
        #expect(avx512.attentionKernel(queries: 16, keys: 16, headWidth: 64) == .flash(.avx2))
        #expect(avx512.attentionKernel(queries: 32, keys: 32, headWidth: 64) == .flash(.avx512))
        #expect(avx512.attentionKernel(queries: 1024, keys: 77, headWidth: 16) == .queryLanes(.avx512))
        #expect(avx512.attentionKernel(queries: 1024, keys: 77, headWidth: 24) == .flash(.avx2))
    }

    func checkAttention(_ c: Case, bias biasKind: BiasKind, kernel: CPUBackend.AttentionKernel) throws {
        let backend = CPUBackend(threads: 2, instructionSet: kernel.instructionSet)
        var random = TestRandom(seed: 4)
        let width = c.heads * c.headWidth
        let query = random.values(c.batch * c.queries * width)
        let key = random.values(c.batch * c.keys * width)
        let value = random.values(c.batch * c.keys * width)
        var bias: [Float]?
        switch biasKind {
        case .none:
            bias = nil
        case .finite:
            bias = random.values(c.queries * c.keys).map { 2 * $0 }
        case .masked:
            var values = random.values(c.queries * c.keys).map { 2 * $0 }
            for index in values.indices where index < c.keys || index % 3 == 1 { values[index] = -.infinity }
            bias = values
        case .tiled:
            var values = random.values(c.queries * c.keys).map { 2 * $0 }
            for i in 0 ..< c.queries {
                let hidden = FlashTiling.keyTile + 2
                for j in 0 ..< c.keys where i == 0 || (i % 2 == 1 && j < hidden) || (i % 4 == 2 && j >= 5) {
                    values[i * c.keys + j] = -.infinity
                }
            }
            bias = values
        }
        let scale = 1 / Float(c.headWidth).squareRoot()

        let result = try backend.attention(
            query: backend.upload(query, shape: [c.batch, c.queries, width]),
            key: backend.upload(key, shape: [c.batch, c.keys, width]),
            value: backend.upload(value, shape: [c.batch, c.keys, width]),
            heads: c.heads, scale: scale, bias: bias.map { try backend.upload($0, shape: [c.queries, c.keys]) },
            kernel: kernel)

        #expect(result.shape == [c.batch, c.queries, width])
        let expected = referenceAttention(c, query: query, key: key, value: value, bias: bias, scale: scale)
        let actual = try backend.download(result)
        #expect(actual.allSatisfy { $0.isFinite }, "\(kernel)")
        if biasKind == .masked || biasKind == .tiled {
            // The fully masked first query row is exactly zero in every batch row.
            for b in 0 ..< c.batch {
                #expect(actual[(b * c.queries) * width ..< (b * c.queries + 1) * width].allSatisfy { $0 == 0 }, "\(kernel)")
            }
        }
        expectClose(actual, expected, "\(kernel)")
    }

    @Test func attentionRejectsBadArguments() throws {
        let q = try backend.zeros([2, 4, 6])
        let kv = try backend.zeros([2, 5, 6])
        #expect(throws: TensorError.self) { try backend.attention(query: q, key: kv, value: kv, heads: 4, scale: 1, bias: nil) }
        #expect(throws: TensorError.self) { try backend.attention(query: q, key: kv, value: kv, heads: 0, scale: 1, bias: nil) }
        #expect(throws: TensorError.self) {
            try backend.attention(query: q, key: kv, value: backend.zeros([2, 4, 6]), heads: 2, scale: 1, bias: nil)
        }
        #expect(throws: TensorError.self) {
            try backend.attention(query: q, key: backend.zeros([1, 5, 6]), value: backend.zeros([1, 5, 6]), heads: 2, scale: 1, bias: nil)
        }
        #expect(throws: TensorError.self) {
            try backend.attention(query: q, key: kv, value: kv, heads: 2, scale: 1, bias: backend.zeros([5, 4]))
        }
    }

    /// Scores far apart in magnitude: the softmax must subtract the row maximum to stay finite.
    @Test(arguments: [2, 200])
    func attentionSoftmaxIsStableForLargeScores(keys: Int) throws {
        // One query, one head of width 1, key j = 1 + 2j / (keys - 1), value j = j: scores
        // 1000 * key. The last key's score beats the next one by 2000 / (keys - 1) >= 10,
        // so its weight is 1 within e^-10 per other key: the result is (keys - 1) within 1e-3.
        let keyValues = (0 ..< keys).map { 1 + 2 * Float($0) / Float(keys - 1) }
        let result = try backend.attention(
            query: backend.upload([1], shape: [1, 1, 1]), key: backend.upload(keyValues, shape: [1, keys, 1]),
            value: backend.upload((0 ..< keys).map(Float.init), shape: [1, keys, 1]), heads: 1, scale: 1000, bias: nil)
        let output = try backend.download(result)[0]
        #expect(abs(output - Float(keys - 1)) <= 1e-3, "got \(output)")
    }

    /// A large finite negative bias (diffusers' style of mask) weighs exactly nothing, like
    /// `-infinity`: the masked keys' huge values must not leak into the output.
    @Test(arguments: [16, 100])
    func largeNegativeBiasMasksExactly(keys: Int) throws {
        // Two queries; key j has value 1e30 for odd j and 1 for even j; the bias hides odd keys
        // from both queries with -1e4 (row 0) and -infinity (row 1).
        var bias = [Float](repeating: 0, count: 2 * keys)
        for j in 0 ..< keys where j % 2 == 1 {
            bias[j] = -10_000
            bias[keys + j] = -.infinity
        }
        let result = try backend.attention(
            query: backend.upload([0.5, -0.5], shape: [1, 2, 1]),
            key: backend.upload((0 ..< keys).map { Float($0) / Float(keys) }, shape: [1, keys, 1]),
            value: backend.upload((0 ..< keys).map { $0 % 2 == 1 ? 1e30 : 1 }, shape: [1, keys, 1]),
            heads: 1, scale: 1, bias: backend.upload(bias, shape: [2, keys]))
        let output = try backend.download(result)
        // Every visible value is 1, so the convex combination is 1 up to rounding of the weights.
        #expect(output.allSatisfy { abs($0 - 1) <= 1e-6 }, "got \(output)")
    }

    /// The kernel's `2^x` (AVX2 build) against libm's `exp2`; see ``checkExp2(_:)``.
    @Test func exp2MatchesLibmAVX2() {
        checkExp2(AVX2.self)
    }

    /// The kernel's `2^x` (AVX-512 build) against libm's `exp2`; see ``checkExp2(_:)``.
    @Test(.enabled(if: CPUBackend.InstructionSet.avx512.isSupported, "this CPU lacks AVX-512"))
    func exp2MatchesLibmAVX512() {
        checkExp2(AVX512.self)
    }

    /// `ISA.exp2` (relative error at most 3e-7) and `ISA.exp2Weight`, the attention kernels'
    /// softmax weights (at most 3e-6), over the range the kernels feed them, down to 2^-125;
    /// both exactly 1 at 0, exactly 0 at and below -127 and at -infinity.
    /// The query-lanes kernel's block transposes, rows to lanes and back, at every width they
    /// take, against the element-wise definition: exact (shuffles and one multiplication).
    @Test func blockTransposesAVX2() {
        checkBlockTransposes(AVX2.self, widths: [4, 8, 16, 32, 64])
    }

    @Test(.enabled(if: CPUBackend.InstructionSet.avx512.isSupported, "this CPU lacks AVX-512"))
    func blockTransposesAVX512() {
        checkBlockTransposes(AVX512.self, widths: [8, 16, 32, 64])
    }

    func checkBlockTransposes<ISA: VectorISA>(_: ISA.Type, widths: [Int]) {
        let lanes = ISA.lanes
        #expect(widths.allSatisfy { ISA.transposes(width: $0) })
        #expect(!ISA.transposes(width: lanes / 4) && !ISA.transposes(width: 24) && !ISA.transposes(width: 3))
        for d in widths {
            let stride = d + 5  // rows apart as in a tensor of several heads
            var random = TestRandom(seed: UInt64(d))
            let rows = random.values(lanes * stride)
            let transposed = UnsafeMutablePointer<Float>.allocate(capacity: d * lanes)
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: d * lanes)
            let back = UnsafeMutablePointer<Float>.allocate(capacity: lanes * stride)
            defer { [transposed, scratch, back].forEach { $0.deallocate() } }
            rows.withUnsafeBufferPointer {
                ISA.transposeRows($0.baseAddress!, stride: stride, width: d, scale: 0.5, into: transposed, scratch: scratch)
            }
            var exact = true
            for r in 0 ..< lanes {
                for c in 0 ..< d where transposed[c * lanes + r] != 0.5 * rows[r * stride + c] { exact = false }
            }
            #expect(exact, "rows to lanes, width \(d)")
            back.initialize(repeating: -1, count: lanes * stride)
            ISA.transposeToRows(transposed, width: d, into: back, stride: stride, scratch: scratch)
            var restored = true
            for r in 0 ..< lanes {
                for c in 0 ..< stride {
                    // The block's columns come back halved; the gaps between rows stay untouched.
                    if back[r * stride + c] != (c < d ? 0.5 * rows[r * stride + c] : -1) { restored = false }
                }
            }
            #expect(restored, "lanes to rows, width \(d)")
        }
    }

    func checkExp2<ISA: VectorISA>(_: ISA.Type) {
        checkExp2(ISA.self, tolerance: 3e-7, ISA.exp2)
        checkExp2(ISA.self, tolerance: 3e-6, ISA.exp2Weight)
    }

    func checkExp2<ISA: VectorISA>(_: ISA.Type, tolerance: Double, _ exp2Lanes: (ISA.Vector) -> ISA.Vector) {
        var worst = 0.0
        var x: Float = -125
        while x <= 0 {
            var lanes = ISA.Vector()
            for lane in 0 ..< ISA.lanes { lanes[lane] = x + Float(lane) * 0.000_97 }
            let result = exp2Lanes(lanes)
            for lane in 0 ..< ISA.lanes where lanes[lane] <= 0 {
                let exact = exp2(Double(lanes[lane]))
                worst = max(worst, abs(Double(result[lane]) - exact) / exact)
            }
            x += 0.007_77
        }
        #expect(worst <= tolerance, "max relative error \(worst)")
        #expect(worst > tolerance / 100, "max relative error \(worst): the sweep misses the polynomial's error")
        #expect(exp2Lanes(ISA.Vector(repeating: 0)) == ISA.Vector(repeating: 1))
        let special: [Float] = [-127, -128, -1000, -1e30, -.infinity, -200, -.greatestFiniteMagnitude]
        var zeros = ISA.Vector()
        for lane in 0 ..< ISA.lanes { zeros[lane] = special[lane % special.count] }
        #expect(exp2Lanes(zeros) == ISA.Vector(repeating: 0))
    }
}

/// `softmax(scale * q k^T + bias) v` per batch row and head in Double; a row whose keys are
/// all masked gives zeros.
private func referenceAttention(_ c: AttentionOpsTests.Case, query: [Float], key: [Float], value: [Float],
                                bias: [Float]?, scale: Float) -> [Double] {
    let width = c.heads * c.headWidth
    var expected = [Double](repeating: 0, count: c.batch * c.queries * width)
    for b in 0 ..< c.batch {
        for h in 0 ..< c.heads {
            for i in 0 ..< c.queries {
                let q = (b * c.queries + i) * width + h * c.headWidth
                var scores = [Double](repeating: 0, count: c.keys)
                for j in 0 ..< c.keys {
                    let k = (b * c.keys + j) * width + h * c.headWidth
                    var dot = 0.0
                    for e in 0 ..< c.headWidth { dot += Double(query[q + e]) * Double(key[k + e]) }
                    scores[j] = Double(scale) * dot + (bias.map { Double($0[i * c.keys + j]) } ?? 0)
                }
                let maximum = scores.max()!
                guard maximum > -.infinity else { continue }
                let weights = scores.map { exp($0 - maximum) }
                let total = weights.reduce(0, +)
                for e in 0 ..< c.headWidth {
                    var sum = 0.0
                    for j in 0 ..< c.keys { sum += weights[j] * Double(value[(b * c.keys + j) * width + h * c.headWidth + e]) }
                    expected[q + e] = sum / total
                }
            }
        }
    }
    return expected
}
