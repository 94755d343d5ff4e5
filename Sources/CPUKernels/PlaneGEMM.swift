// A small GEMM whose inputs are whole planes: `out[o][p] = bias[o] + Σ_r w[o][r] * source_r[p]`,
// where each of the `R` sources is a pointer to a contiguous run of floats (a channel's frame,
// or a frame of zeros). Generic over the vector instruction set (`ISA`, `L` lanes per vector).
//
// A temporal convolution over channel-major video `[C, F, H, W]` is exactly this for each output
// frame: its sources are the `C x K` (channel, tap) frames it reads, each an `H*W` plane at a
// shifted frame, and the zero plane where a tap falls in the padding. As a BLAS GEMM it took a
// call per tap, each packing its `[C, columns]` operand and re-reading the output; with the
// small UNets' 32-64 channels those calls ran at about half the FMA peak. Here the weights (a
// few KiB to a few tens of KiB) are packed once per call into blocks of 8 output channels
// (`[O / 8][R][8]`, zero-padded), and each block of 2L columns accumulates 8 x 2L outputs in 16
// vector registers: per source, two vector loads, eight broadcast weights, sixteen FMAs. The
// caller gathers a column block of every source into dense rows first (`gather`), so that the
// block's sources (`R x 2L` floats) stay in L1 while every block of output channels reads them.
// Each output is one chain of FMAs over the sources in order, whatever the thread count or the
// column range.

