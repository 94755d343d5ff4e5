import CPUKernels
import CPUKernelsAVX2
import CPUKernelsAVX512
import Tensor

extension CPUBackend {
    /// Group normalisation of `x [N, C, *]` (see ``Backend/groupNorm(_:groups:weight:bias:epsilon:)``).
    ///
    /// Each (sample, group) pair is one contiguous block of `C / groups * spatial` elements. The
    /// blocks are cut into fixed-length pieces whose moments are computed in parallel and merged
    /// in a fixed order, so the result does not depend on the thread count.
    public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?,
                          epsilon: Float) throws -> Tensor {
        try groupNorm(x, groups: groups, weight: weight, bias: bias, epsilon: epsilon, activation: nil)
    }

    /// Group normalisation followed by `activation`, applied in the same pass over the output
    /// (see ``Backend/groupNorm(_:groups:weight:bias:epsilon:activation:)``); equal bit for bit
    /// to the two ops.
    public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float,
                          activation: Activation) throws -> Tensor {
        try groupNorm(x, groups: groups, weight: weight, bias: bias, epsilon: epsilon, activation: .some(activation))
    }

    private func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float,
                           activation: Activation?) throws -> Tensor {
        let (samples, blockLength) = try Shape.groupNorm(x.shape, groups: groups, weight: weight?.shape, bias: bias?.shape)
        let blocks = samples * groups
        guard blocks > 0, blockLength > 0 else { return try zeros(x.shape) }
        let moments = blockMoments(x.cpu, blocks: blocks, blockLength: blockLength)
        return normalizeGroups(x, groups: groups, weight: weight, bias: bias, activation: activation) { block in
            (moments[block].mean, 1 / (moments[block].variance + Double(epsilon)).squareRoot())
        }
    }

    /// Layer normalisation over the last axis of `x [..., D]`
    /// (see ``Backend/layerNorm(_:weight:bias:epsilon:)``), rows shared out among the threads to
    /// the kernel of the backend's instruction set (`CPUKernels/LayerNorm.swift`).
    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, epsilon: Float) throws -> Tensor {
        let width = try Shape.layerNorm(x.shape, weight: weight?.shape, bias: bias?.shape)

        let (result, out) = makeTensor(x.shape)
        guard width > 0, x.count > 0 else { return result }
        let rows = x.count / width
        let input = x.cpu

        // A missing weight or bias becomes ones or zeros so one vectorisable loop serves all cases.
        let ones = weight == nil ? [Float](repeating: 1, count: width) : []
        let zeros = bias == nil ? [Float](repeating: 0, count: width) : []
        ones.withUnsafeBufferPointer { ones in
            zeros.withUnsafeBufferPointer { zeros in
                let gamma = UnsafePointer(weight?.cpu) ?? ones.baseAddress!
                let beta = UnsafePointer(bias?.cpu) ?? zeros.baseAddress!
                parallelFor(rows, grain: max(1, Self.elementGrain / width)) { range in
                    switch instructionSet {
                    case .avx512:
                        AVX512.layerNorm(input, rows: range, width: width, gamma: gamma, beta: beta, epsilon: epsilon,
                                         out: out)
                    case .avx2:
                        AVX2.layerNorm(input, rows: range, width: width, gamma: gamma, beta: beta, epsilon: epsilon,
                                       out: out)
                    }
                }
            }
        }
        return result
    }

    /// Moments of `blocks` contiguous blocks of `blockLength` elements starting at `input`.
    ///
    /// Pieces have a fixed length and merge in index order, so the numbers are the same for
    /// every thread count.
    func blockMoments(_ input: UnsafePointer<Float>, blocks: Int, blockLength: Int) -> [Moments] {
        let pieceLength = 1 << 14
        let pieces = (blockLength + pieceLength - 1) / pieceLength
        var partial = [Moments](repeating: Moments(), count: blocks * pieces)
        partial.withUnsafeMutableBufferPointer { partial in
            let grain = max(1, Self.elementGrain / min(pieceLength, blockLength))
            parallelFor(blocks * pieces, grain: grain) { range in
                for item in range {
                    let block = item / pieces, piece = item % pieces
                    let start = piece * pieceLength
                    partial[item] = Moments(input + block * blockLength + start,
                                            count: min(pieceLength, blockLength - start))
                }
            }
        }
        return (0 ..< blocks).map { block in
            var total = Moments()
            for piece in 0 ..< pieces { total.merge(partial[block * pieces + piece]) }
            return total
        }
    }

    /// Elements one parallel chunk should at least cover, so small tensors stay on one thread.
    static var elementGrain: Int { 1 << 15 }
}

