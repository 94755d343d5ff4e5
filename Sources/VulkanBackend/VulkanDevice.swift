import CVulkan
import Tensor

/// Owns one logical `VkDevice`, its compute queue and the facts about the device the backend needs.
///
/// `@unchecked Sendable`: the handles are created in `init` and destroyed in `deinit`; every use
/// in between goes through ``VulkanContext``, which serialises queue and pool access.
final class VulkanDevice: @unchecked Sendable {
    let instance: VulkanInstance
    let physicalDevice: VkPhysicalDevice
    let handle: VkDevice
    let queue: VkQueue
    let queueFamily: UInt32
    let info: VulkanDeviceInfo

    /// Largest range one storage-buffer descriptor may cover, in bytes.
    let maxStorageBufferRange: Int
    /// Required alignment of a storage-buffer descriptor's offset, in bytes.
    let storageOffsetAlignment: Int
    /// Largest workgroup count per dispatch dimension.
    let maxWorkgroupCount: (x: Int, y: Int, z: Int)
    /// Memory type for tensors (device-local) and for staging (host-visible and coherent).
    let deviceMemoryType: UInt32
    let stagingMemoryType: UInt32
    /// How the cooperative-matrix GEMM runs here; nil when it does not (unsupported, or `.off`).
    let cooperativeMatrix: CooperativeMatrixSupport?
    /// The default subgroup size, and whether compute shaders have subgroup arithmetic (`subgroupAdd`).
    let subgroupSize: Int
    let computeSubgroupArithmetic: Bool

    /// Whether row kernels (layer norm) give each row a subgroup rather than an invocation:
    /// on GPUs with subgroup arithmetic, where a subgroup's loads of a row coalesce; not on CPU
    /// devices (lavapipe), whose invocations are SIMD lanes of one thread.
    var rowsPerSubgroup: Bool { info.kind != .cpu && computeSubgroupArithmetic && subgroupSize <= 64 }

    /// Opens device `requested` (nil: the preferred one). With `cooperativeMatrix` `.auto` or
    /// `.on` and a device that supports `gemm_coopmat.comp`, enables what it needs
    /// (`VK_KHR_cooperative_matrix`, `shaderFloat16`, `vulkanMemoryModel`, subgroup size control);
    /// `.on` on any other device throws, naming what it lacks.
    init(instance: VulkanInstance, index requested: Int?, cooperativeMatrix use: CooperativeMatrixUse = .auto) throws {
        self.instance = instance
        let physicalDevices = try instance.physicalDevices()
        let infos = physicalDevices.enumerated().map { VulkanDeviceInfo(index: $0.offset, physicalDevice: $0.element) }
        let index = try VulkanDeviceInfo.choose(requested, among: infos).index
        let chosenDevice = physicalDevices[index]
        // Only the chosen device's cooperative-matrix support is read: its description as
        // `devices()` lists it, and how the kernels would run.
        let (chosen, support) = instance.describe(index: index, chosenDevice)
        info = chosen
        physicalDevice = chosenDevice

        var properties = VkPhysicalDeviceProperties()
        vkGetPhysicalDeviceProperties(chosenDevice, &properties)
        maxStorageBufferRange = Int(properties.limits.maxStorageBufferRange)
        storageOffsetAlignment = max(16, Int(properties.limits.minStorageBufferOffsetAlignment))
        let counts = properties.limits.maxComputeWorkGroupCount
        maxWorkgroupCount = (Int(counts.0), Int(counts.1), Int(counts.2))

        let queueFamily = try Self.computeQueueFamily(of: chosenDevice, name: chosen.name)
        self.queueFamily = queueFamily
        (deviceMemoryType, stagingMemoryType) = try Self.memoryTypes(of: chosenDevice, name: chosen.name)
        let matrices: CooperativeMatrixSupport?
        switch use {
        case .off: matrices = nil
        case .auto: matrices = try? support.get()
        case .on:
            do {
                matrices = try support.get()
            } catch {
                throw TensorError("vulkan: --cooperative-matrix on: \(chosen.name) cannot run the cooperative-matrix GEMM: \(error)")
            }
        }
        cooperativeMatrix = matrices
        var subgroup = VkPhysicalDeviceSubgroupProperties()
        subgroup.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES
        withUnsafeMutablePointer(to: &subgroup) { subgroup in
            var all = VkPhysicalDeviceProperties2()
            all.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2
            all.pNext = UnsafeMutableRawPointer(subgroup)
            vkGetPhysicalDeviceProperties2(chosenDevice, &all)
        }
        subgroupSize = Int(subgroup.subgroupSize)
        computeSubgroupArithmetic = subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT.rawValue != 0
            && subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT.rawValue != 0

        var priority: Float = 1
        var device: VkDevice?
        let result = withUnsafePointer(to: &priority) { priorityPointer in
            var queueInfo = VkDeviceQueueCreateInfo()
            queueInfo.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO
            queueInfo.queueFamilyIndex = queueFamily
            queueInfo.queueCount = 1
            queueInfo.pQueuePriorities = priorityPointer
            return withUnsafePointer(to: &queueInfo) { queuePointer in
                var info = VkDeviceCreateInfo()
                info.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO
                info.queueCreateInfoCount = 1
                info.pQueueCreateInfos = queuePointer
                guard let matrices else { return vkCreateDevice(chosenDevice, &info, nil, &device) }
                return Self.withCooperativeMatrixFeatures(matrices, &info) { info in
                    vkCreateDevice(chosenDevice, &info, nil, &device)
                }
            }
        }
        try VulkanResult.check(result, "creating a logical device on \(chosen.name)")
        guard let device else { throw TensorError("vulkan: vkCreateDevice returned no device") }
        handle = device
        var queue: VkQueue?
        vkGetDeviceQueue(device, queueFamily, 0, &queue)
        guard let queue else {
            vkDestroyDevice(device, nil)
            throw TensorError("vulkan: \(chosen.name) returned no compute queue")
        }
        self.queue = queue
    }

