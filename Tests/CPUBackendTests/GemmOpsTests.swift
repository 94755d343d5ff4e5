import CPUBackend
import Foundation
import Tensor
import Testing

// The GEMM-family ops of the CPU backend (linear, conv2d, temporalConv) against
// naive references written out below with double-precision accumulation. Every comparison
// allows a maximum absolute error of 1e-4 times the larger of 1 and the reference's largest
// magnitude: float32 accumulation over the longest reductions here (576 terms of products
// of values in [-1, 1]) stays two orders of magnitude below that.

@Suite("GEMM ops")
struct GemmOpsTests {
    let backend = CPUBackend(threads: 2)

    // MARK: linear

    struct LinearCase: Sendable, CustomTestStringConvertible {
        let inputShape: [Int]
        let outFeatures: Int
        var testDescription: String { "x \(inputShape) -> \(outFeatures)" }
    }

    @Test(arguments: [
        LinearCase(inputShape: [1, 1], outFeatures: 1),
        LinearCase(inputShape: [3, 5], outFeatures: 7),
        LinearCase(inputShape: [2, 3, 7], outFeatures: 5),
        LinearCase(inputShape: [5], outFeatures: 3),
        LinearCase(inputShape: [64, 40], outFeatures: 33),
        LinearCase(inputShape: [2, 77, 64], outFeatures: 128),
        LinearCase(inputShape: [4, 0], outFeatures: 3),
        // The narrow kernel (at most 128 inputs and outputs): rows past the last block of 8,
        // output blocks of 2 vectors with a partial last one, the largest extents it takes.
        LinearCase(inputShape: [13, 32], outFeatures: 40),
        LinearCase(inputShape: [9, 128], outFeatures: 128),
        LinearCase(inputShape: [3, 8, 3], outFeatures: 1),
        // Just past its limits: OpenBLAS.
        LinearCase(inputShape: [10, 129], outFeatures: 20),
        LinearCase(inputShape: [10, 16], outFeatures: 129),
    ], [false, true])
    func linearMatchesReference(_ testCase: LinearCase, withBias: Bool) throws {
        for instructionSet in CPUBackend.InstructionSet.supported {
            try checkLinear(testCase, withBias: withBias, backend: CPUBackend(threads: 2, instructionSet: instructionSet))
        }
    }

    func checkLinear(_ testCase: LinearCase, withBias: Bool, backend: CPUBackend) throws {
        var random = TestRandom(seed: 1)
        let inFeatures = testCase.inputShape.last!
        let rows = testCase.inputShape.dropLast().reduce(1, *)
        let x = random.values(rows * inFeatures)
        let weight = random.values(testCase.outFeatures * inFeatures)
        let bias = withBias ? random.values(testCase.outFeatures) : nil

        let result = try backend.linear(
            backend.upload(x, shape: testCase.inputShape),
            weight: backend.upload(weight, shape: [testCase.outFeatures, inFeatures]),
            bias: bias.map { try backend.upload($0, shape: [testCase.outFeatures]) })

        #expect(result.shape == testCase.inputShape.dropLast() + [testCase.outFeatures])
        var expected = [Double](repeating: 0, count: rows * testCase.outFeatures)
        for r in 0 ..< rows {
            for n in 0 ..< testCase.outFeatures {
                var sum = bias.map { Double($0[n]) } ?? 0
                for k in 0 ..< inFeatures { sum += Double(x[r * inFeatures + k]) * Double(weight[n * inFeatures + k]) }
                expected[r * testCase.outFeatures + n] = sum
            }
        }
        try expectClose(backend.download(result), expected)
    }

    /// The narrow kernel computes every output as the same chain of FMAs whatever the vector
    /// width, so its AVX2 and AVX-512 builds agree bit for bit.
    @Test(.enabled(if: CPUBackend.InstructionSet.avx512.isSupported, "this CPU lacks AVX-512"))
    func narrowLinearIsTheSameInEveryInstructionSet() throws {
        var random = TestRandom(seed: 5)
        let (rows, inFeatures, outFeatures) = (45, 72, 100)
        let x = random.values(rows * inFeatures), weight = random.values(outFeatures * inFeatures)
        let bias = random.values(outFeatures)
        let results = try [CPUBackend.InstructionSet.avx2, .avx512].map { instructionSet in
            let backend = CPUBackend(threads: 3, instructionSet: instructionSet)
            return try backend.download(backend.linear(
                backend.upload(x, shape: [rows, inFeatures]), weight: backend.upload(weight, shape: [outFeatures, inFeatures]),
                bias: backend.upload(bias, shape: [outFeatures])))
        }
        #expect(results[0] == results[1])
    }

