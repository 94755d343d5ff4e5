import Tensor

extension CPUBackend {
    /// Concatenates tensors of equal shape except along `axis`
    /// (see ``Backend/concat(_:axis:)``).
    public func concat(_ tensors: [Tensor], axis: Int) throws -> Tensor {
        let outShape = Shape.concatenated(tensors.map(\.shape), axis: axis)
        let first = tensors[0].shape
        let (result, out) = makeTensor(outShape)
        let outer = first[..<axis].reduce(1, *)
        let inner = first[(axis + 1)...].reduce(1, *)
        let rowLength = outShape[axis] * inner
        var offset = 0
        for tensor in tensors {
            let input = tensor.cpu, length = tensor.shape[axis] * inner, start = offset
            copyBlocks(count: outer, length: length,
                       from: { UnsafePointer(input + $0 * length) },
                       to: { out + $0 * rowLength + start })
            offset += length
        }
        return result
    }

    /// Reorders axes as `torch.permute` (see ``Backend/permute(_:_:)``).
    ///
    /// Axes of extent 1 are dropped and axes that stay adjacent merge, so every permutation
    /// becomes one of three kernels: a plain copy (identity), copies of contiguous blocks (the
    /// innermost axis stays, e.g. `[B, F, C, H, W] -> [B, C, F, H, W]`), or tiled 2-D transposes
    /// (the innermost axis moves, e.g. `[B, C, F, H, W] -> [B, H, W, F, C]`).
    public func permute(_ x: Tensor, _ permutation: [Int]) throws -> Tensor {
        let (result, out) = makeTensor(Shape.permuted(x.shape, permutation))
        guard x.count > 0 else { return result }
        let input = x.cpu
        let inStrides = Shape.strides(x.shape)

        // Runs of input axes in output order: (extent, input stride).
        var runs: [(extent: Int, stride: Int)] = []
        for axis in permutation where x.shape[axis] != 1 {
            let stride = inStrides[axis]
            if let last = runs.last, last.stride == x.shape[axis] * stride {
                runs[runs.count - 1] = (last.extent * x.shape[axis], stride)
            } else {
                runs.append((x.shape[axis], stride))
            }
        }

        guard runs.count > 1 else {
            copyBlocks(count: 1, length: x.count, from: { _ in UnsafePointer(input) }, to: { _ in out })
            return result
        }
        if runs[runs.count - 1].stride == 1 {
            let length = runs.removeLast().extent
            copyBlocks(count: x.count / length, length: length,
                       from: { UnsafePointer(input + Self.offset(of: $0, in: runs)) },
                       to: { out + $0 * length })
        } else {
            transposeTiles(input, out, runs: runs)
        }
        return result
    }

    /// Elements `start ..< start + length` along `axis` (see ``Backend/slice(_:axis:start:length:)``).
    public func slice(_ x: Tensor, axis: Int, start: Int, length: Int) throws -> Tensor {
        let (result, out) = makeTensor(Shape.sliced(x.shape, axis: axis, start: start, length: length))
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        let extent = x.shape[axis]
        let input = x.cpu
        copyBlocks(count: x.shape[..<axis].reduce(1, *), length: length * inner,
                   from: { UnsafePointer(input + ($0 * extent + start) * inner) },
                   to: { out + $0 * length * inner })
        return result
    }

    /// Repeats each slice along `axis` `times` times in place, as `torch.repeat_interleave`
    /// (see ``Backend/repeatInterleave(_:times:axis:)``).
    public func repeatInterleave(_ x: Tensor, times: Int, axis: Int) throws -> Tensor {
        let (result, out) = makeTensor(Shape.repeated(x.shape, times: times, axis: axis))
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        let input = x.cpu
        // Output block k is copy k % times of input slice k / times.
        copyBlocks(count: result.count / max(inner, 1), length: inner,
                   from: { UnsafePointer(input + $0 / times * inner) },
                   to: { out + $0 * inner })
        return result
    }

    /// Nearest-neighbour resize of `x [N, C, H, W]` to `[N, C, height, width]`
    /// (see ``Backend/upsampleNearest(_:height:width:)``).
    ///
    /// Source indices follow PyTorch's kernel exactly: `dst` for an equal size, `dst / 2` for
    /// twice the size, otherwise `min(floor(Float(dst) * (Float(in) / Float(out))), in - 1)` in
    /// single precision, which for a few sizes differs from the exact `floor(dst * in / out)`.
    public func upsampleNearest(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
        precondition(x.rank == 4, "upsampleNearest: input must be [N, C, H, W], got \(x.shape)")
        precondition(height > 0 && width > 0,
                     "upsampleNearest: output size \(height)x\(width) must be positive")
        let inHeight = x.shape[2], inWidth = x.shape[3]
        let planes = x.shape[0] * x.shape[1]
        let (result, out) = makeTensor([x.shape[0], x.shape[1], height, width])
        guard result.count > 0 else { return result }
        precondition(inHeight > 0 && inWidth > 0, "upsampleNearest: cannot resize the empty input \(x.shape)")

        let rowSources = Self.nearestSources(output: height, input: inHeight)
        let columnSources = Self.nearestSources(output: width, input: inWidth)
        let doubled = width == 2 * inWidth
        let input = x.cpu
        columnSources.withUnsafeBufferPointer { columnSources in
            parallelFor(planes * height, grain: max(1, Self.elementGrain / width)) { range in
                for row in range {
                    let plane = row / height, y = row % height
                    let destination = out + row * width
                    // Consecutive rows with the same source row are copies of each other.
                    if row > range.lowerBound, y > 0, rowSources[y] == rowSources[y - 1] {
                        destination.update(from: destination - width, count: width)
                        continue
                    }
                    let source = input + (plane * inHeight + rowSources[y]) * inWidth
                    if doubled {
                        for i in 0 ..< inWidth {
                            destination[2 * i] = source[i]
                            destination[2 * i + 1] = source[i]
                        }
                    } else {
                        for i in 0 ..< width { destination[i] = source[columnSources[i]] }
                    }
                }
            }
        }
        return result
    }

