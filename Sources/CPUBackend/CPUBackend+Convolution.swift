import Tensor

extension CPUBackend {
    /// 2-D cross-correlation as `torch.nn.functional.conv2d`: `x [N, C, H, W]`,
    /// `weight [O, C, KH, KW]`, `bias [O]`, zero padding on both sides of H and W
    /// -> `[N, O, (H + 2*padding - KH) / stride + 1, (W + 2*padding - KW) / stride + 1]`.
    ///
    /// Lowered to GEMM: the weight, viewed as `[O, C*KH*KW]`, times the image's patch matrix
    /// `[C*KH*KW, OH*OW]` (im2col, built in parallel). A 1x1 convolution with stride 1 and no
    /// padding multiplies the image directly. Small images are batched into one wider GEMM and
    /// large ones split into bands of output rows, so each GEMM is wide enough for OpenBLAS to
    /// run at full speed while the patch matrix stays a few megabytes.
    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) throws -> Tensor {
        let op = "conv2d"
        let inputShape = try checkedShape(x, rank: 4, op: op, role: "input")
        let weightShape = try checkedShape(weight, rank: 4, op: op, role: "weight")
        let geometry = ConvolutionGeometry(
            images: inputShape[0], channels: inputShape[1], height: inputShape[2], width: inputShape[3],
            outChannels: weightShape[0], kernelHeight: weightShape[2], kernelWidth: weightShape[3],
            stride: stride, padding: padding)
        guard weightShape[1] == geometry.channels else {
            throw TensorError("\(op): weight \(weightShape) expects \(weightShape[1]) input channels, input \(inputShape) has \(geometry.channels)")
        }
        guard stride >= 1 else { throw TensorError("\(op): stride must be at least 1, got \(stride)") }
        guard padding >= 0 else { throw TensorError("\(op): padding must be non-negative, got \(padding)") }
        guard geometry.kernelHeight >= 1, geometry.kernelWidth >= 1 else {
            throw TensorError("\(op): kernel extents must be at least 1, got weight \(weightShape)")
        }
        guard geometry.outHeight >= 1, geometry.outWidth >= 1 else {
            throw TensorError("\(op): kernel \(geometry.kernelHeight)x\(geometry.kernelWidth) does not fit input \(inputShape) with padding \(padding)")
        }
        try checkBias(bias, count: geometry.outChannels, op: op)
        try checkedGemmExtent(geometry.patchSize, op)
        try checkedGemmExtent(geometry.outChannels, op)

        let (result, out) = makeTensor([geometry.images, geometry.outChannels, geometry.outHeight, geometry.outWidth])
        guard result.count > 0 else { return result }
        let pixels = geometry.outHeight * geometry.outWidth
        // About 4 MiB of patch matrix per GEMM: wide enough to amortise OpenBLAS's packing,
        // small enough to stay in the last-level cache between im2col and the GEMM.
        let columnBudget = max(256, (1 << 20) / max(geometry.patchSize, 1))
        if pixels >= columnBudget / 2 || geometry.images == 1 {
            try convolveInBands(x.cpu, weight: weight.cpu, bias: bias, out: out, geometry: geometry,
                                rowsPerBand: max(1, columnBudget / geometry.outWidth))
        } else {
            try convolveImageGroups(x.cpu, weight: weight.cpu, bias: bias, out: out, geometry: geometry,
                                    imagesPerGroup: max(1, columnBudget / pixels))
        }
        return result
    }

    /// A convolution along frames only, as a `Conv3d` with kernel `(K, 1, 1)`:
    /// `x [B, C, F, H, W]`, `weight [O, C, K, 1, 1]` (or `[O, C, K]`), `bias [O]`, `padding`
    /// zero frames on both sides -> `[B, O, F + 2*padding - K + 1, H, W]`.
    ///
    /// Viewing a sample as the matrix `[C, F*H*W]`, a shift by one frame is a column offset of
    /// `H*W`, so tap `k` is a single GEMM of its `[O, C]` weight slice with the input's column
    /// range shifted by `k - padding` frames, accumulated into the output (`beta = 1`). The zero
    /// padding falls out as the frames each tap skips; no patch matrix is built.
    public func temporalConv(_ x: Tensor, weight: Tensor, bias: Tensor?, padding: Int) throws -> Tensor {
        let op = "temporalConv"
        let inputShape = try checkedShape(x, rank: 5, op: op, role: "input")
        guard weight.dtype == .f32 else { throw TensorError("\(op): weight must be f32 on the CPU backend, got \(weight.dtype)") }
        guard weight.rank == 3 || (weight.rank == 5 && weight.shape[3] == 1 && weight.shape[4] == 1) else {
            throw TensorError("\(op): weight must be [O, C, K, 1, 1] or [O, C, K], got \(weight.shape)")
        }
        let (batch, channels, frames) = (inputShape[0], inputShape[1], inputShape[2])
        let (outChannels, taps) = (weight.shape[0], weight.shape[2])
        guard weight.shape[1] == channels else {
            throw TensorError("\(op): weight \(weight.shape) expects \(weight.shape[1]) input channels, input \(inputShape) has \(channels)")
        }
        guard padding >= 0 else { throw TensorError("\(op): padding must be non-negative, got \(padding)") }
        guard taps >= 1 else { throw TensorError("\(op): kernel must have at least one tap, got weight \(weight.shape)") }
        let outFrames = frames + 2 * padding - taps + 1
        guard outFrames >= 1 else {
            throw TensorError("\(op): \(taps) taps do not fit \(frames) frames with padding \(padding)")
        }
        try checkBias(bias, count: outChannels, op: op)
        let plane = inputShape[3] * inputShape[4]
        for extent in [outChannels, channels, frames * plane, outFrames * plane] { try checkedGemmExtent(extent, op) }

        let (result, out) = makeTensor([batch, outChannels, outFrames, inputShape[3], inputShape[4]])
        guard result.count > 0 else { return result }
        fillChannels(out, rows: batch * outChannels, columns: outFrames * plane, channels: outChannels, with: bias)

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

        let input = x.cpu
        for sample in 0 ..< batch {
            for k in 0 ..< taps {
                // Output frame f reads input frame f + k - padding; keep the frames where it exists.
                let first = max(0, padding - k)
                let end = min(outFrames, frames + padding - k)
                guard end > first else { continue }
                sgemm(m: outChannels, n: (end - first) * plane, k: channels,
                      a: tapWeights + k * outChannels * channels, lda: channels,
                      b: input + (sample * channels * frames + first + k - padding) * plane, ldb: frames * plane,
                      beta: 1,
                      c: out + (sample * outChannels * outFrames + first) * plane, ldc: outFrames * plane)
            }
        }
        return result
    }

    // MARK: conv2d lowering

    /// Convolves each image in bands of output rows: patch matrix `[C*KH*KW, rows*OW]`, GEMM
    /// straight into the output's column range (leading dimension `OH*OW`).
    private func convolveInBands(_ input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: Tensor?,
                                 out: UnsafeMutablePointer<Float>, geometry g: ConvolutionGeometry,
                                 rowsPerBand: Int) throws {
        let pixels = g.outHeight * g.outWidth
        try checkedGemmExtent(pixels, "conv2d")
        fillChannels(out, rows: g.images * g.outChannels, columns: pixels, channels: g.outChannels, with: bias)
        if g.isPointwise {
            for image in 0 ..< g.images {
                sgemm(m: g.outChannels, n: pixels, k: g.patchSize, a: weight, lda: g.patchSize,
                      b: input + image * g.channels * pixels, ldb: pixels, beta: 1,
                      c: out + image * g.outChannels * pixels, ldc: pixels)
            }
            return
        }
        let bandRows = min(rowsPerBand, g.outHeight)
        let patches = UnsafeMutablePointer<Float>.allocate(capacity: g.patchSize * bandRows * g.outWidth)
        defer { patches.deallocate() }
        for image in 0 ..< g.images {
            var firstRow = 0
            while firstRow < g.outHeight {
                let rows = min(bandRows, g.outHeight - firstRow)
                let columns = rows * g.outWidth
                im2col(input, geometry: g, images: image ..< image + 1, outRows: firstRow ..< firstRow + rows,
                       into: patches, leadingDimension: columns)
                sgemm(m: g.outChannels, n: columns, k: g.patchSize, a: weight, lda: g.patchSize,
                      b: patches, ldb: columns, beta: 1,
                      c: out + image * g.outChannels * pixels + firstRow * g.outWidth, ldc: pixels)
                firstRow += rows
            }
        }
    }

    /// Convolves small images several at a time: patch matrix `[C*KH*KW, images*OH*OW]`, one GEMM
    /// into a scratch `[O, images*OH*OW]`, then a parallel scatter to `[images, O, OH*OW]` that
    /// adds the bias on the way.
    private func convolveImageGroups(_ input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: Tensor?,
                                     out: UnsafeMutablePointer<Float>, geometry g: ConvolutionGeometry,
                                     imagesPerGroup: Int) throws {
        let pixels = g.outHeight * g.outWidth
        let group = min(imagesPerGroup, g.images)
        try checkedGemmExtent(group * pixels, "conv2d")
        let patches = UnsafeMutablePointer<Float>.allocate(capacity: g.patchSize * group * pixels)
        defer { patches.deallocate() }
        let product = UnsafeMutablePointer<Float>.allocate(capacity: g.outChannels * group * pixels)
        defer { product.deallocate() }
        let biasValues = bias?.cpu
        var firstImage = 0
        while firstImage < g.images {
            let count = min(group, g.images - firstImage)
            let columns = count * pixels
            im2col(input, geometry: g, images: firstImage ..< firstImage + count, outRows: 0 ..< g.outHeight,
                   into: patches, leadingDimension: columns)
            sgemm(m: g.outChannels, n: columns, k: g.patchSize, a: weight, lda: g.patchSize,
                  b: patches, ldb: columns, beta: 0, c: product, ldc: columns)
            let base = firstImage
            parallelFor(count * g.outChannels, grain: max(1, 4096 / pixels)) { range in
                for unit in range {
                    let (image, channel) = unit.quotientAndRemainder(dividingBy: g.outChannels)
                    let from = product + channel * columns + image * pixels
                    let to = out + ((base + image) * g.outChannels + channel) * pixels
                    let shift = biasValues?[channel] ?? 0
                    for index in 0 ..< pixels { to[index] = from[index] + shift }
                }
            }
            firstImage += count
        }
    }

    /// Writes the patch matrix of `images` (output rows `outRows` of each) into `patches`: row
    /// `(c*KH + ky)*KW + kx`, column `image*rows*OW + row*OW + ox` holds the input pixel that
    /// kernel tap `(ky, kx)` of channel `c` sees for that output pixel, or 0 in the padding.
    private func im2col(_ input: UnsafePointer<Float>, geometry g: ConvolutionGeometry, images: Range<Int>,
                        outRows: Range<Int>, into patches: UnsafeMutablePointer<Float>, leadingDimension: Int) {
        let blockColumns = outRows.count * g.outWidth
        let taps = g.kernelHeight * g.kernelWidth
        parallelFor(images.count * g.patchSize, grain: max(1, 4096 / blockColumns)) { range in
            for unit in range {
                let (imageOffset, patchRow) = unit.quotientAndRemainder(dividingBy: g.patchSize)
                let (channel, tap) = patchRow.quotientAndRemainder(dividingBy: taps)
                let (ky, kx) = tap.quotientAndRemainder(dividingBy: g.kernelWidth)
                let plane = input + ((images.lowerBound + imageOffset) * g.channels + channel) * g.height * g.width
                let destination = patches + patchRow * leadingDimension + imageOffset * blockColumns
                // Output columns whose input column lies inside the image: ox*stride + kx - padding in [0, W).
                let firstColumn = min(g.outWidth, max(0, (g.padding - kx + g.stride - 1) / g.stride))
                let endColumn = max(firstColumn,
                                    min(g.outWidth, (g.width + g.padding - kx + g.stride - 1) / g.stride))
                for (rowIndex, oy) in outRows.enumerated() {
                    let row = destination + rowIndex * g.outWidth
                    let iy = oy * g.stride + ky - g.padding
                    guard iy >= 0, iy < g.height else {
                        row.update(repeating: 0, count: g.outWidth)
                        continue
                    }
                    let sourceRow = plane + iy * g.width
                    let shift = kx - g.padding
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
}

/// Extents of one conv2d call, with the derived output size.
private struct ConvolutionGeometry {
    let images, channels, height, width: Int
    let outChannels, kernelHeight, kernelWidth: Int
    let stride, padding: Int

    /// Output rows; 0 when the kernel does not fit (or the stride is invalid).
    var outHeight: Int { Self.outExtent(height, kernel: kernelHeight, stride: stride, padding: padding) }
    /// Output columns; 0 when the kernel does not fit (or the stride is invalid).
    var outWidth: Int { Self.outExtent(width, kernel: kernelWidth, stride: stride, padding: padding) }
    /// Rows of the patch matrix: one per input channel and kernel tap.
    var patchSize: Int { channels * kernelHeight * kernelWidth }
    /// A 1x1, stride 1, unpadded convolution: the input image already is the patch matrix.
    var isPointwise: Bool { kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0 }

    private static func outExtent(_ extent: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        let span = extent + 2 * padding - kernel
        return stride >= 1 && span >= 0 ? span / stride + 1 : 0
    }
}
