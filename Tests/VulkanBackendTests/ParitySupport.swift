// Shared fixtures for the Vulkan parity tests: one Vulkan backend and one CPU backend for the
// whole target, seeded inputs uploaded to both, and the comparisons.
//
// Every op test runs the same call on both backends through `Parity.run` and compares the
// Vulkan result with the CPU backend's, the reference (Sources/Tensor/Backend.swift). Set
// VK_PARITY_VERBOSE=1 to print each comparison's worst error (used to size the tolerances).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPUBackend
import Tensor
import TestSupport
import Testing
@testable import VulkanBackend

/// A SplitMix64 stream: reproducible test inputs without Foundation.
struct SeededRandom {
    private var stream: SplitMix64

    init(seed: UInt64) { stream = SplitMix64(state: seed &* 0x9E37_79B9_7F4A_7C15 &+ 0x2545_F491_4F6C_DD1D) }

    mutating func next() -> UInt64 { stream.next() }

    /// Uniform in [0, 1), 24 random bits.
    mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }

    /// `count` values uniform in `offset ± spread`.
    mutating func values(_ count: Int, spread: Float = 1, offset: Float = 0) -> [Float] {
        var result = [Float]()
        result.reserveCapacity(count)
        for _ in 0 ..< count { result.append(offset + spread * (2 * unit() - 1)) }
        return result
    }

    /// `count` values in [-1, 1) from a fresh copy of this stream (leaves `self` as it is).
    func valuesCopy(_ count: Int) -> [Float] {
        var copy = self
        return copy.values(count)
    }
}

/// Which backend's copy of a ``Parity/Pair`` an op call should use.
enum Side { case vulkan, cpu }

/// The same values uploaded to both backends.
struct Pair {
    let vulkan: Tensor
    let cpu: Tensor
    let values: [Float]
    var shape: [Int] { cpu.shape }

    subscript(_ side: Side) -> Tensor { side == .vulkan ? vulkan : cpu }
}

/// Both backends' results of one op call, downloaded.
struct Outputs {
    let vulkan: [Float]
    let cpu: [Float]
    let vulkanShape: [Int]
    let cpuShape: [Int]
}

enum Parity {
    /// Whether to print every comparison's worst error.
    static let verbose = getenv("VK_PARITY_VERBOSE") != nil

    private static let sharedVulkan = Result { try VulkanBackend(cooperativeMatrix: .off) }

    /// The backend under test, with the f32 kernels (cooperative matrices off: their f16
    /// operands have their own suite and tolerances), shared so that its pipelines are built
    /// once (it is thread-safe).
    /// Throws the reason when this machine has no usable Vulkan device.
    static func vulkan() throws -> VulkanBackend { try sharedVulkan.get() }

    /// The reference.
    static let cpu = CPUBackend(threads: 2)

    static func backend(_ side: Side) throws -> any Backend { side == .vulkan ? try vulkan() : cpu }

    /// Uploads `values` of `shape` to both backends (`backend`, else ``vulkan()``, and the CPU).
    static func pair(values: [Float], shape: [Int], on backend: VulkanBackend? = nil) throws -> Pair {
        Pair(vulkan: try (backend ?? vulkan()).upload(values, shape: shape), cpu: try cpu.upload(values, shape: shape),
             values: values)
    }

    /// Uploads reproducible values in `offset ± spread` of `shape` to both backends.
    static func pair(_ shape: [Int], seed: UInt64, spread: Float = 1, offset: Float = 0,
                     on backend: VulkanBackend? = nil) throws -> Pair {
        var random = SeededRandom(seed: seed)
        return try pair(values: random.values(shape.reduce(1, *), spread: spread, offset: offset), shape: shape, on: backend)
    }

    /// Runs `op` on the Vulkan backend (`backend`, else ``vulkan()``), then on the CPU backend,
    /// and downloads both results.
    static func run(on backend: VulkanBackend? = nil, _ op: (any Backend, Side) throws -> Tensor) throws -> Outputs {
        let vulkanBackend = try backend ?? vulkan()
        let v = try op(vulkanBackend, .vulkan)
        let c = try op(cpu, .cpu)
        return Outputs(vulkan: try vulkanBackend.download(v), cpu: try cpu.download(c), vulkanShape: v.shape,
                       cpuShape: c.shape)
    }

    // MARK: Comparisons

