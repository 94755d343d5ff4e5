import CPUBackend
import Foundation
import Model
import Tensor
import TestSupport
import Testing
@testable import VulkanBackend

/// Operator weights stored as f16 (`VulkanBackend(weightType: .f16, cooperativeMatrix: .off)`): the GEMM kernels read
/// them converted exactly, so each op equals the CPU backend run on the same weights rounded to
/// f16 (tolerance as for f32 weights); a whole UNet forward stays within f16's rounding of the
/// f32 result, in less device memory.
@Suite("Vulkan f16 weights")
struct HalfWeightTests {
    /// As GemmParityTests: f32 accumulation in another order than BLAS.
    static let tolerance = 2e-5

    static let half = Result { try VulkanBackend(weightType: .f16, cooperativeMatrix: .off) }

    static func rounded(_ values: [Float]) -> [Float] { values.map { Float(Float16($0)) } }

    /// The op with an f16 weight on Vulkan and the f16-rounded weight on the CPU.
    static func run(on backend: VulkanBackend? = nil, weightShape: [Int], seed: UInt64,
                    _ op: (any Backend, Tensor) throws -> Tensor) throws -> Outputs {
        let vulkan = try backend ?? half.get()
        var random = SeededRandom(seed: seed)
        let values = random.values(weightShape.reduce(1, *))
        let weight = try vulkan.uploadOperatorWeight(values, shape: weightShape)
        #expect(weight.dtype == .f16)
        #expect(try vulkan.download(weight) == rounded(values), "an f16 weight downloads as its rounded values")
        let v = try op(vulkan, weight)
        let c = try op(Parity.cpu, Parity.cpu.upload(rounded(values), shape: weightShape))
        return Outputs(vulkan: try vulkan.download(v), cpu: try Parity.cpu.download(c), vulkanShape: v.shape,
                       cpuShape: c.shape)
    }

    static func upload(_ shape: [Int], seed: UInt64, on backend: VulkanBackend? = nil) throws -> (vulkan: Tensor, cpu: Tensor) {
        var random = SeededRandom(seed: seed)
        let values = random.values(shape.reduce(1, *))
        return (try (backend ?? half.get()).upload(values, shape: shape), try Parity.cpu.upload(values, shape: shape))
    }

    @Test(arguments: [[70, 33, 65], [3, 100, 131], [2, 1, 1]])
    func linear(_ sizes: [Int]) throws {
        let (m, k, n) = (sizes[0], sizes[1], sizes[2])
        let x = try Self.upload([m, k], seed: 11), bias = try Self.upload([n], seed: 12)
        let out = try Self.run(weightShape: [n, k], seed: 13) { backend, weight in
            let vulkan = backend is VulkanBackend
            return try backend.linear(vulkan ? x.vulkan : x.cpu, weight: weight, bias: vulkan ? bias.vulkan : bias.cpu)
        }
        Parity.expectScaled(out, tolerance: Self.tolerance, "linear \(sizes) with f16 weights")
    }

    @Test func convolutions() throws {
        let x = try Self.upload([2, 5, 9, 7], seed: 21)
        let conv = try Self.run(weightShape: [67, 5, 3, 3], seed: 22) { backend, weight in
            try backend.conv2d(backend is VulkanBackend ? x.vulkan : x.cpu, weight: weight, bias: nil, stride: 1, padding: 1)
        }
        Parity.expectScaled(conv, tolerance: Self.tolerance, "conv2d 3x3 with f16 weights")
        let video = try Self.upload([1, 5, 6, 3, 3], seed: 23)
        let temporal = try Self.run(weightShape: [7, 5, 3, 1, 1], seed: 24) { backend, weight in
            try backend.temporalConv(backend is VulkanBackend ? video.vulkan : video.cpu, weight: weight, bias: nil, padding: 1)
        }
        Parity.expectScaled(temporal, tolerance: Self.tolerance, "temporalConv with f16 weights")
    }

    @Test("a UNet forward with f16 weights stays within f16 rounding of f32, in less memory")
    func unetForward() async throws {
        let fixtures = VulkanModelTests.fixtures
        let inputs = try SafeTensorsFile(path: "\(fixtures)/unet-tiny/forward-inputs.safetensors")
        func forward(_ backend: VulkanBackend) async throws -> (values: [Float], weightBytes: Int) {
            let before = backend.memoryUse.inUse
            let model = try UNet3DConditionModel.load(path: "\(fixtures)/unet-tiny", backend: backend)
            let weightBytes = backend.memoryUse.inUse - before
            func tensor(_ key: String) throws -> Tensor { try backend.upload(inputs.floats(key), shape: inputs.shape(of: key)!) }
            let output = try await model(sample: tensor("sample"), timestep: tensor("timestep"),
                                         encoderHiddenStates: tensor("encoder_hidden_states"))
            return (try backend.download(output), weightBytes)
        }
        let full = try await forward(VulkanBackend(cooperativeMatrix: .off))
        let halved = try await forward(VulkanBackend(weightType: .f16, cooperativeMatrix: .off))
        let scale = maxAbs(full.values)
        let difference = maxAbsDifference(halved.values, full.values)
        // f16 keeps 11 significant bits (relative rounding 2^-11 = 4.9e-4 per weight).
        #expect(difference <= 1e-2 * scale, "f16 weights moved the output by \(difference) (scale \(scale))")
        #expect(difference > 0, "the f16 path did not run")
        #expect(Double(halved.weightBytes) < 0.7 * Double(full.weightBytes),
                "weights took \(halved.weightBytes) bytes as f16, \(full.weightBytes) as f32")
    }

    @Test("weights are stored as f32 or f16 only; an f32 backend keeps them f32")
    func weightTypes() throws {
        #expect(throws: TensorError.self) { _ = try VulkanBackend(weightType: .bf16) }
        #expect(try VulkanBackend(cooperativeMatrix: .off).uploadOperatorWeight([1, 2], shape: [2]).dtype == .f32)
    }
}
