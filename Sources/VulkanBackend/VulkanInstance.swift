import CVulkan
import Tensor

/// Owns the process's `VkInstance` and lists the devices it sees.
///
/// `@unchecked Sendable`: the handle is created in `init`, destroyed in `deinit` and only read
/// in between; Vulkan allows instance-level queries from any thread.
final class VulkanInstance: @unchecked Sendable {
    let handle: VkInstance

    /// Vulkan 1.3, the highest version the backend uses: the f32 shaders need 1.1 (storage-buffer
    /// and subgroup features), the cooperative-matrix GEMM 1.3 (SPIR-V 1.6, subgroup size control).
    /// A device of a lower version still runs the f32 shaders.
    static let apiVersion: UInt32 = (1 << 22) | (3 << 12)

    init() throws {
        var application = VkApplicationInfo()
        application.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO
        application.apiVersion = Self.apiVersion
        application.applicationVersion = 1
        application.engineVersion = 1
        var instance: VkInstance?
        let result = "infinity".withCString { name in
            application.pApplicationName = name
            application.pEngineName = name
            return withUnsafePointer(to: &application) { applicationPointer in
                var info = VkInstanceCreateInfo()
                info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO
                info.pApplicationInfo = applicationPointer
                return vkCreateInstance(&info, nil, &instance)
            }
        }
        if result == VK_ERROR_INCOMPATIBLE_DRIVER {
            throw TensorError("vulkan: no Vulkan 1.1 driver is installed (install a GPU driver, or mesa-vulkan-drivers for the CPU device lavapipe)")
        }
        try VulkanResult.check(result, "creating the Vulkan instance")
        guard let instance else { throw TensorError("vulkan: vkCreateInstance returned no instance") }
        handle = instance
    }

    deinit {
        vkDestroyInstance(handle, nil)
    }

    /// The physical devices, in the driver's order (the order `--device N` counts in).
    func physicalDevices() throws -> [VkPhysicalDevice] {
        var count: UInt32 = 0
        try VulkanResult.check(vkEnumeratePhysicalDevices(handle, &count, nil), "listing devices")
        var devices = [VkPhysicalDevice?](repeating: nil, count: Int(count))
        try VulkanResult.check(vkEnumeratePhysicalDevices(handle, &count, &devices), "listing devices")
        return devices.prefix(Int(count)).compactMap { $0 }
    }

    /// A description of every device.
    func deviceInfos() throws -> [VulkanDeviceInfo] {
        try physicalDevices().enumerated().map { describe(index: $0.offset, $0.element).info }
    }

    /// Device `index`'s description, with whether it runs the cooperative-matrix kernels, and how
    /// (or the error that says what it lacks).
    func describe(index: Int, _ device: VkPhysicalDevice) -> (info: VulkanDeviceInfo,
                                                                matrices: Result<CooperativeMatrixSupport, Error>) {
        var info = VulkanDeviceInfo(index: index, physicalDevice: device)
        let matrices = Result { try CooperativeMatrixFacts(instance: handle, physicalDevice: device).support() }
        switch matrices {
        case .success(let support):
            info.cooperativeMatrix = "cooperative matrices: \(support.m)x\(support.n)x\(support.k) f16 x f16 + f32 "
                + "(subgroups of \(support.subgroupSize))"
        case .failure(let error):
            info.cooperativeMatrix = "no cooperative-matrix GEMM: \(error)"
        }
        return (info, matrices)
    }
}

/// What a Vulkan device is, as `infinity` lists it and chooses among devices.
public struct VulkanDeviceInfo: Sendable, Equatable, CustomStringConvertible {
    /// The kind of device, in the order the default choice prefers.
    public enum Kind: String, Sendable, Equatable {
        case discrete = "discrete GPU"
        case integrated = "integrated GPU"
        case virtual = "virtual GPU"
        case cpu = "CPU"
        case other
    }

    /// Position in the driver's device list (`--device N`).
    public let index: Int
    /// The driver's name for the device ("NVIDIA H100 80GB HBM3", "llvmpipe (LLVM 15.0.6, 256 bits)").
    public let name: String
    public let kind: Kind
    /// PCI vendor ID (0x10de NVIDIA, 0x1002 AMD, 0x8086 Intel, 0x10005 Mesa).
    public let vendorID: UInt32
    /// Highest Vulkan version the device supports, "major.minor.patch".
    public let apiVersion: String
    /// Size of the largest device-local memory heap.
    public let memoryBytes: Int
    /// Whether the cooperative-matrix GEMM runs here, or what the device lacks for it (listed
    /// by ``VulkanBackend/devices()``; nil where not queried).
    public internal(set) var cooperativeMatrix: String?

    init(index: Int, name: String, kind: Kind, vendorID: UInt32, apiVersion: String, memoryBytes: Int) {
        self.index = index
        self.name = name
        self.kind = kind
        self.vendorID = vendorID
        self.apiVersion = apiVersion
        self.memoryBytes = memoryBytes
    }

    init(index: Int, physicalDevice: VkPhysicalDevice) {
        var properties = VkPhysicalDeviceProperties()
        vkGetPhysicalDeviceProperties(physicalDevice, &properties)
        var memory = VkPhysicalDeviceMemoryProperties()
        vkGetPhysicalDeviceMemoryProperties(physicalDevice, &memory)
        self.index = index
        name = withUnsafeBytes(of: properties.deviceName) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        kind = switch properties.deviceType {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: .discrete
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: .integrated
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: .virtual
        case VK_PHYSICAL_DEVICE_TYPE_CPU: .cpu
        default: .other
        }
        vendorID = properties.vendorID
        let version = properties.apiVersion
        apiVersion = "\(version >> 22 & 0x7f).\(version >> 12 & 0x3ff).\(version & 0xfff)"
        let heaps = withUnsafeBytes(of: memory.memoryHeaps) { Array($0.bindMemory(to: VkMemoryHeap.self)) }
        memoryBytes = heaps.prefix(Int(memory.memoryHeapCount))
            .filter { $0.flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT.rawValue != 0 }
            .map { Int($0.size) }.max() ?? 0
    }

    /// Chooses the device to run on: `requested` when given (an error names the devices there
    /// are), otherwise the first discrete GPU, then integrated, virtual, CPU.
    public static func choose(_ requested: Int?, among devices: [VulkanDeviceInfo]) throws -> VulkanDeviceInfo {
        guard !devices.isEmpty else {
            throw TensorError("vulkan: no Vulkan device found (install a GPU driver, or mesa-vulkan-drivers for lavapipe)")
        }
        if let requested {
            guard devices.indices.contains(requested) else {
                let list = devices.map(\.description).joined(separator: "; ")
                throw TensorError("vulkan: --device \(requested) does not exist; devices: \(list)")
            }
            return devices[requested]
        }
        let preference: [Kind] = [.discrete, .integrated, .virtual, .cpu, .other]
        return devices.min { preference.firstIndex(of: $0.kind)! < preference.firstIndex(of: $1.kind)! }!
    }

    public var description: String {
        "\(index): \(name) (\(kind.rawValue), Vulkan \(apiVersion), \(memoryBytes >> 20) MiB)"
    }
}
