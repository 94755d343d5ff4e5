import CPUKernelsAVX2
import CPUKernelsAVX512
import Tensor

extension CPUBackend {
    /// 2-D cross-correlation as `torch.nn.functional.conv2d`: `x [N, C, H, W]`,
    /// `weight [O, C, KH, KW]`, `bias [O]`, zero padding on both sides of H and W
    /// -> `[N, O, (H + 2*padding - KH) / stride + 1, (W + 2*padding - KW) / stride + 1]`.
    ///
    /// Lowered to GEMM: the weight, viewed as `[O, C*KH*KW]`, times the image's patch matrix
    /// `[C*KH*KW, OH*OW]` (im2col), one band of output rows at a time so that the patch matrix
    /// stays in cache; the bands of all images are shared out among the threads (see
    /// `convolveInBands`). A 1x1 convolution with stride 1 and no padding multiplies the image
    /// directly; a 3x3 one with stride 1 and padding 1 goes through Winograd's F(2x2, 3x3), 2.25x
    /// fewer multiply-adds (`CPUBackend+Winograd.swift`).
    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) throws -> Tensor {
        let op = "conv2d"
        let outShape = try Shape.conv2d(x.shape, weight: weight.shape, bias: bias?.shape, stride: stride, padding: padding)
        try requireF32([(x, "input"), (weight, "weight"), (bias, "bias")], op: op)
        let geometry = ConvolutionGeometry(
            images: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3],
            outChannels: weight.shape[0], kernelHeight: weight.shape[2], kernelWidth: weight.shape[3],
            stride: stride, padding: padding)
        try checkedGemmExtent(geometry.patchSize, op)
        try checkedGemmExtent(geometry.outChannels, op)

        let (result, out) = makeTensor(outShape)
        guard result.count > 0 else { return result }
        try checkedGemmExtent(geometry.outHeight * geometry.outWidth, op)
        if geometry.suitsWinograd {
            convolveWinograd(x.cpu, weight: weight.cpu, bias: bias?.cpu, out: out, geometry: geometry)
        } else {
            convolveInBands(x.cpu, weight: weight.cpu, bias: bias?.cpu, out: out, geometry: geometry)
        }
        return result
    }

    /// A convolution along frames only, as a `Conv3d` with kernel `(K, 1, 1)`:
    /// `x [B, C, F, H, W]`, `weight [O, C, K, 1, 1]` (or `[O, C, K]`), `bias [O]`, `padding`
    /// zero frames on both sides -> `[B, O, F + 2*padding - K + 1, H, W]`.
    ///
    /// With few channels (``temporalConvKernel(channels:taps:outChannels:)``), each output frame
    /// is a plane GEMM over the `C x K` input frames it reads (`CPUKernels/PlaneGEMM.swift`).
    /// Otherwise, viewing a sample as the matrix `[C, F*H*W]`, a shift by one frame is a column
    /// offset of `H*W`, so tap `k` is a single GEMM of its `[O, C]` weight slice with the input's
    /// column range shifted by `k - padding` frames, accumulated into the output (`beta = 1`).
    /// Either way the zero padding falls out as the frames each tap skips; no patch matrix is
    /// built.
    public func temporalConv(_ x: Tensor, weight: Tensor, bias: Tensor?, padding: Int) throws -> Tensor {
        try temporalConv(x, weight: weight, bias: bias, padding: padding, kernel: nil)
    }

    /// How ``temporalConv(_:weight:bias:padding:)`` computes.
    package enum TemporalConvKernel: CaseIterable, Sendable {
        /// A GEMM per tap through OpenBLAS, accumulated into the output.
        case tapGEMMs
        /// The plane kernel (`CPUKernels/PlaneGEMM.swift`): a register-blocked GEMM over each
        /// output frame's `channels x taps` input frames, for few channels.
        case planes
    }

    /// The kernel ``temporalConv(_:weight:bias:padding:)`` runs for `channels x taps` sources
    /// and `outChannels` outputs.
    package func temporalConvKernel(channels: Int, taps: Int, outChannels: Int) -> TemporalConvKernel {
        channels * taps <= Self.maximumPlaneGEMMSources && outChannels <= Self.maximumPlaneGEMMOutputs
            ? .planes : .tapGEMMs
    }

    /// ``temporalConv(_:weight:bias:padding:)`` with the given kernel, or the one
    /// ``temporalConvKernel(channels:taps:outChannels:)`` picks: for tests and benchmarks.
    package func temporalConv(_ x: Tensor, weight: Tensor, bias: Tensor?, padding: Int,
                              kernel: TemporalConvKernel?) throws -> Tensor {
        let op = "temporalConv"
        let outShape = try Shape.temporalConv(x.shape, weight: weight.shape, bias: bias?.shape, padding: padding)
        try requireF32([(x, "input"), (weight, "weight"), (bias, "bias")], op: op)
        let (batch, channels, frames) = (x.shape[0], x.shape[1], x.shape[2])
        let (outChannels, taps, outFrames) = (weight.shape[0], weight.shape[2], outShape[2])
        let plane = x.shape[3] * x.shape[4]
        for extent in [outChannels, channels, frames * plane, outFrames * plane] { try checkedGemmExtent(extent, op) }

        let (result, out) = makeTensor(outShape)
        guard result.count > 0 else { return result }
        let chosen = kernel ?? temporalConvKernel(channels: channels, taps: taps, outChannels: outChannels)
        if chosen == .planes {
            temporalConvByPlanes(x.cpu, weight: weight.cpu, bias: bias?.cpu, out: out, batch: batch,
                                 channels: channels, frames: frames, outChannels: outChannels, taps: taps,
                                 outFrames: outFrames, plane: plane, padding: padding)
            return result
        }
        // Tap-major weights: tap k's [O, C] matrix must be contiguous for the GEMM.
        let tapWeights = UnsafeMutablePointer<Float>.allocate(capacity: max(1, taps * outChannels * channels))
        defer { tapWeights.deallocate() }
        let source = weight.cpu
        for o in 0 ..< outChannels {
            for c in 0 ..< channels {
                for k in 0 ..< taps {
                    tapWeights[(k * outChannels + o) * channels + c] = source[(o * channels + c) * taps + k]
                }
            }
        }

        // Work items are (sample, block of output columns). A block's [O, columns] slice of the
        // output (about 256 KiB) stays in cache while every tap accumulates onto it.
        let input = x.cpu, biasValues = bias?.cpu
        let columns = outFrames * plane
        let blockColumns = min(columns, max(64, (1 << 16) / max(outChannels, 1)) / 16 * 16)
        let blocks = (columns + blockColumns - 1) / blockColumns
        let work = max(1, outChannels * channels * taps * blockColumns)
        keepBLASSingleThreaded()
        parallelFor(batch * blocks, grain: max(1, Self.minimumParallelGemmWork / work)) { items in
            for item in items {
                let (sample, block) = item.quotientAndRemainder(dividingBy: blocks)
                let first = block * blockColumns, end = min(columns, first + blockColumns)
                let output = out + sample * outChannels * columns
                for o in 0 ..< outChannels {
                    (output + o * columns + first).update(repeating: biasValues?[o] ?? 0, count: end - first)
                }
                for k in 0 ..< taps {
                    // Output frame f reads input frame f + k - padding; keep the columns where it exists.
                    let shift = (k - padding) * plane
                    let from = max(first, -shift), to = min(end, frames * plane - shift)
                    guard to > from else { continue }
                    sgemm(m: outChannels, n: to - from, k: channels,
                          a: tapWeights + k * outChannels * channels, lda: channels,
                          b: input + sample * channels * frames * plane + from + shift, ldb: frames * plane,
                          beta: 1, c: output + from, ldc: columns)
                }
            }
        }
        return result
    }

    /// Sources (input channels x taps) and output channels up to which ``temporalConv(_:weight:bias:padding:)``
    /// runs the plane kernel (`CPUKernels/PlaneGEMM.swift`), whose packed weights are re-read
    /// for every block of 32 columns and should stay in L2: up to 193 KiB by these bounds.
    /// On the small UNet's temporal convolutions it took 0.69-0.71x the time of the GEMMs per tap
    /// at 32 channels and 0.87-0.89x at 64 (`infinity bench temporal-conv --threads 1`); at 128
    /// channels the two were even.
    static let maximumPlaneGEMMSources = 384
    static let maximumPlaneGEMMOutputs = 128

    /// The temporal convolution by the plane kernel: each output frame of each sample is a plane
    /// GEMM over the `channels x taps` input frames it reads (the zero plane where a tap falls in
    /// the padding), in chunks of columns shared out among the threads.
    private func temporalConvByPlanes(_ input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                      bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, batch: Int,
                                      channels: Int, frames: Int, outChannels: Int, taps: Int, outFrames: Int,
                                      plane: Int, padding: Int) {
        let sourceCount = channels * taps
        let kernel = PlaneGEMMKernel(outChannels: outChannels, sources: sourceCount, bias: bias,
                                     instructionSet: instructionSet) { o, r in
            weight[o * sourceCount + r]  // [O, C, K]: source r = c * taps + k
        }
        let zeros = UnsafeMutablePointer<Float>.allocate(capacity: kernel.columns)
        zeros.initialize(repeating: 0, count: kernel.columns)
        defer { zeros.deallocate() }
        // Items are (sample, chunk of columns). Each block of the kernel's columns is gathered
        // from every input frame of every channel into a dense `[frames][channels][width]` buffer
        // (in place the sources are planes a power of two apart, which evict each other from L1),
        // then runs every output frame in turn.
        let width = kernel.columns
        let chunkColumns = min(plane, 4 * width)
        let chunks = (plane + chunkColumns - 1) / chunkColumns
        let grain = max(1, Self.minimumParallelGemmWork / max(1, outChannels * sourceCount * chunkColumns * outFrames))
        parallelFor(batch * chunks, grain: grain) { items in
            let packed = UnsafeMutablePointer<Float>.allocate(capacity: frames * channels * width)
            let sources = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: sourceCount)
            defer {
                packed.deallocate()
                sources.deallocate()
            }
            for item in items {
                let (sample, chunk) = item.quotientAndRemainder(dividingBy: chunks)
                let sampleInput = input + sample * channels * frames * plane
                let output = out + sample * outChannels * outFrames * plane
                let end = min(plane, (chunk + 1) * chunkColumns)
                for first in stride(from: chunk * chunkColumns, to: end, by: width) {
                    let columns = first ..< min(end, first + width)
                    for frame in 0 ..< frames {
                        kernel.gather(sampleInput + frame * plane, rows: channels, stride: frames * plane,
                                      columns: columns, into: packed + frame * channels * width)
                    }
                    for frame in 0 ..< outFrames {
                        for c in 0 ..< channels {
                            for k in 0 ..< taps {
                                let source = frame + k - padding
                                sources[c * taps + k] = (0 ..< frames).contains(source)
                                    ? UnsafePointer(packed + (source * channels + c) * width) : UnsafePointer(zeros)
                            }
                        }
                        kernel.run(sources: sources, out: output + frame * plane + first,
                                   outStride: outFrames * plane, columns: 0 ..< columns.count)
                    }
                }
            }
        }
    }

    // MARK: conv2d lowering

    /// Convolves each image in bands of output rows, the (image, band) pairs shared out among
    /// the threads: each thread builds a band's patch matrix `[C*KH*KW, rows*OW]` in a buffer of
    /// its own, writes the bias into the band's columns of the output and runs one
    /// single-threaded GEMM accumulating onto them (leading dimension `OH*OW`). A 1x1, stride 1,
    /// unpadded convolution multiplies the image directly.
    private func convolveInBands(_ input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                 out: UnsafeMutablePointer<Float>, geometry g: ConvolutionGeometry) {
        let pixels = g.outHeight * g.outWidth
        // Bands of about 512 KiB of patch matrix, so it stays in a core's L2 cache between im2col
        // and the GEMM, but at least `minimumColumns` wide: OpenBLAS packs the [O, C*KH*KW]
        // weights in every call, which only pays over enough columns. Pointwise convolutions
        // read the image itself and need no banding beyond giving every thread a share.
        let patchBudget = g.isPointwise ? pixels
            : max(g.outWidth, ConvolutionGeometry.minimumColumns, (1 << 17) / max(g.patchSize, 1))
        var bandRows = max(1, min(g.outHeight, patchBudget / g.outWidth))
        if g.images < ConvolutionGeometry.minimumBands {
            // Too few images to go round: cut each into bands.
            let bandsPerImage = (ConvolutionGeometry.minimumBands + g.images - 1) / g.images
            bandRows = min(bandRows, max(1, (g.outHeight + bandsPerImage - 1) / bandsPerImage))
        }
        let bands = (g.outHeight + bandRows - 1) / bandRows
        let work = max(1, g.outChannels * g.patchSize * bandRows * g.outWidth)
        keepBLASSingleThreaded()
        parallelFor(g.images * bands, grain: max(1, Self.minimumParallelGemmWork / work)) { items in
            let scratch = g.isPointwise ? nil
                : HostBufferPool.shared.allocate(byteCount: g.patchSize * bandRows * g.outWidth * MemoryLayout<Float>.stride)
            defer { scratch.map(HostBufferPool.shared.release) }
            let patches = scratch?.base.assumingMemoryBound(to: Float.self)
            for item in items {
                let (image, band) = item.quotientAndRemainder(dividingBy: bands)
                let firstRow = band * bandRows
                let rows = min(bandRows, g.outHeight - firstRow)
                let columns = rows * g.outWidth
                let output = out + image * g.outChannels * pixels + firstRow * g.outWidth
                for channel in 0 ..< g.outChannels {
                    (output + channel * pixels).update(repeating: bias?[channel] ?? 0, count: columns)
                }
                if let patches {
                    im2col(input, geometry: g, image: image, outRows: firstRow ..< firstRow + rows, into: patches)
                    sgemm(m: g.outChannels, n: columns, k: g.patchSize, a: weight, lda: g.patchSize,
                          b: patches, ldb: columns, beta: 1, c: output, ldc: pixels)
                } else {
                    sgemm(m: g.outChannels, n: columns, k: g.patchSize, a: weight, lda: g.patchSize,
                          b: input + image * g.channels * pixels + firstRow * g.outWidth, ldb: pixels,
                          beta: 1, c: output, ldc: pixels)
                }
            }
        }
    }

    /// Writes the patch matrix of output rows `outRows` of `image` into `patches`, on the calling
    /// thread: row `(c*KH + ky)*KW + kx`, column `row*OW + ox` holds the input pixel that kernel
    /// tap `(ky, kx)` of channel `c` sees for that output pixel, or 0 in the padding.
    private func im2col(_ input: UnsafePointer<Float>, geometry g: ConvolutionGeometry, image: Int,
                        outRows: Range<Int>, into patches: UnsafeMutablePointer<Float>) {
        let columns = outRows.count * g.outWidth
        let taps = g.kernelHeight * g.kernelWidth
        for patchRow in 0 ..< g.patchSize {
            let (channel, tap) = patchRow.quotientAndRemainder(dividingBy: taps)
            let (ky, kx) = tap.quotientAndRemainder(dividingBy: g.kernelWidth)
            let plane = input + (image * g.channels + channel) * g.height * g.width
            let destination = patches + patchRow * columns
            // Output columns whose input column lies inside the image: ox*stride + kx - padding in [0, W).
            let firstColumn = min(g.outWidth, max(0, (g.padding - kx + g.stride - 1) / g.stride))
            let endColumn = max(firstColumn,
                                min(g.outWidth, (g.width + g.padding - kx + g.stride - 1) / g.stride))
            let shift = kx - g.padding
            for (rowIndex, oy) in outRows.enumerated() {
                let row = destination + rowIndex * g.outWidth
                let iy = oy * g.stride + ky - g.padding
                guard iy >= 0, iy < g.height else {
                    row.update(repeating: 0, count: g.outWidth)
                    continue
                }
                let sourceRow = plane + iy * g.width
                row.update(repeating: 0, count: firstColumn)
                if g.stride == 1 {
                    (row + firstColumn).update(from: sourceRow + firstColumn + shift, count: endColumn - firstColumn)
                } else {
                    for ox in firstColumn ..< endColumn { row[ox] = sourceRow[ox * g.stride + shift] }
                }
                (row + endColumn).update(repeating: 0, count: g.outWidth - endColumn)
            }
        }
    }
}

