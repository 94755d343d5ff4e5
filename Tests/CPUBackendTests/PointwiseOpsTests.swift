#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPUBackend
import Tensor
import TestSupport
import Testing

/// `activation`, `geglu`, `add` and `scale` against Double or exact Float references.
@Suite struct PointwiseOpsTests {
    typealias T = ElementwiseTesting

    static func reference(_ activation: Activation, _ x: Double) -> Double {
        switch activation {
        case .silu: x / (1 + exp(-x))
        case .gelu: 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
        case .geluTanh: 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        }
    }

    /// Tolerance `1e-6 + 2e-6 |expected|`: a few Float ulps from libm's `expf`/`erff`/`tanhf`;
    /// the absolute part covers `1 + erf(x)` cancelling for very negative `x` (as it does in PyTorch).
    @Test(arguments: Activation.allCases)
    func activationMatchesReference(_ activation: Activation) throws {
        let extremes: [Float] = [0, -0.5, 0.5, -3, 3, -10, 10, -50, 50, -100, 100]
        let data = extremes + T.values(70_001, seed: 3, spread: 8)
        let x = try T.backend.upload(data, shape: [data.count])
        let result = try T.backend.download(T.backend.activation(x, activation))
        T.expectClose(result, data.map { Self.reference(activation, Double($0)) }, absolute: 1e-6, relative: 2e-6,
                      "\(activation)")
    }

    /// Past `|x| = 6` erf is ±1 in float, so exact GELU is `x` itself above and -0 below, in
    /// every instruction set: the cap on `|z|` that keeps subnormal floats out of the tail
    /// (`CPUKernels/Activations.swift`) changes no value.
    @Test func geluTailsAreExact() throws {
        let magnitudes: [Float] = [6, 6.5, 9.4, 13, 20, 50, 1e3, 1e6, 3e38]
        for instructionSet in CPUBackend.InstructionSet.supported {
            let backend = CPUBackend(threads: 1, instructionSet: instructionSet)
            let data = magnitudes + magnitudes.map { -$0 }
            let result = try backend.download(backend.activation(backend.upload(data, shape: [data.count]), .gelu))
            #expect(result.prefix(magnitudes.count).map(\.bitPattern) == magnitudes.map(\.bitPattern), "\(instructionSet)")
            #expect(result.suffix(magnitudes.count).allSatisfy { $0.bitPattern == (-0.0 as Float).bitPattern },
                    "\(instructionSet): \(result)")
        }
    }

    /// The activations and the GEGLU gate run the same lane functions in the AVX2 and AVX-512
    /// builds (`CPUKernels/Activations.swift`), so they agree bit for bit, tails included.
    @Test(.enabled(if: CPUBackend.InstructionSet.avx512.isSupported, "this CPU lacks AVX-512"))
    func activationsAreTheSameInEveryInstructionSet() throws {
        let extremes: [Float] = [0, -0.0, 1e-30, -1e-30, -3, 3, -10, 10, -86, -90, 90, -.infinity, .infinity]
        let data = extremes + T.values(1_037, seed: 9, spread: 12)
        let results = try [CPUBackend.InstructionSet.avx2, .avx512].map { instructionSet in
            let backend = CPUBackend(threads: 2, instructionSet: instructionSet)
            let x = try backend.upload(data, shape: [data.count])
            let gate = try backend.upload(Array(data.prefix(1_044)), shape: [2, 522])
            return try Activation.allCases.map { try backend.download(backend.activation(x, $0)) }
                + [backend.download(backend.geglu(gate))]
        }
        for (avx2, avx512) in zip(results[0], results[1]) {
            #expect(avx2.map(\.bitPattern) == avx512.map(\.bitPattern))
        }
    }

    @Test(arguments: [[2], [4, 6], [2, 3, 10], [3, 1, 2, 2, 640]])
    func gegluMatchesReference(shape: [Int]) throws {
        let (x, data) = try T.tensor(shape, seed: 4, spread: 4)
        let result = try T.backend.geglu(x)
        let width = shape.last! / 2
        #expect(result.shape == shape.dropLast() + [width])
        var expected = [Double]()
        for start in stride(from: 0, to: data.count, by: 2 * width) {
            for i in 0 ..< width {
                expected.append(Double(data[start + i]) * Self.reference(.gelu, Double(data[start + width + i])))
            }
        }
        T.expectClose(try T.backend.download(result), expected, absolute: 1e-6, relative: 2e-6, "geglu \(shape)")
    }

    static let broadcastCases: [(a: [Int], b: [Int])] = [
        ([2, 3, 4], [2, 3, 4]),  // same shape
        ([300, 257], [300, 257]),  // same shape, parallel
        ([2, 3, 4, 5], [3, 1, 1]),  // per-channel bias
        ([2, 3, 4, 5], [2, 3, 1, 1]),  // per-sample, per-channel
        ([2, 320, 16, 16], [1, 320, 1, 1]),  // per-channel, parallel
        ([2, 5, 7], [7]),  // a row [D] on [..., D]
        ([2, 5, 7], [5, 1]),  // middle axis
        ([2, 3, 4], [2, 1, 4]),  // broadcast in the middle
        ([5, 4, 3], [1]),  // a scalar
        ([5, 4, 3], []),  // a rank-0 scalar
        ([9], [1]),
        ([3, 1, 4], [1, 1, 4]),  // extent-1 axes on both sides
        ([2, 3, 4, 5, 6], [3, 1, 5, 1]),  // alternating runs, rank 5
        ([1, 40_000], [1]),  // one long broadcast row, split across threads
    ]

    /// Exact: one Float addition per element, the same as the reference's.
    @Test(arguments: broadcastCases.indices)
    func addBroadcastsLikeNumPy(caseIndex: Int) throws {
        let (aShape, bShape) = Self.broadcastCases[caseIndex]
        let (a, aData) = try T.tensor(aShape, seed: 5, spread: 10)
        let (b, bData) = try T.tensor(bShape, seed: 6, spread: 10)
        let result = try T.backend.add(a, b)
        #expect(result.shape == aShape)
        let padded = [Int](repeating: 1, count: aShape.count - bShape.count) + bShape
        let expected = aData.indices.map { index -> Float in
            let at = coordinates(index, in: aShape)
            let bAt = zip(at, padded).map { $1 == 1 ? 0 : $0 }
            return aData[index] + bData[T.linearIndex(bAt, in: padded)]
        }
        #expect(try T.backend.download(result) == expected, "add \(aShape) + \(bShape)")
    }

    /// Exact: one Float multiplication per element.
    @Test(arguments: [[0], [1], [17], [3, 100_003]])
    func scaleMultipliesEveryElement(shape: [Int]) throws {
        let (x, data) = try T.tensor(shape, seed: 8, spread: 5)
        let result = try T.backend.scale(x, by: 0.18215)
        #expect(result.shape == shape)
        #expect(try T.backend.download(result) == data.map { $0 * 0.18215 })
    }
}
