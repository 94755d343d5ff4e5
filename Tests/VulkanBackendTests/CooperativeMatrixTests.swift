import Tensor
import Testing
@testable import VulkanBackend

/// When the cooperative-matrix GEMM runs: the pure decision over what a device reports (no
/// device in CI has the extension: lavapipe lacks it), and what `--cooperative-matrix` does on
/// the device there is.
@Suite("Cooperative-matrix GEMM: choice")
struct CooperativeMatrixTests {
    /// What an NVIDIA H100/H200 reports (Vulkan 1.4, fixed subgroups of 32).
    static let nvidia = CooperativeMatrixFacts(
        apiVersion: (1, 4), hasExtension: true, cooperativeMatrixFeature: true, shaderFloat16: true,
        vulkanMemoryModel: true,
        configurations: [
            .init(m: 16, n: 8, k: 16, a: 0, b: 0, c: 0, result: 0, scope: 3),
            .kernel,
            .init(m: 16, n: 16, k: 32, a: 3, b: 3, c: 5, result: 5, scope: 3),
        ],
        subgroupSize: 32, minSubgroupSize: 32, maxSubgroupSize: 32, computeSubgroupSizeControl: true,
        computeSubgroupBasic: true, maxWorkgroupInvocations: 1024, maxWorkgroupSizeX: 1024, maxSharedMemoryBytes: 49152)

    @Test func fixedSubgroupsOf32RunAsTheyAre() throws {
        #expect(try Self.nvidia.support() == CooperativeMatrixSupport(subgroupSize: 32, fixesSubgroupSize: false))
        #expect(try Self.nvidia.support().workgroupSize == 256)
    }

    /// A device whose subgroup size varies (AMD: 32 or 64) gets 32, fixed by the pipeline.
    @Test func variableSubgroupsAreFixedAt32() throws {
        var amd = Self.nvidia
        (amd.subgroupSize, amd.minSubgroupSize, amd.maxSubgroupSize) = (64, 32, 64)
        #expect(try amd.support() == CooperativeMatrixSupport(subgroupSize: 32, fixesSubgroupSize: true))
        (amd.minSubgroupSize, amd.maxSubgroupSize) = (64, 128)
        #expect(try amd.support() == CooperativeMatrixSupport(subgroupSize: 64, fixesSubgroupSize: true))
        (amd.minSubgroupSize, amd.maxSubgroupSize) = (8, 16)
        #expect(try amd.support() == CooperativeMatrixSupport(subgroupSize: 16, fixesSubgroupSize: true))
    }

    /// Without 16x16x16, the largest shape that fits: lavapipe's 8x8x8, Intel's 8x16x16.
    @Test func otherShapes() throws {
        let f16 = { (m: Int, n: Int, k: Int, c: UInt32) in
            CooperativeMatrixFacts.Configuration(m: m, n: n, k: k, a: 0, b: 0, c: c, result: c, scope: 3)
        }
        var device = Self.nvidia
        device.configurations = [f16(8, 8, 8, 0), f16(8, 8, 8, 1)]
        #expect(try device.support() == CooperativeMatrixSupport(m: 8, n: 8, k: 8, subgroupSize: 32, fixesSubgroupSize: false))
        device.configurations = [f16(8, 8, 16, 1), f16(8, 16, 16, 1), f16(32, 32, 16, 1)]
        #expect(try device.support() == CooperativeMatrixSupport(m: 8, n: 16, k: 16, subgroupSize: 32, fixesSubgroupSize: false))
        device.configurations.append(.kernel)
        #expect(try device.support() == CooperativeMatrixSupport(subgroupSize: 32, fixesSubgroupSize: false))
    }

    /// Attention on the matrices: heads of 16 to 64 channels in steps of 16, within the shared
    /// memory (48,896 bytes at 64: NVIDIA's 48 KiB holds it, lavapipe's 32 KiB up to 32 channels).
    @Test func attentionHeadWidths() throws {
        let nvidia = try Self.nvidia.support()
        #expect([8, 16, 24, 32, 48, 64, 80, 128].filter { nvidia.runsAttention(headWidth: $0) } == [16, 32, 48, 64])
        #expect(CooperativeMatrixSupport.attentionSharedMemoryBytes(headWidth: 64) == 48896)
        var lavapipe = Self.nvidia
        lavapipe.configurations = [.init(m: 8, n: 8, k: 8, a: 0, b: 0, c: 1, result: 1, scope: 3)]
        (lavapipe.subgroupSize, lavapipe.minSubgroupSize, lavapipe.maxSubgroupSize) = (8, 8, 8)
        lavapipe.maxSharedMemoryBytes = 32768
        let cpu = try lavapipe.support()
        #expect([8, 16, 32, 48, 64].filter { cpu.runsAttention(headWidth: $0) } == [16, 32])
    }

    /// Small fixed subgroups (lavapipe's 8 lanes) stage more elements per invocation.
    @Test func smallSubgroupsStageMore() throws {
        var cpu = Self.nvidia
        (cpu.subgroupSize, cpu.minSubgroupSize, cpu.maxSubgroupSize) = (8, 8, 8)
        let support = try cpu.support()
        #expect(support == CooperativeMatrixSupport(subgroupSize: 8, fixesSubgroupSize: false))
        #expect(support.workgroupSize == 64 && support.stagedPerInvocation == 64)
        #expect(try Self.nvidia.support().stagedPerInvocation == 16)
    }

    /// The H100/H200 facts with one change.
    static func nvidia(_ change: (inout CooperativeMatrixFacts) -> Void) -> CooperativeMatrixFacts {
        var facts = nvidia
        change(&facts)
        return facts
    }

