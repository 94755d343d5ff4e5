import CVulkan
import Tensor

/// The one place `VkResult` codes become errors.
enum VulkanResult {
    /// Throws a ``TensorError`` naming `operation` and the code unless `result` is `VK_SUCCESS`.
    static func check(_ result: VkResult, _ operation: @autoclosure () -> String) throws {
        guard result != VK_SUCCESS else { return }
        throw TensorError("vulkan: \(operation()) failed: \(describe(result))")
    }

    /// A readable name and meaning of `result`.
    static func describe(_ result: VkResult) -> String {
        switch result {
        case VK_SUCCESS: "success"
        case VK_NOT_READY: "VK_NOT_READY"
        case VK_TIMEOUT: "VK_TIMEOUT (the device did not finish in time)"
        case VK_INCOMPLETE: "VK_INCOMPLETE"
        case VK_ERROR_OUT_OF_HOST_MEMORY: "VK_ERROR_OUT_OF_HOST_MEMORY (out of host memory)"
        case VK_ERROR_OUT_OF_DEVICE_MEMORY: "VK_ERROR_OUT_OF_DEVICE_MEMORY (out of device memory)"
        case VK_ERROR_INITIALIZATION_FAILED: "VK_ERROR_INITIALIZATION_FAILED"
        case VK_ERROR_DEVICE_LOST: "VK_ERROR_DEVICE_LOST (the device was lost: driver reset, hang or removal)"
        case VK_ERROR_MEMORY_MAP_FAILED: "VK_ERROR_MEMORY_MAP_FAILED"
        case VK_ERROR_LAYER_NOT_PRESENT: "VK_ERROR_LAYER_NOT_PRESENT"
        case VK_ERROR_EXTENSION_NOT_PRESENT: "VK_ERROR_EXTENSION_NOT_PRESENT"
        case VK_ERROR_FEATURE_NOT_PRESENT: "VK_ERROR_FEATURE_NOT_PRESENT"
        case VK_ERROR_INCOMPATIBLE_DRIVER: "VK_ERROR_INCOMPATIBLE_DRIVER (no Vulkan driver, or none new enough, is installed)"
        case VK_ERROR_TOO_MANY_OBJECTS: "VK_ERROR_TOO_MANY_OBJECTS"
        case VK_ERROR_INVALID_SHADER_NV: "VK_ERROR_INVALID_SHADER_NV (the driver rejected a shader)"
        default: "VkResult \(result.rawValue)"
        }
    }

    /// Whether `result` means the device is gone for good.
    static func isDeviceLost(_ result: VkResult) -> Bool { result == VK_ERROR_DEVICE_LOST }
}
