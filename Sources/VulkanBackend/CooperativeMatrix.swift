import CVulkan
import Tensor

/// Whether the GEMM-shaped ops (linear, linear + GEGLU, conv2d, temporal conv) run on the
/// device's cooperative matrices (`VK_KHR_cooperative_matrix`: NVIDIA's tensor cores, AMD's and
/// Intel's matrix units), `--cooperative-matrix auto|on|off`. Attention keeps its f32 kernel,
/// which measured faster than `attention_coopmat.comp` on an H200 (see `VulkanBackend`).
///
/// The cooperative-matrix kernels (`Shaders/gemm_coopmat.comp`, `Shaders/attention_coopmat.comp`)
/// round the operands to f16 and accumulate in f32, so their results differ from the f32
/// kernels' by about 1e-3 of their scale.
public enum CooperativeMatrixUse: String, Sendable, CaseIterable {
    /// Use them where the device offers what the kernel needs (``CooperativeMatrixFacts``).
    case auto
    /// Use them; a device without them is an error that says what it lacks.
    case on
    /// Compute every op in f32 on the ordinary shader cores.
    case off
}

/// How the cooperative-matrix kernels run on a device that supports them (`gemm_coopmat.comp`
/// always; `attention_coopmat.comp` for the head widths ``runsAttention(headWidth:)`` accepts).
struct CooperativeMatrixSupport: Sendable, Equatable {
    /// The matrices' shape: `m` x `k` times `k` x `n` (the kernel's FM, FN, FK).
    var m = 16, n = 16, k = 16
    /// Invocations per subgroup; the GEMM's workgroup is 8 subgroups, attention's 4.
    let subgroupSize: Int
    /// Whether pipelines must fix the subgroup size (and ask for full subgroups) because the
    /// device's varies (`minSubgroupSize < maxSubgroupSize`).
    let fixesSubgroupSize: Bool
    /// The device's shared memory per workgroup, in bytes.
    var maxSharedMemoryBytes = 49152

    /// Invocations per workgroup.
    var workgroupSize: Int { 8 * subgroupSize }
    /// Elements of each operand one invocation stages per K step (`LOADS`: 128 x 32 over the workgroup).
    var stagedPerInvocation: Int { 128 * 32 / workgroupSize }
    /// Elements of an m x n block each lane stores in the epilogue (`EPILOGUE`).
    var epiloguePerLane: Int { m * n / subgroupSize }

    /// Shared memory `attention_coopmat.comp` declares for heads of `width` channels: q (64
    /// rows), k and v (32 rows) in f16 with rows of width + 8, the scores (4 x 16 x 32 f32), the
    /// weights (4 x 16 x 40 f16), the output (64 x width f32) and three floats per query row.
    static func attentionSharedMemoryBytes(headWidth width: Int) -> Int {
        (64 + 2 * 32) * (width + 8) * 2 + 4 * 16 * 32 * 4 + 4 * 16 * 40 * 2 + 64 * width * 4 + 64 * 3 * 4
    }

    /// Whether `attention_coopmat.comp` runs heads of `width` channels here: a multiple of 16
    /// up to 64 that the matrices' sides divide, 16-row blocks the matrices' rows divide, and
    /// the shared memory it needs (48,896 bytes at 64: not on lavapipe, whose limit is 32 KiB).
    func runsAttention(headWidth width: Int) -> Bool {
        width % 16 == 0 && width <= 64 && 16 % m == 0 && width % n == 0 && width % k == 0
            && Self.attentionSharedMemoryBytes(headWidth: width) <= maxSharedMemoryBytes
    }
}

/// What a device reports that decides whether `gemm_coopmat.comp` can run on it: a pure value,
/// so the decision (``support()``) is tested without such a device.
struct CooperativeMatrixFacts: Sendable {
    /// One `VkCooperativeMatrixPropertiesKHR` entry.
    struct Configuration: Sendable, Equatable {
        var m, n, k: Int
        /// `VkComponentTypeKHR` values: 0 f16, 1 f32.
        var a, b, c, result: UInt32
        /// `VkScopeKHR`: 3 subgroup.
        var scope: UInt32

