import Testing

// Helpers shared by the GEMM-family op tests.

/// Expects `actual` to match `expected` elementwise within 1e-4 times the larger of 1 and the
/// reference's largest magnitude.
func expectClose(_ actual: [Float], _ expected: [Double], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    guard actual.count == expected.count else { return }
    let tolerance = 1e-4 * max(1, expected.map(abs).max() ?? 0)
    var worst = 0.0
    for (a, e) in zip(actual, expected) { worst = max(worst, abs(Double(a) - e)) }
    #expect(worst <= tolerance, "max abs error \(worst) above \(tolerance)", sourceLocation: sourceLocation)
}

/// A small deterministic generator (SplitMix64) of test values uniform in [-1, 1).
struct TestRandom {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func values(_ count: Int) -> [Float] {
        (0 ..< count).map { _ in Float(next() >> 40) / Float(1 << 23) - 1 }
    }
}
