// Layer normalisation of rows, generic over the vector instruction set (`ISA`): the statistics
// of a row in two passes over its vectors, in Float lanes, then the normalised, scaled and shifted
// row. The backend's rows are short (32-1280 features): per row, the old path spent more on
// Double arithmetic, a division and a square root, and on scalar loops compiled for the baseline
// (SSE) than on the data, and ran at a third of the memory rate of an add over the same tensor.

/// The layer-norm kernel for one instruction set.
@frozen @usableFromInline
package enum LayerNormKernel<ISA: VectorISA> {
    /// `out[r][i] = (x[r][i] - mean_r) / sqrt(variance_r + epsilon) * gamma[i] + beta[i]` for the
    /// rows `rows` of `x [R, width]` (biased variance). The mean is the row's sum over its width
    /// in Float; the variance is that of the deviations from it, corrected by their own sum for
    /// the mean's rounding: a row whose mean is large next to its spread keeps its precision.
    /// Each row's result depends on that row alone, whatever the split into `rows`.
    @inlinable
    package static func run(_ x: UnsafePointer<Float>, rows: Range<Int>, width: Int, gamma: UnsafePointer<Float>,
                            beta: UnsafePointer<Float>, epsilon: Float, out: UnsafeMutablePointer<Float>) {
        let l = ISA.lanes, vectorEnd = width - width % l, count = Float(width)
        for row in rows {
            let source = x + row &* width, destination = out + row &* width
            var sums = ISA.Vector()
            var i = 0
            while i < vectorEnd {
                sums += ISA.load(source + i)
                i &+= l
            }
            var sum = ISA.horizontalSum(sums)
            while i < width {
                sum += source[i]
                i &+= 1
            }
            let mean = sum / count, center = ISA.Vector(repeating: mean)

            var deviations = ISA.Vector(), squares = ISA.Vector()
            i = 0
            while i < vectorEnd {
                let d = ISA.load(source + i) - center
                deviations += d
                squares = squares.addingProduct(d, d)
                i &+= l
            }
            var deviationSum = ISA.horizontalSum(deviations), squareSum = ISA.horizontalSum(squares)
            while i < width {
                let d = source[i] - mean
                deviationSum += d
                squareSum += d * d
                i &+= 1
            }
            let variance = max(0, (squareSum - deviationSum * deviationSum / count) / count)
            let rstd = 1 / (variance + epsilon).squareRoot()

            // (x - mean) * rstd * gamma + beta, the mean corrected by the deviations' mean.
            let shift = mean + deviationSum / count
            let offset = ISA.Vector(repeating: shift), scale = ISA.Vector(repeating: rstd)
            i = 0
            while i < vectorEnd {
                let normalized = (ISA.load(source + i) - offset) * scale
                ISA.store(ISA.load(beta + i).addingProduct(normalized, ISA.load(gamma + i)), destination + i)
                i &+= l
            }
            while i < width {
                destination[i] = beta[i].addingProduct((source[i] - shift) * rstd, gamma[i])
                i &+= 1
            }
        }
    }
}
