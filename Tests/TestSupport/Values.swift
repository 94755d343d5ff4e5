// Reproducible test inputs and index arithmetic the op tests of both backends use.

/// The SplitMix64 stream (Steele, Lea and Flood): 64 well-mixed bits per step from a counter,
/// so test inputs are reproducible without Foundation. Generators on top of it choose their own
/// seeding and value mapping.
package struct SplitMix64 {
    package var state: UInt64

    package init(state: UInt64) { self.state = state }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Multi-index of `index` in a row-major `shape`.
package func coordinates(_ index: Int, in shape: [Int]) -> [Int] {
    var rest = index
    var result = [Int](repeating: 0, count: shape.count)
    for axis in shape.indices.reversed() {
        result[axis] = rest % shape[axis]
        rest /= shape[axis]
    }
    return result
}