        /// The one the kernel is tuned for: 16x16x16, f16 x f16 + f32 -> f32, subgroup scope.
        static let kernel = Configuration(m: 16, n: 16, k: 16, a: 0, b: 0, c: 1, result: 1, scope: 3)

        /// Whether the kernel runs on it: f16 x f16 + f32 -> f32 at subgroup scope, every side
        /// dividing 32 (the subgroup block is 32 x 64, K steps are 32, GEGLU halves are 32 wide),
        /// an accumulator of at most 256 elements (the epilogue's staging block).
        var fitsKernel: Bool {
            a == 0 && b == 0 && c == 1 && result == 1 && scope == 3
                && [m, n, k].allSatisfy { $0 > 0 && 32 % $0 == 0 } && m * n <= 256 && k % 4 == 0
        }

        /// "16x16x16 f16 x f16 + f32 -> f32 (subgroup)", as error messages list what a device offers.
        var description: String {
            let names = ["f16", "f32", "f64", "s8", "s16", "s32", "s64", "u8", "u16", "u32", "u64"]
            func type(_ value: UInt32) -> String { names.indices.contains(Int(value)) ? names[Int(value)] : "type \(value)" }
            let scopeName = [1: "device", 2: "workgroup", 3: "subgroup", 5: "queue family"][Int(scope)] ?? "scope \(scope)"
            return "\(m)x\(n)x\(k) \(type(a)) x \(type(b)) + \(type(c)) -> \(type(result)) (\(scopeName))"
        }
    }

    var apiVersion: (major: Int, minor: Int)
    var hasExtension: Bool
    var cooperativeMatrixFeature: Bool
    var shaderFloat16: Bool
    var vulkanMemoryModel: Bool
    var configurations: [Configuration]
    /// The default subgroup size and the range a pipeline may require.
    var subgroupSize: Int
    var minSubgroupSize: Int
    var maxSubgroupSize: Int
    /// Whether compute shaders may fix their subgroup size and ask for full subgroups
    /// (`subgroupSizeControl`, `computeFullSubgroups`, compute in `requiredSubgroupSizeStages`).
    var computeSubgroupSizeControl: Bool
    /// Whether compute shaders have the basic subgroup operations (`gl_SubgroupID`).
    var computeSubgroupBasic: Bool
    var maxWorkgroupInvocations: Int
    var maxWorkgroupSizeX: Int
    var maxSharedMemoryBytes: Int

    /// Shared memory `gemm_coopmat.comp` declares: two 128 x 40 f16 tiles, 8 f32 blocks of 256
    /// and the convolutions' 128-row table (3 words a row).
    static let kernelSharedMemoryBytes = 2 * 128 * 40 * 2 + 8 * 256 * 4 + 128 * 3 * 4

