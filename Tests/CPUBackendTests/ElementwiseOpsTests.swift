// Shared helpers for the elementwise, normalisation, data-movement and embedding op tests.
// Everything lives in one namespace so it cannot collide with other test files of the target.
import CPUBackend
import Tensor
import Testing

/// Inputs, references and comparisons for the CPU backend's non-GEMM op tests.
enum ElementwiseTesting {
    /// The backend under test: two threads, so parallel chunking runs even on a small machine.
    static let backend = CPUBackend(threads: 2)

    /// `count` reproducible values in `offset ± spread` from a SplitMix64 stream seeded by `seed`.
    static func values(_ count: Int, seed: UInt64, spread: Float = 1, offset: Float = 0) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
        return (0 ..< count).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let unit = Float(z >> 40) / Float(1 << 24)  // [0, 1)
            return offset + spread * (2 * unit - 1)
        }
    }

    /// Uploads reproducible values of `shape`.
    static func tensor(_ shape: [Int], seed: UInt64, spread: Float = 1, offset: Float = 0) throws -> (Tensor, [Float]) {
        let data = values(shape.reduce(1, *), seed: seed, spread: spread, offset: offset)
        return (try backend.upload(data, shape: shape), data)
    }

    /// Row-major linear index of `coordinates` in `shape`.
    static func linearIndex(_ coordinates: [Int], in shape: [Int]) -> Int {
        zip(coordinates, shape).reduce(0) { $0 * $1.1 + $1.0 }
    }

    /// Expects `|actual - expected| <= absolute + relative * |expected|` element by element and
    /// reports the worst element when it fails.
    static func expectClose(_ actual: [Float], _ expected: [Double], absolute: Double, relative: Double,
                            _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == expected.count, "\(label): \(actual.count) values, expected \(expected.count)",
                sourceLocation: sourceLocation)
        var worst: (index: Int, excess: Double)?
        for (index, (a, e)) in zip(actual, expected).enumerated() {
            let difference = abs(Double(a) - e) - (absolute + relative * abs(e))
            let excess = difference.isNaN ? .infinity : difference
            if excess > 0, excess > worst?.excess ?? 0 { worst = (index, excess) }
        }
        if let worst {
            Issue.record("\(label): element \(worst.index) is \(actual[worst.index]), expected \(expected[worst.index])",
                         sourceLocation: sourceLocation)
        }
    }
}