    @Test func linearRejectsMismatchedShapes() throws {
        let x = try backend.zeros([2, 3])
        #expect(throws: TensorError.self) { try backend.linear(x, weight: backend.zeros([4, 5]), bias: nil) }
        #expect(throws: TensorError.self) { try backend.linear(x, weight: backend.zeros([4, 3, 1]), bias: nil) }
        #expect(throws: TensorError.self) {
            try backend.linear(x, weight: backend.zeros([4, 3]), bias: backend.zeros([3]))
        }
    }

    // MARK: linear + GEGLU

    /// The fused op against the two ops it replaces, which have their own references: equal
    /// within float rounding (the same GEMM, blocked differently), over row counts below, at and
    /// across its blocks of rows (`2^18 / outFeatures`, at least 256), with and without bias, and
    /// past the input width from which it runs the two ops.
    @Test(arguments: [
        LinearCase(inputShape: [1, 3], outFeatures: 2),
        LinearCase(inputShape: [2, 17, 32], outFeatures: 256),
        LinearCase(inputShape: [600, 24], outFeatures: 4096),
        LinearCase(inputShape: [5, 200], outFeatures: 6),
        LinearCase(inputShape: [3, 0, 8], outFeatures: 6),
    ], [false, true])
    func linearGEGLUMatchesLinearThenGEGLU(_ testCase: LinearCase, withBias: Bool) throws {
        var random = TestRandom(seed: 3)
        let inFeatures = testCase.inputShape.last!
        let rows = testCase.inputShape.dropLast().reduce(1, *)
        let x = try backend.upload(random.values(rows * inFeatures).map { 2 * $0 }, shape: testCase.inputShape)
        let weight = try backend.upload(random.values(testCase.outFeatures * inFeatures),
                                        shape: [testCase.outFeatures, inFeatures])
        let bias = withBias ? try backend.upload(random.values(testCase.outFeatures), shape: [testCase.outFeatures]) : nil

        let fused = try backend.linearGEGLU(x, weight: weight, bias: bias)
        let separate = try backend.geglu(backend.linear(x, weight: weight, bias: bias))
        #expect(fused.shape == testCase.inputShape.dropLast() + [testCase.outFeatures / 2])
        #expect(fused.shape == separate.shape)
        try expectClose(backend.download(fused), backend.download(separate).map(Double.init))
    }

    @Test func linearGEGLURejectsBadShapes() throws {
        let x = try backend.zeros([2, 3])
        #expect(throws: TensorError.self) { try backend.linearGEGLU(x, weight: backend.zeros([5, 3]), bias: nil) }
        #expect(throws: TensorError.self) { try backend.linearGEGLU(x, weight: backend.zeros([4, 2]), bias: nil) }
        #expect(throws: TensorError.self) {
            try backend.linearGEGLU(x, weight: backend.zeros([4, 3]), bias: backend.zeros([3]))
        }
    }

    // MARK: conv2d

    struct ConvolutionCase: Sendable, CustomTestStringConvertible {
        let images, channels, height, width, outChannels, kernel, stride, padding: Int
        var testDescription: String {
            "[\(images), \(channels), \(height), \(width)] -> \(outChannels), k\(kernel) s\(stride) p\(padding)"
        }
    }

    @Test(arguments: [
        ConvolutionCase(images: 1, channels: 1, height: 1, width: 1, outChannels: 1, kernel: 1, stride: 1, padding: 0),
        ConvolutionCase(images: 2, channels: 3, height: 5, width: 7, outChannels: 4, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(images: 2, channels: 3, height: 7, width: 5, outChannels: 5, kernel: 3, stride: 2, padding: 1),
        ConvolutionCase(images: 1, channels: 5, height: 9, width: 9, outChannels: 3, kernel: 3, stride: 2, padding: 0),
        ConvolutionCase(images: 3, channels: 7, height: 4, width: 6, outChannels: 2, kernel: 1, stride: 1, padding: 0),
        ConvolutionCase(images: 2, channels: 4, height: 5, width: 5, outChannels: 3, kernel: 1, stride: 2, padding: 0),
        ConvolutionCase(images: 1, channels: 2, height: 6, width: 5, outChannels: 3, kernel: 2, stride: 1, padding: 1),
        ConvolutionCase(images: 2, channels: 1, height: 1, width: 3, outChannels: 2, kernel: 3, stride: 1, padding: 1),
        // One image in several bands of output rows.
        ConvolutionCase(images: 2, channels: 64, height: 40, width: 50, outChannels: 4, kernel: 3, stride: 1, padding: 1),
        // Small images batched into GEMMs of several images, with a partial last group.
        ConvolutionCase(images: 40, channels: 64, height: 8, width: 8, outChannels: 5, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(images: 40, channels: 128, height: 16, width: 16, outChannels: 3, kernel: 1, stride: 1, padding: 0),
        // Winograd F(2x2, 3x3) (3x3, stride 1, padding 1, at least 16 channels in and out): odd
        // extents (half tiles at the right and bottom), one row, one column, rows of tiles in
        // whole vectors and with a tail, bands that span images, and the smallest channel count.
        ConvolutionCase(images: 3, channels: 16, height: 7, width: 9, outChannels: 16, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(images: 5, channels: 20, height: 1, width: 17, outChannels: 24, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(images: 2, channels: 17, height: 5, width: 1, outChannels: 16, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(images: 2, channels: 33, height: 34, width: 36, outChannels: 18, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(images: 40, channels: 32, height: 8, width: 8, outChannels: 40, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(images: 1, channels: 256, height: 6, width: 10, outChannels: 64, kernel: 3, stride: 1, padding: 1),
    ], [false, true])
    func conv2dMatchesReference(_ c: ConvolutionCase, withBias: Bool) throws {
        var random = TestRandom(seed: 2)
        let x = random.values(c.images * c.channels * c.height * c.width)
        let weight = random.values(c.outChannels * c.channels * c.kernel * c.kernel)
        let bias = withBias ? random.values(c.outChannels) : nil

        let result = try backend.conv2d(
            backend.upload(x, shape: [c.images, c.channels, c.height, c.width]),
            weight: backend.upload(weight, shape: [c.outChannels, c.channels, c.kernel, c.kernel]),
            bias: bias.map { try backend.upload($0, shape: [c.outChannels]) }, stride: c.stride, padding: c.padding)

        let outHeight = (c.height + 2 * c.padding - c.kernel) / c.stride + 1
        let outWidth = (c.width + 2 * c.padding - c.kernel) / c.stride + 1
        #expect(result.shape == [c.images, c.outChannels, outHeight, outWidth])
        let expected = referenceConv2d(x, weight: weight, bias: bias, images: c.images, channels: c.channels,
                                       height: c.height, width: c.width, outChannels: c.outChannels, kernel: c.kernel,
                                       stride: c.stride, padding: c.padding)
        try expectClose(backend.download(result), expected)
    }

    @Test func conv2dRejectsBadArguments() throws {
        let x = try backend.zeros([1, 3, 4, 4])
        let weight = try backend.zeros([2, 3, 3, 3])
        #expect(throws: TensorError.self) { try backend.conv2d(x, weight: backend.zeros([2, 4, 3, 3]), bias: nil, stride: 1, padding: 1) }
        #expect(throws: TensorError.self) { try backend.conv2d(x, weight: weight, bias: nil, stride: 0, padding: 1) }
        #expect(throws: TensorError.self) { try backend.conv2d(x, weight: weight, bias: nil, stride: 1, padding: -1) }
        #expect(throws: TensorError.self) { try backend.conv2d(backend.zeros([1, 3, 1, 4]), weight: weight, bias: nil, stride: 1, padding: 0) }
        #expect(throws: TensorError.self) { try backend.conv2d(x, weight: weight, bias: backend.zeros([3]), stride: 1, padding: 1) }
    }

    // MARK: temporalConv

    struct TemporalCase: Sendable, CustomTestStringConvertible {
        let batch, channels, frames, height, width, outChannels, taps, padding: Int
        var testDescription: String {
            "[\(batch), \(channels), \(frames), \(height), \(width)] -> \(outChannels), k\(taps) p\(padding)"
        }
    }

    @Test(arguments: [
        TemporalCase(batch: 1, channels: 1, frames: 1, height: 1, width: 1, outChannels: 1, taps: 1, padding: 0),
        TemporalCase(batch: 2, channels: 3, frames: 5, height: 3, width: 2, outChannels: 4, taps: 3, padding: 1),
        TemporalCase(batch: 1, channels: 4, frames: 6, height: 2, width: 3, outChannels: 3, taps: 3, padding: 0),
        TemporalCase(batch: 2, channels: 5, frames: 3, height: 1, width: 1, outChannels: 2, taps: 3, padding: 1),
        TemporalCase(batch: 1, channels: 2, frames: 1, height: 3, width: 3, outChannels: 3, taps: 3, padding: 1),
        TemporalCase(batch: 1, channels: 7, frames: 8, height: 5, width: 7, outChannels: 16, taps: 3, padding: 1),
        TemporalCase(batch: 2, channels: 3, frames: 4, height: 2, width: 2, outChannels: 2, taps: 1, padding: 0),
        // The plane kernel's blocks: whole blocks of 16 and 32 columns and a short one (plane
        // 300), 8 output channels and a short block of them, several chunks per sample.
        TemporalCase(batch: 2, channels: 6, frames: 5, height: 10, width: 30, outChannels: 11, taps: 3, padding: 1),
        TemporalCase(batch: 1, channels: 16, frames: 4, height: 8, width: 16, outChannels: 8, taps: 3, padding: 1),
    ], [false, true])
    func temporalConvMatchesReference(_ c: TemporalCase, withBias: Bool) throws {
        var random = TestRandom(seed: 3)
        let plane = c.height * c.width
        let x = random.values(c.batch * c.channels * c.frames * plane)
        let weight = random.values(c.outChannels * c.channels * c.taps)
        let bias = withBias ? random.values(c.outChannels) : nil
        let outFrames = c.frames + 2 * c.padding - c.taps + 1

        let expected = referenceTemporalConv(x, weight: weight, bias: bias, batch: c.batch, channels: c.channels,
                                             frames: c.frames, plane: plane, outChannels: c.outChannels, taps: c.taps,
                                             padding: c.padding)
        // Both weight layouts diffusers checkpoints produce (Conv3d's and a squeezed one), with
        // each kernel in each instruction set this CPU runs.
        for instructionSet in CPUBackend.InstructionSet.supported {
            let backend = CPUBackend(threads: 2, instructionSet: instructionSet)
            for kernel in CPUBackend.TemporalConvKernel.allCases {
                for weightShape in [[c.outChannels, c.channels, c.taps, 1, 1], [c.outChannels, c.channels, c.taps]] {
                    let result = try backend.temporalConv(
                        backend.upload(x, shape: [c.batch, c.channels, c.frames, c.height, c.width]),
                        weight: backend.upload(weight, shape: weightShape),
                        bias: bias.map { try backend.upload($0, shape: [c.outChannels]) }, padding: c.padding,
                        kernel: kernel)
                    #expect(result.shape == [c.batch, c.outChannels, outFrames, c.height, c.width])
                    try expectClose(backend.download(result), expected)
                }
            }
        }
    }

    @Test func temporalConvKernelChoice() {
        let backend = CPUBackend(threads: 1)
        // The plane kernel up to 384 sources (channels x taps) and 128 output channels.
        #expect(backend.temporalConvKernel(channels: 32, taps: 3, outChannels: 32) == .planes)
        #expect(backend.temporalConvKernel(channels: 128, taps: 3, outChannels: 128) == .planes)
        #expect(backend.temporalConvKernel(channels: 129, taps: 3, outChannels: 128) == .tapGEMMs)
        #expect(backend.temporalConvKernel(channels: 64, taps: 3, outChannels: 129) == .tapGEMMs)
        #expect(backend.temporalConvKernel(channels: 320, taps: 3, outChannels: 320) == .tapGEMMs)
    }

    @Test func temporalConvRejectsBadArguments() throws {
        let x = try backend.zeros([1, 2, 2, 3, 3])
        #expect(throws: TensorError.self) { try backend.temporalConv(x, weight: backend.zeros([4, 3, 3]), bias: nil, padding: 1) }
        #expect(throws: TensorError.self) { try backend.temporalConv(x, weight: backend.zeros([4, 2, 3, 3, 1]), bias: nil, padding: 1) }
        #expect(throws: TensorError.self) { try backend.temporalConv(x, weight: backend.zeros([4, 2, 3]), bias: nil, padding: 0) }
        #expect(throws: TensorError.self) { try backend.temporalConv(x, weight: backend.zeros([4, 2, 3]), bias: nil, padding: -1) }
    }
}