/// Count, mean and sum of squared deviations (`m2`) of a sequence of floats.
///
/// Partial moments merge with Chan et al.'s pairwise update in Double. Within a chunk that stays
/// in L1 the moments come from a corrected two-pass sum in Float SIMD lanes, so a large mean
/// never cancels the variance away (which the one-pass `E[x²] - E[x]²` would) and the whole
/// computation still reads memory once.
struct Moments {
    /// Number of elements.
    var count: Double = 0
    /// Their mean.
    var mean: Double = 0
    /// Sum of squared deviations from the mean.
    var m2: Double = 0

    /// No elements.
    init() {}

    /// Moments of `count` contiguous floats at `values`.
    init(_ values: UnsafePointer<Float>, count: Int) {
        // 1,024 floats: 4 KiB, so the second pass over a chunk reads L1.
        let chunk = 1024
        var start = 0
        while start < count {
            let length = min(chunk, count - start)
            merge(Moments(chunk: values + start, count: length))
            start += length
        }
    }

    /// Moments of at most a few thousand floats: two passes in Float lanes, combined in Double.
    private init(chunk values: UnsafePointer<Float>, count: Int) {
        typealias Lanes = SIMD16<Float>
        let raw = UnsafeRawPointer(values)
        let vectorEnd = count - count % Lanes.scalarCount

        var lanes = Lanes()
        var i = 0
        while i < vectorEnd {
            lanes += raw.loadUnaligned(fromByteOffset: i * 4, as: Lanes.self)
            i += Lanes.scalarCount
        }
        // Lane sums by halving (CPUKernels): the stdlib's `sum()` is a generic loop that is not
        // inlined.
        var sum = Double(horizontalSum(lanes.lowHalf + lanes.highHalf))
        while i < count { sum += Double(values[i]); i += 1 }
        let approximateMean = Float(sum / Double(count))

        // Deviations from the rounded mean; their sum corrects for its rounding.
        let center = Lanes(repeating: approximateMean)
        var deviations = Lanes(), squares = Lanes()
        i = 0
        while i < vectorEnd {
            let d = raw.loadUnaligned(fromByteOffset: i * 4, as: Lanes.self) - center
            deviations += d
            squares += d * d
            i += Lanes.scalarCount
        }
        var deviationSum = Double(horizontalSum(deviations.lowHalf + deviations.highHalf))
        var squareSum = Double(horizontalSum(squares.lowHalf + squares.highHalf))
        while i < count {
            let d = Double(values[i] - approximateMean)
            deviationSum += d
            squareSum += d * d
            i += 1
        }
        self.count = Double(count)
        mean = Double(approximateMean) + deviationSum / Double(count)
        m2 = max(0, squareSum - deviationSum * deviationSum / Double(count))
    }

    /// Adds the elements `other` describes.
    mutating func merge(_ other: Moments) {
        guard other.count > 0 else { return }
        guard count > 0 else { self = other; return }
        let total = count + other.count
        let delta = other.mean - mean
        mean += delta * other.count / total
        m2 += other.m2 + delta * delta * count * other.count / total
        count = total
    }

    /// The biased (population) variance, as PyTorch's normalisation layers use.
    var variance: Double { count > 0 ? m2 / count : 0 }
}