    private static func checkShapes(_ out: Outputs, _ label: String, _ location: SourceLocation) -> Bool {
        #expect(out.vulkanShape == out.cpuShape, "\(label): shape \(out.vulkanShape), CPU \(out.cpuShape)",
                sourceLocation: location)
        #expect(out.vulkan.count == out.cpu.count, "\(label): \(out.vulkan.count) values, CPU \(out.cpu.count)",
                sourceLocation: location)
        return out.vulkanShape == out.cpuShape && out.vulkan.count == out.cpu.count
    }

    /// Bit-for-bit equal results (ops that only move values, or round once per element exactly
    /// as the CPU does).
    static func expectExact(_ out: Outputs, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard checkShapes(out, label, sourceLocation) else { return }
        if let index = out.vulkan.indices.first(where: { out.vulkan[$0].bitPattern != out.cpu[$0].bitPattern }) {
            let count = out.vulkan.indices.filter { out.vulkan[$0].bitPattern != out.cpu[$0].bitPattern }.count
            let message = "\(label): \(count) of \(out.cpu.count) values differ; first at \(index) of shape \(out.cpuShape): "
                + "vulkan \(out.vulkan[index]), cpu \(out.cpu[index])"
            Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
        }
    }

    /// `max |vulkan - cpu| <= tolerance * max(1, max |cpu|)`, NaN and infinity failing; returns
    /// the worst error relative to that scale.
    @discardableResult
    static func expectScaled(_ out: Outputs, tolerance: Double, _ label: String,
                             sourceLocation: SourceLocation = #_sourceLocation) -> Double {
        guard checkShapes(out, label, sourceLocation) else { return .infinity }
        var magnitude = 1.0
        for value in out.cpu { magnitude = max(magnitude, abs(Double(value))) }
        var worst = (index: -1, error: 0.0)
        for index in out.cpu.indices {
            let difference = abs(Double(out.vulkan[index]) - Double(out.cpu[index]))
            let error = difference.isFinite ? difference : .infinity
            if error > worst.error || (worst.index < 0 && !error.isFinite) { worst = (index, error) }
        }
        if verbose { print("[parity] \(label): max error \(worst.error / magnitude) x scale \(magnitude)") }
        if worst.error > tolerance * magnitude {
            let message = "\(label): max abs error \(worst.error) above \(tolerance) x \(magnitude) at element "
                + "\(worst.index) of \(out.cpuShape): vulkan \(out.vulkan[worst.index]), cpu \(out.cpu[worst.index])"
            Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
        }
        return worst.error / magnitude
    }

    /// `|vulkan - cpu| <= absolute(i) + relative * |cpu|` element by element.
    static func expectElementwise(_ out: Outputs, absolute: (Int) -> Double, relative: Double, _ label: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        guard checkShapes(out, label, sourceLocation) else { return }
        var worst: (index: Int, excess: Double)?
        var worstRatio = 0.0
        for index in out.cpu.indices {
            let reference = Double(out.cpu[index])
            let allowed = absolute(index) + relative * abs(reference)
            let difference = abs(Double(out.vulkan[index]) - reference)
            let excess = difference.isNaN ? Double.infinity : difference - allowed
            if allowed > 0 { worstRatio = max(worstRatio, difference.isNaN ? .infinity : difference / allowed) }
            if excess > 0, excess > worst?.excess ?? 0 { worst = (index, excess) }
        }
        if verbose { print("[parity] \(label): worst error / allowed = \(worstRatio)") }
        if let worst {
            let message = "\(label): element \(worst.index) of \(out.cpuShape) is \(out.vulkan[worst.index]) on vulkan, "
                + "\(out.cpu[worst.index]) on cpu (allowed \(absolute(worst.index)) + \(relative) x |cpu|)"
            Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
        }
    }

    static func expectElementwise(_ out: Outputs, absolute: Double, relative: Double, _ label: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        expectElementwise(out, absolute: { _ in absolute }, relative: relative, label, sourceLocation: sourceLocation)
    }

}

/// The comparisons themselves: each must flag a difference just past its bound (so a passing
/// parity test means something) and accept one within it.
@Suite("Parity helpers")
struct ParityHelperTests {
    static func outputs(_ vulkan: [Float], _ cpu: [Float], shape: [Int]? = nil) -> Outputs {
        Outputs(vulkan: vulkan, cpu: cpu, vulkanShape: shape ?? [vulkan.count], cpuShape: [cpu.count])
    }

    @Test func comparisonsFlagDifferences() {
        withKnownIssue { Parity.expectExact(Self.outputs([1, 2, 3], [1, 2, 3.0000002]), "exact") }
        withKnownIssue { Parity.expectExact(Self.outputs([0], [-0.0]), "signed zero") }
        withKnownIssue { Parity.expectExact(Self.outputs([1, 2], [1, 2], shape: [2, 1]), "shape") }
        withKnownIssue { Parity.expectScaled(Self.outputs([10, 0], [10, 0.0011]), tolerance: 1e-4, "scaled") }
        withKnownIssue { Parity.expectScaled(Self.outputs([.nan], [1]), tolerance: 1, "NaN") }
        withKnownIssue { Parity.expectElementwise(Self.outputs([1.5, 0], [1, 0]), absolute: 0.1, relative: 0.3, "elementwise") }
        withKnownIssue { Parity.expectElementwise(Self.outputs([.nan], [.nan]), absolute: 1, relative: 0, "NaN") }
    }

    @Test func comparisonsAcceptDifferencesWithinTheirBounds() {
        Parity.expectExact(Self.outputs([1, -2, .infinity], [1, -2, .infinity]), "exact")
        Parity.expectScaled(Self.outputs([10, 0], [10, 0.0009]), tolerance: 1e-4, "scaled")
        Parity.expectElementwise(Self.outputs([1.25, 0], [1, 0]), absolute: 0.1, relative: 0.3, "elementwise")
    }
}