/// The plane GEMM kernel for one instruction set.
@frozen @usableFromInline
package enum PlaneGEMM<ISA: VectorISA> {
    /// Output channels per register block.
    @inlinable
    package static var blockChannels: Int { 8 }

    /// Floats of packed weights for `outChannels` x `sources` weights: the bias of each block
    /// (8 floats), then its `sources` rows of 8 weights.
    @inlinable
    package static func packedCount(outChannels: Int, sources: Int) -> Int {
        (outChannels + blockChannels - 1) / blockChannels * (sources + 1) * blockChannels
    }

    /// Packs `weight(o, r)` and `bias [O]` (zeros when nil) into `packed`
    /// (``packedCount(outChannels:sources:)`` floats).
    @inlinable
    package static func pack(outChannels: Int, sources: Int, bias: UnsafePointer<Float>?,
                             into packed: UnsafeMutablePointer<Float>, weight: (_ o: Int, _ r: Int) -> Float) {
        let width = blockChannels
        packed.update(repeating: 0, count: packedCount(outChannels: outChannels, sources: sources))
        for o in 0 ..< outChannels {
            let (block, lane) = o.quotientAndRemainder(dividingBy: width)
            let base = packed + block * (sources + 1) * width + lane
            base[0] = bias?[o] ?? 0
            for r in 0 ..< sources { base[(r + 1) * width] = weight(o, r) }
        }
    }

    /// `out[o * outStride + p] = bias[o] + Σ_r w[o][r] * sources[r][p]` for `p` in `columns`
    /// and every output channel, from the packed weights. The kernel reads whole blocks of 2L
    /// columns from `columns.lowerBound`: each source must hold them all (rows from
    /// ``gather(_:rows:stride:columns:into:)`` do, zero-padded); the columns past the range
    /// only feed lanes that are not stored.
    @inlinable
    package static func run(sources: UnsafePointer<UnsafePointer<Float>>, count: Int, packed: UnsafePointer<Float>,
                            outChannels: Int, out: UnsafeMutablePointer<Float>, outStride: Int, columns: Range<Int>) {
        let width = 2 * ISA.lanes
        var column = columns.lowerBound
        while column < columns.upperBound {
            let valid = min(width, columns.upperBound - column)
            var weights = packed, o = 0
            while o < outChannels {
                block(sources: sources, count: count, column: column, valid: valid, weights: weights,
                      out: out + o * outStride + column, outStride: outStride,
                      channels: min(blockChannels, outChannels - o))
                weights += (count + 1) * blockChannels
                o += blockChannels
            }
            column += width
        }
    }

    /// Eight output channels (`channels` of them stored) by 2L columns (`valid` of them stored:
    /// the last block of a range may be short; all 2L are read).
    @inlinable @inline(__always)
    static func block(sources: UnsafePointer<UnsafePointer<Float>>, count: Int, column: Int, valid: Int,
                      weights: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, outStride: Int, channels: Int) {
        let l = ISA.lanes
        var a00 = ISA.Vector(repeating: weights[0]), a10 = ISA.Vector(repeating: weights[1])
        var a20 = ISA.Vector(repeating: weights[2]), a30 = ISA.Vector(repeating: weights[3])
        var a40 = ISA.Vector(repeating: weights[4]), a50 = ISA.Vector(repeating: weights[5])
        var a60 = ISA.Vector(repeating: weights[6]), a70 = ISA.Vector(repeating: weights[7])
        var a01 = a00, a11 = a10, a21 = a20, a31 = a30, a41 = a40, a51 = a50, a61 = a60, a71 = a70
        var w = weights + 8
        for r in 0 ..< count {
            let x = sources[r] + column
            let x0 = ISA.load(x), x1 = ISA.load(x + l)
            var s = ISA.Vector(repeating: w[0])
            a00 = a00.addingProduct(s, x0); a01 = a01.addingProduct(s, x1)
            s = ISA.Vector(repeating: w[1])
            a10 = a10.addingProduct(s, x0); a11 = a11.addingProduct(s, x1)
            s = ISA.Vector(repeating: w[2])
            a20 = a20.addingProduct(s, x0); a21 = a21.addingProduct(s, x1)
            s = ISA.Vector(repeating: w[3])
            a30 = a30.addingProduct(s, x0); a31 = a31.addingProduct(s, x1)
            s = ISA.Vector(repeating: w[4])
            a40 = a40.addingProduct(s, x0); a41 = a41.addingProduct(s, x1)
            s = ISA.Vector(repeating: w[5])
            a50 = a50.addingProduct(s, x0); a51 = a51.addingProduct(s, x1)
            s = ISA.Vector(repeating: w[6])
            a60 = a60.addingProduct(s, x0); a61 = a61.addingProduct(s, x1)
            s = ISA.Vector(repeating: w[7])
            a70 = a70.addingProduct(s, x0); a71 = a71.addingProduct(s, x1)
            w += 8
        }
        ISA.store(a00, a01, out, count: valid)
        if channels > 1 { ISA.store(a10, a11, out + outStride, count: valid) }
        if channels > 2 { ISA.store(a20, a21, out + 2 * outStride, count: valid) }
        if channels > 3 { ISA.store(a30, a31, out + 3 * outStride, count: valid) }
        if channels > 4 { ISA.store(a40, a41, out + 4 * outStride, count: valid) }
        if channels > 5 { ISA.store(a50, a51, out + 5 * outStride, count: valid) }
        if channels > 6 { ISA.store(a60, a61, out + 6 * outStride, count: valid) }
        if channels > 7 { ISA.store(a70, a71, out + 7 * outStride, count: valid) }
    }

    /// Copies columns `columns` (at most 2L of them) of `rows` rows that start `stride` floats
    /// apart into consecutive rows of 2L floats at `packed`, zero-padded. Sources read in place from a
    /// channel-major tensor are planes a power of two apart, whose column blocks share a few L1
    /// sets and evict each other between the blocks of output channels; packed, they stay in L1.
    @inlinable
    package static func gather(_ source: UnsafePointer<Float>, rows: Int, stride: Int, columns: Range<Int>,
                               into packed: UnsafeMutablePointer<Float>) {
        let l = ISA.lanes, valid = columns.count
        var from = source + columns.lowerBound, to = packed
        if valid == 2 * l {
            for _ in 0 ..< rows {
                ISA.store(ISA.load(from), to)
                ISA.store(ISA.load(from + l), to + l)
                from += stride
                to += 2 * l
            }
        } else {
            for _ in 0 ..< rows {
                to.update(from: from, count: valid)
                (to + valid).update(repeating: 0, count: 2 * l - valid)
                from += stride
                to += 2 * l
            }
        }
    }
}
