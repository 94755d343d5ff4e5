// The shape rules of the data-movement ops and of broadcasting: every backend checks its
// arguments and sizes its result with these, so the rules (and their messages) are stated once.
extension Shape {
    /// The result shape of concatenating `shapes` along `axis`; traps unless they agree elsewhere.
    public static func concatenated(_ shapes: [[Int]], axis: Int) -> [Int] {
        precondition(!shapes.isEmpty, "concat: no tensors to concatenate")
        let first = shapes[0]
        precondition(axis >= 0 && axis < first.count, "concat: axis \(axis) is out of range for shape \(first)")
        precondition(shapes.allSatisfy { shape in
            shape.count == first.count && shape.indices.allSatisfy { $0 == axis || shape[$0] == first[$0] }
        }, "concat: shapes \(shapes) differ outside axis \(axis)")
        var result = first
        result[axis] = shapes.reduce(0) { $0 + $1[axis] }
        return result
    }

    /// The result shape of permuting `shape`'s axes (`result[i] = shape[permutation[i]]`).
    public static func permuted(_ shape: [Int], _ permutation: [Int]) -> [Int] {
        precondition(permutation.sorted() == Array(shape.indices),
                     "permute: \(permutation) is not a permutation of the \(shape.count) axes of \(shape)")
        return permutation.map { shape[$0] }
    }

    /// The result shape of taking `start ..< start + length` along `axis`.
    public static func sliced(_ shape: [Int], axis: Int, start: Int, length: Int) -> [Int] {
        precondition(axis >= 0 && axis < shape.count, "slice: axis \(axis) is out of range for shape \(shape)")
        precondition(start >= 0 && length >= 0 && start + length <= shape[axis],
                     "slice: \(start) ..< \(start + length) is outside axis \(axis) of \(shape)")
        var result = shape
        result[axis] = length
        return result
    }

    /// The result shape of repeating each slice along `axis` `times` times.
    public static func repeated(_ shape: [Int], times: Int, axis: Int) -> [Int] {
        precondition(axis >= 0 && axis < shape.count, "repeatInterleave: axis \(axis) is out of range for shape \(shape)")
        precondition(times >= 0, "repeatInterleave: times must not be negative, got \(times)")
        var result = shape
        result[axis] *= times
        return result
    }

    /// `b`'s shape padded with leading 1s to `a`'s rank; traps unless it broadcasts to `a`
    /// (NumPy rules: aligned on the right, each extent equal or 1).
    public static func broadcast(_ b: [Int], to a: [Int]) -> [Int] {
        precondition(b.count <= a.count, "add: \(b) has more axes than \(a) and cannot broadcast to it")
        let padded = [Int](repeating: 1, count: a.count - b.count) + b
        precondition(zip(a, padded).allSatisfy { $0 == $1 || $1 == 1 }, "add: \(b) does not broadcast to \(a)")
        return padded
    }
}
