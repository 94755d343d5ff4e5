/// Sums over the elements of each (sample, group) of a group norm's input, in float64 so that
/// sums from several clips add up exactly enough to normalise a whole video.
public struct GroupSums: Sendable, Equatable {
    /// Sum of the elements, one per (sample, group).
    public var sum: [Double]
    /// Sum of the squared elements, one per (sample, group).
    public var sumOfSquares: [Double]
    /// Elements behind each sum.
    public var count: Int

    /// Creates sums; `sum` and `sumOfSquares` must have equal length.
    public init(sum: [Double], sumOfSquares: [Double], count: Int) {
        precondition(sum.count == sumOfSquares.count, "group sums of unequal length")
        self.sum = sum
        self.sumOfSquares = sumOfSquares
        self.count = count
    }

    /// Adds `other` (the same groups over other elements).
    public mutating func add(_ other: GroupSums) {
        precondition(other.sum.count == sum.count, "adding group sums of \(other.sum.count) groups to \(sum.count)")
        for index in sum.indices {
            sum[index] += other.sum[index]
            sumOfSquares[index] += other.sumOfSquares[index]
        }
        count += other.count
    }

    /// Mean and biased variance per (sample, group).
    public var moments: (mean: [Float], variance: [Float]) {
        let n = Double(count)
        let mean = sum.map { $0 / n }
        let variance = zip(sumOfSquares, mean).map { max($0 / n - $1 * $1, 0) }
        return (mean.map(Float.init), variance.map(Float.init))
    }
}