/// Extents of one conv2d call, with the derived output size.
struct ConvolutionGeometry {
    let images, channels, height, width: Int
    let outChannels, kernelHeight, kernelWidth: Int
    let stride, padding: Int

    /// Output rows; 0 when the kernel does not fit (or the stride is invalid).
    var outHeight: Int { Self.outExtent(height, kernel: kernelHeight, stride: stride, padding: padding) }
    /// Output columns; 0 when the kernel does not fit (or the stride is invalid).
    var outWidth: Int { Self.outExtent(width, kernel: kernelWidth, stride: stride, padding: padding) }
    /// Rows of the patch matrix: one per input channel and kernel tap.
    var patchSize: Int { channels * kernelHeight * kernelWidth }
    /// Work items a convolution is cut into at least (bands of rows, or of tile rows), when it
    /// is large enough: enough to go round the threads of a typical machine. Never derived from
    /// the thread count itself: the bands fix the GEMMs' shapes, OpenBLAS's rounding may depend
    /// on them, and a result must not depend on how many threads computed it.
    static let minimumBands = 16
    /// Output columns (pixels) an im2col band holds at least: the width of its GEMM.
    static let minimumColumns = 128

    /// A 1x1, stride 1, unpadded convolution: the input image already is the patch matrix.
    var isPointwise: Bool { kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0 }
    /// A 3x3, stride 1, padding 1 convolution with enough channels for Winograd's F(2x2, 3x3)
    /// (`CPUBackend+Winograd.swift`) to beat im2col.
    var suitsWinograd: Bool {
        kernelHeight == 3 && kernelWidth == 3 && stride == 1 && padding == 1
            && min(channels, outChannels) >= CPUBackend.minimumWinogradChannels
    }

