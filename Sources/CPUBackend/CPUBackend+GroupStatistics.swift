import Tensor

extension CPUBackend {
    /// Per (sample, group) sums of `x [N, C, *]` (see ``Backend/groupSums(_:groups:)``).
    public func groupSums(_ x: Tensor, groups: Int) throws -> GroupSums {
        let (samples, blockLength) = try Shape.groupNorm(x.shape, groups: groups, weight: nil, bias: nil, op: "groupSums")
        let blocks = samples * groups
        guard blocks > 0, blockLength > 0 else {
            return GroupSums(sum: Array(repeating: 0, count: blocks), sumOfSquares: Array(repeating: 0, count: blocks),
                             count: blockLength)
        }
        let moments = blockMoments(x.cpu, blocks: blocks, blockLength: blockLength)
        // sum = n * mean, sum of squares = m2 + n * mean^2: exact in float64 for our sizes.
        return GroupSums(sum: moments.map { $0.count * $0.mean },
                         sumOfSquares: moments.map { $0.m2 + $0.count * $0.mean * $0.mean },
                         count: blockLength)
    }

    /// Group normalisation with given statistics
    /// (see ``Backend/groupNorm(_:groups:mean:variance:weight:bias:epsilon:)``).
    public func groupNorm(_ x: Tensor, groups: Int, mean: [Float], variance: [Float], weight: Tensor?, bias: Tensor?,
                          epsilon: Float) throws -> Tensor {
        _ = try Shape.groupNorm(x.shape, groups: groups, weight: weight?.shape, bias: bias?.shape,
                                statistics: (mean.count, variance.count))
        return normalizeGroups(x, groups: groups, weight: weight, bias: bias) { block in
            (Double(mean[block]), 1 / (Double(variance[block]) + Double(epsilon)).squareRoot())
        }
    }

    /// `y = (x - mean) * rstd * weight + bias` per (sample, channel) row of `x [N, C, *]`, where
    /// `statistics(block)` gives the mean and reciprocal standard deviation of each (sample, group);
    /// then `activation` of `y`, when given, in the same pass.
    func normalizeGroups(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, activation: Activation? = nil,
                         statistics: (Int) -> (mean: Double, rstd: Double)) -> Tensor {
        let samples = x.shape[0], channels = x.shape[1]
        let (result, out) = makeTensor(x.shape)
        let spatial = x.shape.dropFirst(2).reduce(1, *)
        let channelsPerGroup = channels / groups
        let rows = samples * channels
        guard rows > 0, spatial > 0 else { return result }

        var means = [Float](repeating: 0, count: rows)
        var scales = [Float](repeating: 0, count: rows)
        var shifts = [Float](repeating: 0, count: rows)
        let gamma = weight?.cpu, beta = bias?.cpu
        for row in 0 ..< rows {
            let channel = row % channels
            let (mean, rstd) = statistics(row / channelsPerGroup)
            means[row] = Float(mean)
            scales[row] = Float(rstd * Double(gamma?[channel] ?? 1))
            shifts[row] = beta?[channel] ?? 0
        }
        let input = x.cpu
        means.withUnsafeBufferPointer { means in
            scales.withUnsafeBufferPointer { scales in
                shifts.withUnsafeBufferPointer { shifts in
                    parallelFor(rows, grain: max(1, Self.elementGrain / spatial)) { range in
                        for row in range {
                            let source = input + row * spatial, destination = out + row * spatial
                            let mean = means[row], scale = scales[row], shift = shifts[row]
                            // The same expression as the activation op sees it.
                            if let activation {
                                instructionSet.activateNormalized(activation, source, destination, count: spatial,
                                                                  mean: mean, scale: scale, shift: shift)
                            } else {
                                for i in 0 ..< spatial { destination[i] = (source[i] - mean) * scale + shift }
                            }
                        }
                    }
                }
            }
        }
        return result
    }
}
