// Transposes between L rows of `d` floats in memory (L = `ISA.lanes`) and `d` vectors of L lanes,
// one per channel, in registers' worth of shuffles: the query-lanes attention kernel's way in
// and out (queries into lanes, outputs back into rows).
//
// Flattened, the block is `L * d` floats, row-major: element (r, c) at `r * d + c`. One round of
// "deinterleave" over the whole block (its even elements, then its odd ones) moves the lowest
// bit of every index to the top; after `log2(d)` rounds (r, c) sits at `c * L + r`, the
// transpose. A round takes `d` two-source shuffles (`deinterleave` on pairs of vectors); the
// inverse runs the same rounds with `interleave`. With short sequences (temporal attention: 16
// keys a query) the element-by-element copies took longer than the attention itself.

extension VectorISA {
    /// Whether ``transposeRows(_:stride:width:scale:into:scratch:)`` and
    /// ``transposeToRows(_:width:into:stride:scratch:)`` take rows of `d` floats: a power of two,
    /// at least L/2 (a vector then holds a whole number of rows or half of one).
    @inlinable @inline(__always)
    package static func transposes(width d: Int) -> Bool {
        d >= lanes / 2 && d & (d - 1) == 0
    }

    /// `into[c * L + r] = scale * rows[r * stride + c]` for `r < L`, `c < d` (``transposes(width:)``
    /// must hold). `into` and `scratch` hold `d * L` floats each.
    @inlinable @inline(__always)
    package static func transposeRows(_ rows: UnsafePointer<Float>, stride: Int, width d: Int, scale: Float,
                                      into: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let l = lanes, factor = Vector(repeating: scale)
        // The rounds alternate between the two buffers and must end in `into`.
        var source = rounds(d) & 1 == 0 ? into : scratch, target = source == into ? scratch : into
        for k in 0 ..< d {
            let vector = d >= l
                ? load(rows + (k &* l / d) &* stride + (k &* l) % d)
                : load(low: rows + (2 &* k) &* stride, high: rows + (2 &* k &+ 1) &* stride)
            store(vector * factor, source + k &* l)
        }
        for _ in 0 ..< rounds(d) {
            for k in 0 ..< d / 2 {
                let (even, odd) = deinterleave(load(source + (2 &* k) &* l), load(source + (2 &* k &+ 1) &* l))
                store(even, target + k &* l)
                store(odd, target + (d / 2 &+ k) &* l)
            }
            swap(&source, &target)
        }
    }

    /// `rows[r * stride + c] = from[c * L + r]` for `r < L`, `c < d` (``transposes(width:)`` must
    /// hold), the inverse of ``transposeRows(_:stride:width:scale:into:scratch:)``. `from` is
    /// overwritten; `scratch` holds `d * L` floats.
    @inlinable @inline(__always)
    package static func transposeToRows(_ from: UnsafeMutablePointer<Float>, width d: Int,
                                        into rows: UnsafeMutablePointer<Float>, stride: Int,
                                        scratch: UnsafeMutablePointer<Float>) {
        let l = lanes
        var source = from, target = scratch
        for _ in 0 ..< rounds(d) {
            for k in 0 ..< d / 2 {
                let (low, high) = interleave(load(source + k &* l), load(source + (d / 2 &+ k) &* l))
                store(low, target + (2 &* k) &* l)
                store(high, target + (2 &* k &+ 1) &* l)
            }
            swap(&source, &target)
        }
        for k in 0 ..< d {
            let vector = load(source + k &* l)
            if d >= l {
                store(vector, rows + (k &* l / d) &* stride + (k &* l) % d)
            } else {
                store(vector, low: rows + (2 &* k) &* stride, high: rows + (2 &* k &+ 1) &* stride)
            }
        }
    }

    /// Rounds of a transpose of rows of `d` floats: `log2(d)`.
    @inlinable @inline(__always)
    static func rounds(_ d: Int) -> Int { d.trailingZeroBitCount }
}
