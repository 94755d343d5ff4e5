// A linear layer over few input features: `out[r][n] = bias[n] + Σ_k x[r][k] w[n][k]`, computed
// straight from the rows of `x` with the weights packed once per call. Generic over the vector
// instruction set (`ISA`, `L` lanes per vector).
//
// With 32-128 input features (the transformer blocks of small UNets, the projections around
// their attentions) a GEMM library spends much of each call packing the input rows into its
// panel layout, work comparable to the multiply-adds themselves. Here the weights, a few KiB,
// are packed into blocks of 2L output features (`[N / 2L][K][2L]`, zero-padded), and each block
// of 8 rows accumulates 8 x 2L outputs in 16 vector registers: per input feature, two vector
// loads of weights, eight broadcast input values, sixteen FMAs. Every output is the same chain
// of FMAs over the input features in order, whatever the thread count or the row block it falls
// in, so results do not depend on the threading.

/// The narrow linear kernel for one instruction set.
@frozen @usableFromInline
package enum NarrowLinear<ISA: VectorISA> {
    /// Output features per packed block: two vectors.
    @inlinable
    package static var blockColumns: Int { 2 * ISA.lanes }

    /// Floats of packed weights (and of packed bias: one block row per block) for `outFeatures`
    /// x `inFeatures` weights.
    @inlinable
    package static func packedCount(outFeatures: Int, inFeatures: Int) -> Int {
        let blocks = (outFeatures + blockColumns - 1) / blockColumns
        return blocks * (inFeatures + 1) * blockColumns
    }

    /// Packs `weight [N, K]` and `bias [N]` (zeros when nil) into `packed`
    /// (``packedCount(outFeatures:inFeatures:)`` floats): per block of 2L output features, the
    /// bias row then `K` rows of 2L weights.
    @inlinable
    package static func pack(weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int,
                             inFeatures: Int, into packed: UnsafeMutablePointer<Float>) {
        let width = blockColumns
        packed.update(repeating: 0, count: packedCount(outFeatures: outFeatures, inFeatures: inFeatures))
        for n in 0 ..< outFeatures {
            let (block, column) = n.quotientAndRemainder(dividingBy: width)
            let base = packed + block * (inFeatures + 1) * width + column
            base[0] = bias?[n] ?? 0
            for k in 0 ..< inFeatures { base[(k + 1) * width] = weight[n * inFeatures + k] }
        }
    }

    /// Computes output rows `rows` of `out [R, N]` from `x [R, K]` and the packed weights.
    @inlinable
    package static func run(x: UnsafePointer<Float>, rows: Range<Int>, inFeatures: Int, packed: UnsafePointer<Float>,
                            outFeatures: Int, out: UnsafeMutablePointer<Float>) {
        let width = blockColumns
        var column = 0
        var weights = packed
        while column < outFeatures {
            let columns = min(width, outFeatures - column)
            var row = rows.lowerBound
            while row + 8 <= rows.upperBound {
                block8(x: x + row * inFeatures, inFeatures: inFeatures, weights: weights,
                       out: out + row * outFeatures + column, stride: outFeatures, columns: columns)
                row += 8
            }
            while row < rows.upperBound {
                block1(x: x + row * inFeatures, inFeatures: inFeatures, weights: weights,
                       out: out + row * outFeatures + column, columns: columns)
                row += 1
            }
            column += width
            weights += (inFeatures + 1) * width
        }
    }

    /// Eight rows by one block of 2L output features (`columns` of them stored).
    @inlinable @inline(__always)
    static func block8(x: UnsafePointer<Float>, inFeatures k: Int, weights: UnsafePointer<Float>,
                       out: UnsafeMutablePointer<Float>, stride: Int, columns: Int) {
        let l = ISA.lanes
        let b0 = ISA.load(weights), b1 = ISA.load(weights + l)
        var a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1
        var a40 = b0, a41 = b1, a50 = b0, a51 = b1, a60 = b0, a61 = b1, a70 = b0, a71 = b1
        var w = weights + 2 * l
        for j in 0 ..< k {
            let w0 = ISA.load(w), w1 = ISA.load(w + l)
            var s = ISA.Vector(repeating: x[j])
            a00 = a00.addingProduct(s, w0)
            a01 = a01.addingProduct(s, w1)
            s = ISA.Vector(repeating: x[k &+ j])
            a10 = a10.addingProduct(s, w0)
            a11 = a11.addingProduct(s, w1)
            s = ISA.Vector(repeating: x[2 &* k &+ j])
            a20 = a20.addingProduct(s, w0)
            a21 = a21.addingProduct(s, w1)
            s = ISA.Vector(repeating: x[3 &* k &+ j])
            a30 = a30.addingProduct(s, w0)
            a31 = a31.addingProduct(s, w1)
            s = ISA.Vector(repeating: x[4 &* k &+ j])
            a40 = a40.addingProduct(s, w0)
            a41 = a41.addingProduct(s, w1)
            s = ISA.Vector(repeating: x[5 &* k &+ j])
            a50 = a50.addingProduct(s, w0)
            a51 = a51.addingProduct(s, w1)
            s = ISA.Vector(repeating: x[6 &* k &+ j])
            a60 = a60.addingProduct(s, w0)
            a61 = a61.addingProduct(s, w1)
            s = ISA.Vector(repeating: x[7 &* k &+ j])
            a70 = a70.addingProduct(s, w0)
            a71 = a71.addingProduct(s, w1)
            w += 2 * l
        }
        ISA.store(a00, a01, out, count: columns)
        ISA.store(a10, a11, out + stride, count: columns)
        ISA.store(a20, a21, out + 2 * stride, count: columns)
        ISA.store(a30, a31, out + 3 * stride, count: columns)
        ISA.store(a40, a41, out + 4 * stride, count: columns)
        ISA.store(a50, a51, out + 5 * stride, count: columns)
        ISA.store(a60, a61, out + 6 * stride, count: columns)
        ISA.store(a70, a71, out + 7 * stride, count: columns)
    }

    /// One row by one block of 2L output features (the rows past the last whole block of 8).
    @inlinable @inline(__always)
    static func block1(x: UnsafePointer<Float>, inFeatures k: Int, weights: UnsafePointer<Float>,
                       out: UnsafeMutablePointer<Float>, columns: Int) {
        let l = ISA.lanes
        var a0 = ISA.load(weights), a1 = ISA.load(weights + l)
        var w = weights + 2 * l
        for j in 0 ..< k {
            let s = ISA.Vector(repeating: x[j])
            a0 = a0.addingProduct(s, ISA.load(w))
            a1 = a1.addingProduct(s, ISA.load(w + l))
            w += 2 * l
        }
        ISA.store(a0, a1, out, count: columns)
    }
}