    /// PyTorch's `nearest_idx`: the source index of each of `output` positions.
    static func nearestSources(output: Int, input: Int) -> [Int] {
        if output == input { return Array(0 ..< output) }
        if output == 2 * input { return (0 ..< output).map { $0 >> 1 } }
        let scale = Float(input) / Float(output)
        return (0 ..< output).map { min(Int((Float($0) * scale).rounded(.down)), input - 1) }
    }

    // MARK: Kernels

    /// Copies `count` blocks of `length` elements, block `k` from `source(k)` to
    /// `destination(k)`, in parallel.
    ///
    /// Work is split by output element, not by block, so a few huge blocks (a concat along
    /// axis 0) still use every thread.
    func copyBlocks(count: Int, length: Int,
                    from source: (Int) -> UnsafePointer<Float>,
                    to destination: (Int) -> UnsafeMutablePointer<Float>) {
        guard count > 0, length > 0 else { return }
        parallelFor(count * length, grain: Self.elementGrain * 2) { range in
            var position = range.lowerBound
            while position < range.upperBound {
                let block = position / length, offset = position % length
                let n = min(length - offset, range.upperBound - position)
                (destination(block) + offset).update(from: source(block) + offset, count: n)
                position += n
            }
        }
    }

    /// Input offset of the `index`-th combination of `runs` (row-major, last run fastest).
    static func offset(of index: Int, in runs: [(extent: Int, stride: Int)]) -> Int {
        var offset = 0, rest = index
        for run in runs.reversed() {
            offset += rest % run.extent * run.stride
            rest /= run.extent
        }
        return offset
    }

    /// The permutation kernel for a moved innermost axis.
    ///
    /// `runs` are the collapsed input axes in output order, the last one not input-contiguous.
    /// Per combination of the other runs this is a 2-D transpose between the input-contiguous
    /// run (`columns`) and the output-contiguous last run (`rows`). A work item is a strip of
    /// `tile` columns across all rows: every input cache line is consumed whole when it is
    /// read, and the strip's `tile` output rows stay in L1 while they fill.
    private func transposeTiles(_ input: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                runs: [(extent: Int, stride: Int)]) {
        let outStrides = Shape.strides(runs.map(\.extent))
        let columnRun = runs.firstIndex { $0.stride == 1 }!
        let rowRun = runs.count - 1
        let columns = runs[columnRun].extent, columnStride = outStrides[columnRun]
        let rows = runs[rowRun].extent, rowStride = runs[rowRun].stride
        let outerRuns = runs.indices.filter { $0 != columnRun && $0 != rowRun }
        let outer = outerRuns.map { (extent: runs[$0].extent, inStride: runs[$0].stride, outStride: outStrides[$0]) }
        let outerCount = outer.reduce(1) { $0 * $1.extent }

        let tile = 16
        let strips = (columns + tile - 1) / tile
        parallelFor(outerCount * strips, grain: max(1, Self.elementGrain / (rows * tile))) { range in
            for item in range {
                var inOffset = 0, outOffset = 0, rest = item / strips
                for run in outer.reversed() {
                    let index = rest % run.extent
                    inOffset += index * run.inStride
                    outOffset += index * run.outStride
                    rest /= run.extent
                }
                let first = item % strips * tile
                let width = min(tile, columns - first)
                let source = input + inOffset + first
                let destination = out + outOffset + first * columnStride
                // Four input lines at a time, so each output row gets one 4-float store.
                var row = 0
                while row + 4 <= rows {
                    let line = source + row * rowStride
                    for column in 0 ..< width {
                        let quad = SIMD4(line[column], line[column + rowStride],
                                         line[column + 2 * rowStride], line[column + 3 * rowStride])
                        UnsafeMutableRawPointer(destination + column * columnStride + row)
                            .storeBytes(of: quad, as: SIMD4<Float>.self)
                    }
                    row += 4
                }
                while row < rows {
                    let line = source + row * rowStride
                    for column in 0 ..< width {
                        destination[column * columnStride + row] = line[column]
                    }
                    row += 1
                }
            }
        }
    }
}
