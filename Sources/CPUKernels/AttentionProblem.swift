/// Pointers and extents of one attention call, shared read-only by the parallel items (each
/// writes its own disjoint rows and head columns of `out`): per batch row and head,
/// `out = softmax(scale * q k^T + bias) v` with `query [batch, queries, heads * headWidth]`,
/// `key`/`value [batch, keys, heads * headWidth]` and an optional `bias [queries, keys]`.
@frozen @usableFromInline
package struct AttentionProblem {
    @usableFromInline package let query, key, value: UnsafePointer<Float>
    @usableFromInline package let bias: UnsafePointer<Float>?
    @usableFromInline package let out: UnsafeMutablePointer<Float>
    @usableFromInline package let batch, queries, keys, heads, headWidth: Int
    @usableFromInline package let scale: Float

    /// The row length of every operand: all heads side by side.
    @inlinable
    package var width: Int { heads * headWidth }

    package init(query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
                 bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>,
                 batch: Int, queries: Int, keys: Int, heads: Int, headWidth: Int, scale: Float) {
        (self.query, self.key, self.value, self.bias, self.out) = (query, key, value, bias, out)
        (self.batch, self.queries, self.keys, self.heads, self.headWidth, self.scale) =
            (batch, queries, keys, heads, headWidth, scale)
    }
}