    private static func outExtent(_ extent: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        let span = extent + 2 * padding - kernel
        return stride >= 1 && span >= 0 ? span / stride + 1 : 0
    }
}

/// Weights packed for the plane kernel of one instruction set (`CPUKernels/PlaneGEMM.swift`),
/// and the kernel that runs them.
struct PlaneGEMMKernel: Sendable {
    let packed: [Float]
    let outChannels, sources: Int
    let instructionSet: CPUBackend.InstructionSet

    /// Packs `weight(o, r)` for `outChannels` x `sources` weights and `bias [outChannels]`.
    init(outChannels: Int, sources: Int, bias: UnsafePointer<Float>?, instructionSet: CPUBackend.InstructionSet,
         weight: (_ o: Int, _ r: Int) -> Float) {
        (self.outChannels, self.sources, self.instructionSet) = (outChannels, sources, instructionSet)
        packed = switch instructionSet {
        case .avx512: AVX512.packPlaneGEMM(outChannels: outChannels, sources: sources, bias: bias, weight: weight)
        case .avx2: AVX2.packPlaneGEMM(outChannels: outChannels, sources: sources, bias: bias, weight: weight)
        }
    }

    /// Columns per register block of the kernel: the width of ``gather(_:rows:stride:columns:into:)``'s rows.
    var columns: Int {
        switch instructionSet {
        case .avx512: AVX512.planeGEMMColumns
        case .avx2: AVX2.planeGEMMColumns
        }
    }

