import CPUBackend
import Tensor
import Testing
@testable import VulkanBackend

/// The Vulkan backend records ops into one command buffer and only submits when a result must
/// reach the host (or the recording grows past `Recorder.commandsPerSubmission`). These tests
/// chain many ops in one recording, free tensors while their readers are still only recorded,
/// and call from several threads, comparing with the CPU backend.
@Suite("Vulkan recording")
struct RecordingTests {
    /// 200 chained small ops of every family, one download at the end. Tolerance
    /// `1e-4 * max(1, max |cpu|)`: each step's few-ulp difference (linear, layer norm, SiLU) is
    /// carried through the chain, but the periodic layer norm keeps values O(1) and a
    /// contraction (scale by 0.9) damps older differences.
    @Test func twoHundredChainedOps() throws {
        let width = 37
        let x = try Parity.pair([3, width], seed: 90)
        let bias = try Parity.pair([width], seed: 91, spread: 0.5)
        let weight = try Parity.pair([width, width], seed: 92, spread: 0.3)
        let out = try Parity.run { backend, side in
            var h = x[side]
            for step in 0 ..< 200 {
                switch step % 8 {
                case 0: h = try backend.add(h, bias[side])
                case 1: h = try backend.activation(h, .silu)
                case 2: h = try backend.scale(h, by: 0.9)
                case 3: h = try backend.permute(h, [1, 0])
                case 4: h = try backend.permute(h, [1, 0])
                case 5: h = try backend.linear(h, weight: weight[side], bias: nil)
                case 6: h = try backend.concat([h, backend.slice(h, axis: 0, start: 1, length: 1)], axis: 0)
                default:
                    h = try backend.layerNorm(backend.slice(h, axis: 0, start: 0, length: 3), weight: nil, bias: nil,
                                              epsilon: 1e-5)
                }
            }
            return h
        }
        Parity.expectScaled(out, tolerance: 1e-4, "200 chained ops")
    }

    /// Tensors dropped while the ops reading them are only recorded go back to the pool, and
    /// later ops in the same recording reuse their blocks: results must still be those of the
    /// ops in order. Exact: only additions and multiplications by powers of two.
    @Test func freedTensorsDoNotCorruptLaterResults() throws {
        let out = try Parity.run { backend, side in
            var random = SeededRandom(seed: 93)
            var accumulator = try backend.zeros([5, 67])
            for step in 0 ..< 60 {
                // Temporaries of several size classes, dropped at the end of each iteration.
                let count = [335, 1000, 4096, 400][step % 4]
                let scratch = try backend.upload(random.values(count), shape: [count])
                let doubled = try backend.scale(scratch, by: 2)
                let part = try backend.reshapedSlice(doubled, count: 335)
                let sum = try backend.add(accumulator, part.reshaped([5, 67]))
                accumulator = try backend.scale(sum, by: 0.5)
            }
            return accumulator
        }
        Parity.expectExact(out, "accumulator through freed temporaries")
    }

    /// More commands than one submission takes (`Recorder.commandsPerSubmission`) and than one
    /// descriptor pool holds: the recording is submitted mid-chain, with intermediate tensors
    /// freed on the way. Exact: multiplications by 2 and 0.5 only.
    @Test func recordingLongerThanOneSubmission() throws {
        let vulkan = try Parity.vulkan()
        var random = SeededRandom(seed: 94)
        let values = random.values(300)
        var x = try vulkan.upload(values, shape: [300])
        let steps = Recorder.commandsPerSubmission + 100
        for step in 0 ..< steps { x = try vulkan.scale(x, by: step % 2 == 0 ? 2 : 0.5) }
        #expect(steps % 2 == 0)
        #expect(try vulkan.download(x) == values)
    }

    /// Ops called from several threads at once on one backend; each thread's chain matches
    /// the CPU backend exactly (additions and scaling by powers of two).
    @Test func concurrentCallers() async throws {
        let vulkan = try Parity.vulkan()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0 ..< 4 {
                group.addTask {
                    var random = SeededRandom(seed: 95 + UInt64(worker))
                    let shape = [2, 3 + worker, 17]
                    let data = random.values(shape.reduce(1, *))
                    let bias = random.values(17)
                    var v = try vulkan.upload(data, shape: shape)
                    var c = try Parity.cpu.upload(data, shape: shape)
                    let vb = try vulkan.upload(bias, shape: [17])
                    let cb = try Parity.cpu.upload(bias, shape: [17])
                    for _ in 0 ..< 50 {
                        v = try vulkan.scale(vulkan.add(v, vb), by: 0.5)
                        c = try Parity.cpu.scale(Parity.cpu.add(c, cb), by: 0.5)
                    }
                    let got = try vulkan.download(v), expected = try Parity.cpu.download(c)
                    #expect(got == expected, "worker \(worker)")
                }
            }
            try await group.waitForAll()
        }
    }

    /// Grid-stride kernels dispatch at most 65,535 workgroups of 256: a larger tensor makes
    /// each invocation loop. Exact (one multiplication per element).
    @Test func gridStrideLoopsPastTheWorkgroupLimit() throws {
        let vulkan = try Parity.vulkan()
        let count = 65_535 * 256 + 1000
        let values = (0 ..< count).map { (i: Int) -> Float in Float(i % 4093) - 2000 }
        let result = try vulkan.download(vulkan.scale(vulkan.upload(values, shape: [count]), by: 0.5))
        #expect(result.count == count)
        var wrong = 0
        for i in 0 ..< count where result[i] != values[i] * 0.5 { wrong += 1 }
        #expect(wrong == 0, "\(wrong) wrong elements")
    }

    /// Per-row kernels dispatch at most 65,535 workgroups: more rows make each loop.
    @Test func perRowKernelsLoopPastTheWorkgroupLimit() throws {
        // group_stats: one workgroup per (sample, group) row, 65,572 of them.
        let x = try Parity.pair([65_535 + 37, 1, 3], seed: 96, spread: 2)
        let out = try Parity.run { backend, side in
            try backend.groupNorm(x[side], groups: 1, weight: nil, bias: nil, epsilon: 1e-5)
        }
        Parity.expectScaled(out, tolerance: 1e-5, "groupNorm over 65,572 groups")
        // layer_norm: one invocation per row, 64 per workgroup: 65,535 x 64 + 37 rows.
        let rows = try Parity.pair([65_535 * 64 + 37, 2], seed: 97, spread: 2)
        let normalized = try Parity.run { backend, side in
            try backend.layerNorm(rows[side], weight: nil, bias: nil, epsilon: 1e-5)
        }
        Parity.expectScaled(normalized, tolerance: 1e-5, "layerNorm over 4,194,277 rows")
    }

    /// Freed tensors return their memory to the pool (a private backend, so that other tests'
    /// tensors do not count).
    @Test func memoryReturnsToThePool() throws {
        let backend = try VulkanBackend(cooperativeMatrix: .off)
        let before = backend.memoryUse.inUse
        do {
            let a = try backend.upload([Float](repeating: 1, count: 10_000), shape: [100, 100])
            let b = try backend.linear(a, weight: a, bias: nil)
            #expect(backend.memoryUse.inUse > before)
            #expect(try backend.download(b)[0] == 100)
        }
        try backend.synchronize()
        #expect(backend.memoryUse.inUse == before)
    }
}

extension Backend {
    /// The first `count` elements of a rank-1 tensor (a slice along its only axis).
    fileprivate func reshapedSlice(_ x: Tensor, count: Int) throws -> Tensor {
        try slice(x, axis: 0, start: 0, length: count)
    }
}