    deinit {
        vkDeviceWaitIdle(handle)
        vkDestroyDevice(handle, nil)
    }

    /// Runs `create` with `info` extended by what `gemm_coopmat.comp` needs: the extension and its
    /// feature, `shaderFloat16` and `vulkanMemoryModel` (Vulkan 1.2), and subgroup size control
    /// with full compute subgroups (Vulkan 1.3) where ``CooperativeMatrixSupport/fixesSubgroupSize``.
    private static func withCooperativeMatrixFeatures(_ support: CooperativeMatrixSupport, _ info: inout VkDeviceCreateInfo,
                                                      _ create: (inout VkDeviceCreateInfo) -> VkResult) -> VkResult {
        var features12 = VkPhysicalDeviceVulkan12Features()
        features12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES
        features12.shaderFloat16 = VkBool32(VK_TRUE)
        features12.vulkanMemoryModel = VkBool32(VK_TRUE)
        var features13 = VkPhysicalDeviceVulkan13Features()
        features13.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES
        features13.subgroupSizeControl = VkBool32(support.fixesSubgroupSize ? VK_TRUE : VK_FALSE)
        features13.computeFullSubgroups = VkBool32(support.fixesSubgroupSize ? VK_TRUE : VK_FALSE)
        var matrixFeatures = VkPhysicalDeviceCooperativeMatrixFeaturesKHR()
        matrixFeatures.sType = VkStructureType(infinity_structure_type_cooperative_matrix_features)
        matrixFeatures.cooperativeMatrix = VkBool32(VK_TRUE)
        return withUnsafeMutablePointer(to: &matrixFeatures) { matrix in
            withUnsafeMutablePointer(to: &features13) { f13 in
                withUnsafeMutablePointer(to: &features12) { f12 in
                    f12.pointee.pNext = UnsafeMutableRawPointer(f13)
                    f13.pointee.pNext = UnsafeMutableRawPointer(matrix)
                    info.pNext = UnsafeRawPointer(f12)
                    return VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME.withCString { name in
                        var names: [UnsafePointer<CChar>?] = [name]
                        return names.withUnsafeMutableBufferPointer { names in
                            info.enabledExtensionCount = 1
                            info.ppEnabledExtensionNames = UnsafePointer(names.baseAddress)
                            return create(&info)
                        }
                    }
                }
            }
        }
    }

    /// The first queue family with compute support.
    private static func computeQueueFamily(of device: VkPhysicalDevice, name: String) throws -> UInt32 {
        var count: UInt32 = 0
        vkGetPhysicalDeviceQueueFamilyProperties(device, &count, nil)
        var families = [VkQueueFamilyProperties](repeating: VkQueueFamilyProperties(), count: Int(count))
        vkGetPhysicalDeviceQueueFamilyProperties(device, &count, &families)
        guard let index = families.prefix(Int(count)).firstIndex(where: {
            $0.queueFlags & VK_QUEUE_COMPUTE_BIT.rawValue != 0
        }) else {
            throw TensorError("vulkan: \(name) has no compute queue")
        }
        return UInt32(index)
    }

    /// Device-local memory for tensors (the one in the largest heap), host-visible coherent for staging.
    private static func memoryTypes(of device: VkPhysicalDevice, name: String) throws -> (UInt32, UInt32) {
        var memory = VkPhysicalDeviceMemoryProperties()
        vkGetPhysicalDeviceMemoryProperties(device, &memory)
        let types = withUnsafeBytes(of: memory.memoryTypes) { Array($0.bindMemory(to: VkMemoryType.self)) }
            .prefix(Int(memory.memoryTypeCount))
        let heaps = withUnsafeBytes(of: memory.memoryHeaps) { Array($0.bindMemory(to: VkMemoryHeap.self)) }
        let deviceLocal = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT.rawValue
        let hostVisible = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT.rawValue | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT.rawValue
        let local = types.indices.filter { types[$0].propertyFlags & deviceLocal != 0 }
            .max { heaps[Int(types[$0].heapIndex)].size < heaps[Int(types[$1].heapIndex)].size }
        guard let staging = types.indices.first(where: { types[$0].propertyFlags & hostVisible == hostVisible }) else {
            throw TensorError("vulkan: \(name) has no host-visible coherent memory for transfers")
        }
        return (UInt32(local ?? staging), UInt32(staging))
    }
}