    /// Copies columns `columns` (at most ``columns`` of them) of `rows` rows `stride` floats
    /// apart into consecutive rows of ``columns`` floats at `packed`.
    func gather(_ source: UnsafePointer<Float>, rows: Int, stride: Int, columns: Range<Int>,
                into packed: UnsafeMutablePointer<Float>) {
        switch instructionSet {
        case .avx512: AVX512.planeGEMMGather(source, rows: rows, stride: stride, columns: columns, into: packed)
        case .avx2: AVX2.planeGEMMGather(source, rows: rows, stride: stride, columns: columns, into: packed)
        }
    }

    /// Columns `columns` of `out[o * outStride + p] = bias[o] + Σ_r w[o][r] * sources[r][p]`.
    func run(sources pointers: UnsafePointer<UnsafePointer<Float>>, out: UnsafeMutablePointer<Float>,
             outStride: Int, columns: Range<Int>) {
        packed.withUnsafeBufferPointer { packed in
            switch instructionSet {
            case .avx512:
                AVX512.planeGEMM(sources: pointers, count: sources, packed: packed.baseAddress!,
                                 outChannels: outChannels, out: out, outStride: outStride, columns: columns)
            case .avx2:
                AVX2.planeGEMM(sources: pointers, count: sources, packed: packed.baseAddress!,
                               outChannels: outChannels, out: out, outStride: outStride, columns: columns)
            }
        }
    }
}
