@testable import CPUBackend
import Tensor
import Testing

// How the CPU backend shares GEMM-family ops out among threads: the partition itself, and
// linear, conv2d and temporalConv on shapes that hit its edge cases (fewer rows than threads,
// a single row, a single image cut into bands, several column blocks), for 1 to 8 threads,
// against naive double-precision references. Tolerance as in GemmOpsTests: a maximum absolute
// error of 1e-4 times the larger of 1 and the reference's largest magnitude.

@Suite("GEMM partitioning")
struct GemmPartitionTests {
    // MARK: GemmPartition

    struct PartitionCase: Sendable, CustomTestStringConvertible {
        let m, n, k, threads: Int
        var testDescription: String { "[\(m), \(n)] k \(k) on \(threads) threads" }
    }

    @Test(arguments: [
        PartitionCase(m: 1, n: 1, k: 1, threads: 4),
        PartitionCase(m: 3, n: 5000, k: 512, threads: 8),
        PartitionCase(m: 1, n: 4096, k: 4096, threads: 2),
        PartitionCase(m: 1, n: 17, k: 1 << 20, threads: 2),
        PartitionCase(m: 7, n: 7, k: 1 << 20, threads: 16),
        PartitionCase(m: 32768, n: 32, k: 32, threads: 2),
        PartitionCase(m: 1000, n: 1000, k: 1000, threads: 3),
    ])
    func partitionCoversTheOutputOnce(_ c: PartitionCase) {
        let plan = GemmPartition(m: c.m, n: c.n, k: c.k, threads: c.threads)
        #expect(plan.parts >= 1 && plan.parts <= c.threads)
        var covered = [Int](repeating: 0, count: c.m * c.n)
        for part in 0 ..< plan.parts {
            let (rows, columns) = plan.block(part)
            #expect(!rows.isEmpty && !columns.isEmpty, "part \(part) of \(plan.parts) is empty")
            if !plan.splitsRows { #expect(columns.lowerBound % GemmPartition.columnAlignment == 0) }
            for row in rows { for column in columns { covered[row * c.n + column] += 1 } }
        }
        #expect(covered.allSatisfy { $0 == 1 })
    }

    @Test func partitionChoosesRowsColumnsOrNothing() {
        // Plenty of rows: one row block per thread.
        let rows = GemmPartition(m: 32768, n: 32, k: 32, threads: 2)
        #expect(rows.splitsRows && rows.parts == 2 && rows.block(1).rows == 16384 ..< 32768)
        // A single row of a wide output: column blocks of whole cache lines.
        let columns = GemmPartition(m: 1, n: 4096, k: 4096, threads: 2)
        #expect(!columns.splitsRows && columns.parts == 2 && columns.block(0).columns == 0 ..< 2048)
        // Too little work to be worth a second thread.
        #expect(GemmPartition(m: 64, n: 64, k: 64, threads: 8).parts == 1)
        // Fewer rows than threads and a narrow output: never more parts than rows.
        let narrow = GemmPartition(m: 7, n: 7, k: 1 << 20, threads: 16)
        #expect(narrow.splitsRows && narrow.parts == 7)
    }

    // MARK: Ops across thread counts

    struct LinearCase: Sendable, CustomTestStringConvertible {
        let rows, inFeatures, outFeatures: Int
        var testDescription: String { "[\(rows), \(inFeatures)] -> \(outFeatures)" }
    }

    @Test(arguments: [
        LinearCase(rows: 1, inFeatures: 300, outFeatures: 1000),
        LinearCase(rows: 3, inFeatures: 512, outFeatures: 600),
        LinearCase(rows: 2, inFeatures: 1, outFeatures: 1),
        LinearCase(rows: 999, inFeatures: 40, outFeatures: 33),
    ], [1, 2, 3, 8])
    func linearMatchesReference(_ c: LinearCase, threads: Int) throws {
        let backend = CPUBackend(threads: threads)
        var random = TestRandom(seed: 11)
        let x = random.values(c.rows * c.inFeatures)
        let weight = random.values(c.outFeatures * c.inFeatures)
        let bias = random.values(c.outFeatures)
        let result = try backend.linear(backend.upload(x, shape: [c.rows, c.inFeatures]),
                                        weight: backend.upload(weight, shape: [c.outFeatures, c.inFeatures]),
                                        bias: backend.upload(bias, shape: [c.outFeatures]))
        var expected = [Double]()
        for r in 0 ..< c.rows {
            for n in 0 ..< c.outFeatures {
                var sum = Double(bias[n])
                for k in 0 ..< c.inFeatures { sum += Double(x[r * c.inFeatures + k]) * Double(weight[n * c.inFeatures + k]) }
                expected.append(sum)
            }
        }
        try expectClose(backend.download(result), expected)
    }

    struct ConvolutionCase: Sendable, CustomTestStringConvertible {
        let images, channels, height, width, outChannels, kernel, stride, padding: Int
        var testDescription: String {
            "[\(images), \(channels), \(height), \(width)] -> \(outChannels) k\(kernel) s\(stride) p\(padding)"
        }
    }

    @Test(arguments: [
        // One image: its rows are cut into bands for the threads.
        ConvolutionCase(images: 1, channels: 3, height: 9, width: 5, outChannels: 4, kernel: 3, stride: 1, padding: 1),
        // One output row: fewer bands than threads.
        ConvolutionCase(images: 1, channels: 2, height: 3, width: 6, outChannels: 3, kernel: 3, stride: 1, padding: 0),
        // Pointwise, one image and several.
        ConvolutionCase(images: 1, channels: 5, height: 6, width: 4, outChannels: 3, kernel: 1, stride: 1, padding: 0),
        ConvolutionCase(images: 5, channels: 4, height: 3, width: 3, outChannels: 6, kernel: 1, stride: 1, padding: 0),
        // Strided, more images than threads, bands spanning several rows of a large image.
        ConvolutionCase(images: 3, channels: 2, height: 7, width: 8, outChannels: 5, kernel: 3, stride: 2, padding: 1),
        ConvolutionCase(images: 2, channels: 64, height: 40, width: 40, outChannels: 2, kernel: 3, stride: 1, padding: 1),
        // Winograd: one image's tile rows, and more images than threads in bands across images.
        ConvolutionCase(images: 1, channels: 16, height: 11, width: 12, outChannels: 16, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(images: 7, channels: 24, height: 4, width: 5, outChannels: 16, kernel: 3, stride: 1, padding: 1),
    ], [1, 2, 3, 8])
    func conv2dMatchesReference(_ c: ConvolutionCase, threads: Int) throws {
        let backend = CPUBackend(threads: threads)
        var random = TestRandom(seed: 12)
        let x = random.values(c.images * c.channels * c.height * c.width)
        let weight = random.values(c.outChannels * c.channels * c.kernel * c.kernel)
        let bias = random.values(c.outChannels)
        let result = try backend.conv2d(
            backend.upload(x, shape: [c.images, c.channels, c.height, c.width]),
            weight: backend.upload(weight, shape: [c.outChannels, c.channels, c.kernel, c.kernel]),
            bias: backend.upload(bias, shape: [c.outChannels]), stride: c.stride, padding: c.padding)
        let outHeight = (c.height + 2 * c.padding - c.kernel) / c.stride + 1
        let outWidth = (c.width + 2 * c.padding - c.kernel) / c.stride + 1
        #expect(result.shape == [c.images, c.outChannels, outHeight, outWidth])
        let expected = referenceConv2d(x, weight: weight, bias: bias, images: c.images, channels: c.channels,
                                       height: c.height, width: c.width, outChannels: c.outChannels, kernel: c.kernel,
                                       stride: c.stride, padding: c.padding)
        try expectClose(backend.download(result), expected)
    }

    /// 2 x 20,480 output columns with 4 output channels: several column blocks per sample, and
    /// taps whose valid frames start and end inside a block.
    @Test(arguments: [1, 2, 3])
    func temporalConvAcrossColumnBlocks(threads: Int) throws {
        let backend = CPUBackend(threads: threads)
        let (batch, channels, frames, height, width, outChannels, taps, padding) = (2, 2, 5, 64, 64, 4, 3, 1)
        let plane = height * width
        var random = TestRandom(seed: 13)
        let x = random.values(batch * channels * frames * plane)
        let weight = random.values(outChannels * channels * taps)
        let bias = random.values(outChannels)
        let result = try backend.temporalConv(
            backend.upload(x, shape: [batch, channels, frames, height, width]),
            weight: backend.upload(weight, shape: [outChannels, channels, taps]),
            bias: backend.upload(bias, shape: [outChannels]), padding: padding)
        let expected = referenceTemporalConv(x, weight: weight, bias: bias, batch: batch, channels: channels,
                                             frames: frames, plane: plane, outChannels: outChannels, taps: taps,
                                             padding: padding)
        try expectClose(backend.download(result), expected)
    }

    /// A result must not depend on how many threads computed it (clip-parallel workers with
    /// different thread counts must agree bit for bit): the GEMM-family ops on 1, 2, 3 and 8
    /// threads, each compared exactly with 1 thread.
    @Test(arguments: [
        // Winograd (bands of tile rows), im2col (bands of rows), pointwise convolutions.
        ConvolutionCase(images: 1, channels: 16, height: 37, width: 20, outChannels: 16, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(images: 9, channels: 32, height: 8, width: 8, outChannels: 24, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(images: 1, channels: 8, height: 30, width: 9, outChannels: 4, kernel: 3, stride: 1, padding: 1),
        ConvolutionCase(images: 3, channels: 12, height: 10, width: 10, outChannels: 6, kernel: 3, stride: 2, padding: 1),
    ])
    func conv2dDoesNotDependOnThreads(_ c: ConvolutionCase) throws {
        var random = TestRandom(seed: 14)
        let x = random.values(c.images * c.channels * c.height * c.width)
        let weight = random.values(c.outChannels * c.channels * c.kernel * c.kernel)
        let bias = random.values(c.outChannels)
        var results: [[Float]] = []
        for threads in [1, 2, 3, 8] {
            let backend = CPUBackend(threads: threads)
            let result = try backend.conv2d(
                backend.upload(x, shape: [c.images, c.channels, c.height, c.width]),
                weight: backend.upload(weight, shape: [c.outChannels, c.channels, c.kernel, c.kernel]),
                bias: backend.upload(bias, shape: [c.outChannels]), stride: c.stride, padding: c.padding)
            results.append(try backend.download(result))
        }
        for (index, threads) in [2, 3, 8].enumerated() {
            #expect(results[index + 1] == results[0], "\(threads) threads differ from 1")
        }
    }

    @Test("linear and temporalConv do not depend on the thread count", arguments: [(5, 40, 24), (300, 64, 64), (33, 128, 300)])
    func linearDoesNotDependOnThreads(rows: Int, inFeatures: Int, outFeatures: Int) throws {
        var random = TestRandom(seed: 16)
        let x = random.values(rows * inFeatures), weight = random.values(outFeatures * inFeatures)
        let taps = random.values(outFeatures * inFeatures * 3)
        var linears: [[Float]] = [], convolutions: [[Float]] = []
        for threads in [1, 2, 3, 8] {
            let backend = CPUBackend(threads: threads)
            linears.append(try backend.download(backend.linear(
                backend.upload(x, shape: [rows, inFeatures]), weight: backend.upload(weight, shape: [outFeatures, inFeatures]),
                bias: nil)))
            // The same values as one sample of `inFeatures` channels, `rows` frames of one pixel.
            convolutions.append(try backend.download(backend.temporalConv(
                backend.upload(x, shape: [1, inFeatures, rows, 1, 1]),
                weight: backend.upload(taps, shape: [outFeatures, inFeatures, 3]), bias: nil, padding: 1)))
        }
        #expect(linears.dropFirst().allSatisfy { $0 == linears[0] })
        #expect(convolutions.dropFirst().allSatisfy { $0 == convolutions[0] })
    }

    @Test("linear + GEGLU does not depend on the thread count")
    func linearGEGLUDoesNotDependOnThreads() throws {
        var random = TestRandom(seed: 15)
        let x = random.values(300 * 40), weight = random.values(4096 * 40), bias = random.values(4096)
        var results: [[Float]] = []
        for threads in [1, 2, 3, 8] {
            let backend = CPUBackend(threads: threads)
            results.append(try backend.download(backend.linearGEGLU(
                backend.upload(x, shape: [300, 40]), weight: backend.upload(weight, shape: [4096, 40]),
                bias: backend.upload(bias, shape: [4096]))))
        }
        #expect(results.dropFirst().allSatisfy { $0 == results[0] })
    }

    /// Scratch rows `skewedRowLength` apart: whole cache lines, an odd number of them, the fewest
    /// that hold the row; so 64 consecutive rows fall in 64 different L1 sets (4 KiB a way).
    @Test(arguments: [1, 15, 16, 17, 32, 33, 1024, 4096, 16_384, 32 * 512, 1000, 2047])
    func skewedRowLengthSpreadsRowsOverTheL1Sets(floats: Int) {
        let length = skewedRowLength(floats)
        let lines = length / 16
        #expect(length % 16 == 0 && length >= floats && lines % 2 == 1, "\(length)")
        #expect(lines == 1 || length - 32 < floats, "not the fewest lines: \(length) for \(floats)")
        let sets = Set((0 ..< 64).map { row in (row * length * 4 / 64) % 64 })
        #expect(sets.count == 64, "\(length) floats a row: \(sets.count) sets")
    }
}