    /// How the kernel runs here, or an error that names what the device lacks.
    func support() throws -> CooperativeMatrixSupport {
        func lacks(_ what: String) -> TensorError { TensorError("it lacks \(what)") }
        guard apiVersion.major > 1 || apiVersion.minor >= 3 else {
            throw lacks("Vulkan 1.3 (it has \(apiVersion.major).\(apiVersion.minor))")
        }
        guard hasExtension, cooperativeMatrixFeature else { throw lacks("VK_KHR_cooperative_matrix") }
        // 16x16x16 where offered, else the largest that fits.
        guard let shape = configurations.contains(.kernel) ? .kernel
                : configurations.filter(\.fitsKernel).max(by: { $0.m * $0.n * $0.k < $1.m * $1.n * $1.k }) else {
            let offered = configurations.isEmpty ? "none" : configurations.map(\.description).joined(separator: ", ")
            throw lacks("f16 x f16 + f32 cooperative matrices at subgroup scope with sides dividing 32 (it offers: \(offered))")
        }
        guard shaderFloat16 else { throw lacks("shaderFloat16") }
        guard vulkanMemoryModel else { throw lacks("vulkanMemoryModel") }
        guard computeSubgroupBasic else { throw lacks("basic subgroup operations in compute shaders") }
        guard maxSharedMemoryBytes >= Self.kernelSharedMemoryBytes else {
            throw lacks("\(Self.kernelSharedMemoryBytes) bytes of shared memory (it has \(maxSharedMemoryBytes))")
        }
        // The kernel's workgroup is 8 subgroups, and it stages 128 x 32 elements per operand
        // evenly over the invocations in chunks of 8: subgroups of a power of two from 4 to 64.
        func fits(_ size: Int) -> Bool { (4 ... 64).contains(size) && size & (size - 1) == 0 }
        let chosen: CooperativeMatrixSupport
        if minSubgroupSize == maxSubgroupSize {
            guard fits(subgroupSize) else { throw lacks("a subgroup size that is a power of two from 4 to 64 (it has \(subgroupSize))") }
            chosen = CooperativeMatrixSupport(m: shape.m, n: shape.n, k: shape.k, subgroupSize: subgroupSize,
                                              fixesSubgroupSize: false, maxSharedMemoryBytes: maxSharedMemoryBytes)
        } else {
            guard computeSubgroupSizeControl else {
                throw lacks("subgroup size control (its subgroups vary from \(minSubgroupSize) to \(maxSubgroupSize))")
            }
            let size = min(max(32, minSubgroupSize), maxSubgroupSize)
            guard fits(size) else {
                throw lacks("subgroups of a power of two from 4 to 64 invocations (it has \(minSubgroupSize)-\(maxSubgroupSize))")
            }
            chosen = CooperativeMatrixSupport(m: shape.m, n: shape.n, k: shape.k, subgroupSize: size, fixesSubgroupSize: true,
                                              maxSharedMemoryBytes: maxSharedMemoryBytes)
        }
        guard (shape.m * shape.n) % chosen.subgroupSize == 0 else {
            throw lacks("a subgroup size dividing \(shape.m)x\(shape.n) (it has \(chosen.subgroupSize))")
        }
        guard chosen.workgroupSize <= min(maxWorkgroupInvocations, maxWorkgroupSizeX) else {
            throw lacks("workgroups of \(chosen.workgroupSize) invocations")
        }
        return chosen
    }
}

