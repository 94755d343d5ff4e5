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

    init(instance: VulkanInstance, index requested: Int?) throws {
        self.instance = instance
        let physicalDevices = try instance.physicalDevices()
        let infos = physicalDevices.enumerated().map { VulkanDeviceInfo(index: $0.offset, physicalDevice: $0.element) }
        let chosen = try VulkanDeviceInfo.choose(requested, among: infos)
        info = chosen
        let chosenDevice = physicalDevices[chosen.index]
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
                return vkCreateDevice(chosenDevice, &info, nil, &device)
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