    /// Each missing piece is named.
    @Test(arguments: [
        ("Vulkan 1.3 (it has 1.2)", nvidia { $0.apiVersion = (1, 2) }),
        ("VK_KHR_cooperative_matrix", nvidia { $0.hasExtension = false }),
        ("VK_KHR_cooperative_matrix", nvidia { $0.cooperativeMatrixFeature = false }),
        ("sides dividing 32 (it offers: 16x8x16 f16 x f16 + f16 -> f16 (subgroup), 16x16x32 s8 x s8 + s32 -> s32 (subgroup))",
         nvidia { $0.configurations.removeAll { $0 == .kernel } }),
        ("(it offers: 16x16x16 f16 x f16 + f32 -> f32 (workgroup))",
         nvidia { $0.configurations = [.init(m: 16, n: 16, k: 16, a: 0, b: 0, c: 1, result: 1, scope: 2)] }),
        ("(it offers: 32x32x16 f16 x f16 + f32 -> f32 (subgroup), 24x8x8 f16 x f16 + f32 -> f32 (subgroup))",
         nvidia { $0.configurations = [.init(m: 32, n: 32, k: 16, a: 0, b: 0, c: 1, result: 1, scope: 3),
                                       .init(m: 24, n: 8, k: 8, a: 0, b: 0, c: 1, result: 1, scope: 3)] }),
        ("(it offers: none)", nvidia { $0.configurations = [] }),
        ("shaderFloat16", nvidia { $0.shaderFloat16 = false }),
        ("vulkanMemoryModel", nvidia { $0.vulkanMemoryModel = false }),
        ("basic subgroup operations", nvidia { $0.computeSubgroupBasic = false }),
        ("30208 bytes of shared memory (it has 16384)", nvidia { $0.maxSharedMemoryBytes = 16384 }),
        ("a subgroup size dividing 4x4 (it has 32)", nvidia {
            $0.configurations = [.init(m: 4, n: 4, k: 4, a: 0, b: 0, c: 1, result: 1, scope: 3)] }),
        ("(it offers: 16x16x2 f16 x f16 + f32 -> f32 (subgroup))", nvidia {
            $0.configurations = [.init(m: 16, n: 16, k: 2, a: 0, b: 0, c: 1, result: 1, scope: 3)] }),
        ("a subgroup size that is a power of two from 4 to 64 (it has 128)", nvidia {
            ($0.subgroupSize, $0.minSubgroupSize, $0.maxSubgroupSize) = (128, 128, 128) }),
        ("a subgroup size that is a power of two from 4 to 64 (it has 2)", nvidia {
            ($0.subgroupSize, $0.minSubgroupSize, $0.maxSubgroupSize) = (2, 2, 2) }),
        ("a subgroup size that is a power of two from 4 to 64 (it has 48)", nvidia {
            ($0.subgroupSize, $0.minSubgroupSize, $0.maxSubgroupSize) = (48, 48, 48) }),
        ("subgroup size control (its subgroups vary from 8 to 32)", nvidia {
            ($0.subgroupSize, $0.minSubgroupSize, $0.maxSubgroupSize, $0.computeSubgroupSizeControl) = (32, 8, 32, false) }),
        ("subgroups of a power of two from 4 to 64 invocations (it has 1-2)", nvidia {
            ($0.subgroupSize, $0.minSubgroupSize, $0.maxSubgroupSize) = (2, 1, 2) }),
        ("workgroups of 512 invocations", nvidia {
            ($0.subgroupSize, $0.minSubgroupSize, $0.maxSubgroupSize, $0.maxWorkgroupInvocations) = (64, 64, 64, 256) }),
        ("workgroups of 512 invocations", nvidia {
            ($0.subgroupSize, $0.minSubgroupSize, $0.maxSubgroupSize, $0.maxWorkgroupSizeX) = (64, 64, 64, 256) }),
    ] as [(String, CooperativeMatrixFacts)])
    func namesWhatIsMissing(expected: String, facts: CooperativeMatrixFacts) {
        #expect {
            _ = try facts.support()
        } throws: { error in
            "\(error)".hasPrefix("it lacks ") && "\(error)".contains(expected)
        }
    }

    /// On the device there is (lavapipe): Debian 12's has no cooperative matrices, so `auto`
    /// runs the f32 kernels, `on` is an error naming the device and what it lacks, and
    /// `devices()` says so; Mesa 26's has 8x8x8 ones, so `auto` and `on` use them.
    @Test func onTheDeviceThereIs() throws {
        let info = try #require(try VulkanBackend.devices().first { $0.kind == .cpu }, "no lavapipe (scripts/setup.sh --tests)")
        #expect(try VulkanBackend(device: info.index, cooperativeMatrix: .off).cooperativeMatrix == false)
        if info.cooperativeMatrix?.hasPrefix("cooperative matrices: ") == true {
            #expect(try VulkanBackend(device: info.index, cooperativeMatrix: .auto).cooperativeMatrix)
            #expect(try VulkanBackend(device: info.index, cooperativeMatrix: .on).cooperativeMatrix)
            return
        }
        #expect(try VulkanBackend(device: info.index, cooperativeMatrix: .auto).cooperativeMatrix == false)
        #expect {
            _ = try VulkanBackend(device: info.index, cooperativeMatrix: .on)
        } throws: { error in
            "\(error)" == "vulkan: --cooperative-matrix on: \(info.name) cannot run the cooperative-matrix GEMM: "
                + "it lacks VK_KHR_cooperative_matrix"
        }
        #expect(info.cooperativeMatrix == "no cooperative-matrix GEMM: it lacks VK_KHR_cooperative_matrix")
    }
}