extension CooperativeMatrixFacts {
    /// Reads the facts of `physicalDevice`.
    init(instance: VkInstance, physicalDevice: VkPhysicalDevice) {
        var properties = VkPhysicalDeviceProperties()
        vkGetPhysicalDeviceProperties(physicalDevice, &properties)
        let version = properties.apiVersion
        apiVersion = (Int(version >> 22 & 0x7f), Int(version >> 12 & 0x3ff))
        let limits = properties.limits
        maxWorkgroupInvocations = Int(limits.maxComputeWorkGroupInvocations)
        maxWorkgroupSizeX = Int(limits.maxComputeWorkGroupSize.0)
        maxSharedMemoryBytes = Int(limits.maxComputeSharedMemorySize)
        let hasExtension = Self.extensions(of: physicalDevice).contains(VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME)
        self.hasExtension = hasExtension
        let modern = apiVersion.major > 1 || apiVersion.minor >= 3

        // Features and properties of Vulkan 1.2/1.3 (only asked of 1.3 devices, whose drivers know them).
        var features12 = VkPhysicalDeviceVulkan12Features()
        features12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES
        var features13 = VkPhysicalDeviceVulkan13Features()
        features13.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES
        var matrixFeatures = VkPhysicalDeviceCooperativeMatrixFeaturesKHR()
        matrixFeatures.sType = VkStructureType(infinity_structure_type_cooperative_matrix_features)
        var properties11 = VkPhysicalDeviceVulkan11Properties()
        properties11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_PROPERTIES
        var properties13 = VkPhysicalDeviceVulkan13Properties()
        properties13.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_PROPERTIES
        if modern {
            withUnsafeMutablePointer(to: &matrixFeatures) { matrix in
                withUnsafeMutablePointer(to: &features13) { f13 in
                    withUnsafeMutablePointer(to: &features12) { f12 in
                        f12.pointee.pNext = UnsafeMutableRawPointer(f13)
                        f13.pointee.pNext = hasExtension ? UnsafeMutableRawPointer(matrix) : nil
                        var features = VkPhysicalDeviceFeatures2()
                        features.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2
                        features.pNext = UnsafeMutableRawPointer(f12)
                        vkGetPhysicalDeviceFeatures2(physicalDevice, &features)
                        f12.pointee.pNext = nil
                        f13.pointee.pNext = nil
                    }
                }
            }
            withUnsafeMutablePointer(to: &properties13) { p13 in
                withUnsafeMutablePointer(to: &properties11) { p11 in
                    p11.pointee.pNext = UnsafeMutableRawPointer(p13)
                    var all = VkPhysicalDeviceProperties2()
                    all.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2
                    all.pNext = UnsafeMutableRawPointer(p11)
                    vkGetPhysicalDeviceProperties2(physicalDevice, &all)
                    p11.pointee.pNext = nil
                }
            }
        }
        cooperativeMatrixFeature = matrixFeatures.cooperativeMatrix != 0
        shaderFloat16 = features12.shaderFloat16 != 0
        vulkanMemoryModel = features12.vulkanMemoryModel != 0
        let compute = VK_SHADER_STAGE_COMPUTE_BIT.rawValue
        subgroupSize = Int(properties11.subgroupSize)
        minSubgroupSize = Int(modern ? properties13.minSubgroupSize : properties11.subgroupSize)
        maxSubgroupSize = Int(modern ? properties13.maxSubgroupSize : properties11.subgroupSize)
        computeSubgroupSizeControl = features13.subgroupSizeControl != 0 && features13.computeFullSubgroups != 0
            && properties13.requiredSubgroupSizeStages & compute != 0
        computeSubgroupBasic = properties11.subgroupSupportedStages & compute != 0
            && properties11.subgroupSupportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT.rawValue != 0
        configurations = modern && hasExtension && cooperativeMatrixFeature
            ? Self.configurations(instance: instance, physicalDevice: physicalDevice) : []
    }

    private static func extensions(of device: VkPhysicalDevice) -> Set<String> {
        var count: UInt32 = 0
        guard vkEnumerateDeviceExtensionProperties(device, nil, &count, nil) == VK_SUCCESS else { return [] }
        var list = [VkExtensionProperties](repeating: VkExtensionProperties(), count: Int(count))
        guard vkEnumerateDeviceExtensionProperties(device, nil, &count, &list) == VK_SUCCESS else { return [] }
        return Set(list.prefix(Int(count)).map { property in
            withUnsafeBytes(of: property.extensionName) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        })
    }

    private static func configurations(instance: VkInstance, physicalDevice: VkPhysicalDevice) -> [Configuration] {
        guard let address = vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR") else {
            return []
        }
        let query = unsafeBitCast(address, to: PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR.self)
        var count: UInt32 = 0
        guard query(physicalDevice, &count, nil) == VK_SUCCESS, count > 0 else { return [] }
        var template = VkCooperativeMatrixPropertiesKHR()
        template.sType = VkStructureType(infinity_structure_type_cooperative_matrix_properties)
        var list = [VkCooperativeMatrixPropertiesKHR](repeating: template, count: Int(count))
        guard query(physicalDevice, &count, &list) == VK_SUCCESS else { return [] }
        return list.prefix(Int(count)).map {
            Configuration(m: Int($0.MSize), n: Int($0.NSize), k: Int($0.KSize), a: $0.AType.rawValue,
                          b: $0.BType.rawValue, c: $0.CType.rawValue, result: $0.ResultType.rawValue,
                          scope: $0.scope.rawValue)
        }
    }
}
