import CPUBackend
import Tensor
import Testing

// `ProfilingBackend`'s arithmetic counts, which `infinity bench unet --profile` turns into rates.
@Suite("Profiling backend")
struct ProfilingBackendTests {
    @Test("each op's floating-point operations by the textbook count, summed over its calls")
    func countsArithmetic() throws {
        let profiler = ProfilingBackend(CPUBackend(threads: 1))
        var random = TestRandom(seed: 21)
        func tensor(_ shape: [Int]) throws -> Tensor {
            try profiler.base.upload(random.values(shape.reduce(1, *)), shape: shape)
        }
        // linear [5, 3] x [4, 3]^T, twice: 2 * 5 * 3 * 4 each.
        let x = try tensor([5, 3]), weight = try tensor([4, 3])
        for _ in 0 ..< 2 { _ = try profiler.linear(x, weight: weight, bias: nil) }
        // conv2d [1, 2, 5, 5] with [3, 2, 3, 3], padding 1: 75 outputs x 18 multiply-adds.
        _ = try profiler.conv2d(tensor([1, 2, 5, 5]), weight: tensor([3, 2, 3, 3]), bias: nil, stride: 1, padding: 1)
        // temporalConv [1, 2, 4, 1, 1] with [3, 2, 3], padding 0: 6 outputs x 6 multiply-adds.
        _ = try profiler.temporalConv(tensor([1, 2, 4, 1, 1]), weight: tensor([3, 2, 3]), bias: nil, padding: 0)
        // attention of 4 queries over 5 keys, width 6: 2 products of 4 * 5 * 6 multiply-adds.
        _ = try profiler.attention(query: tensor([1, 4, 6]), key: tensor([1, 5, 6]), value: tensor([1, 5, 6]),
                                   heads: 2, scale: 0.5, bias: nil)
        _ = try profiler.add(x, x)
        let flops = Dictionary(uniqueKeysWithValues: profiler.report.map { ($0.op, $0.flops) })
        #expect(flops == ["linear": 240, "conv2d 3x3": 2700, "temporalConv": 72, "attention (keys <= 64)": 480, "add": 0])
    }
}
