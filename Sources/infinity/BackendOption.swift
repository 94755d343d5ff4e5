import CPUBackend
import Tensor
import VulkanBackend

/// The compute backend `--backend cpu|vulkan`, `--threads N` (cpu), `--device N` and
/// `--weight-precision f32|f16` (vulkan) choose.
struct BackendOption {
    enum Kind: Equatable {
        /// The CPU backend with this many threads.
        case cpu(threads: Int)
        /// The Vulkan backend on this device (nil: the preferred one), storing the linear and
        /// convolution weights as `weights` (f32 or f16).
        case vulkan(device: Int?, weights: DType)
    }

    let kind: Kind

    /// Reads the options; a flag that does not apply to the chosen backend is an error.
    init(_ options: Arguments) throws {
        switch try options.choice("backend", default: "cpu", from: ["cpu", "vulkan"]) {
        case "vulkan":
            guard options.string("threads") == nil else {
                throw Arguments.Failure(description: "--threads applies to --backend cpu only (Vulkan runs on the device)")
            }
            let device = try options.string("device").map { _ in try options.int("device", default: 0, range: 0 ... 255) }
            let weights: DType = try options.choice("weight-precision", default: "f32", from: ["f32", "f16"]) == "f16" ? .f16 : .f32
            kind = .vulkan(device: device, weights: weights)
        default:
            for flag in ["device", "weight-precision"] where options.string(flag) != nil {
                throw Arguments.Failure(description: "--\(flag) applies to --backend vulkan only")
            }
            kind = .cpu(threads: try options.int("threads", default: CPUBackend.coreCount, range: 1 ... 1024))
        }
    }

    /// "cpu" or "vulkan", as the worker reports it to the coordinator.
    var name: String {
        switch kind {
        case .cpu: "cpu"
        case .vulkan: "vulkan"
        }
    }

    /// CPU threads the backend uses (0 for Vulkan).
    var threads: Int {
        switch kind {
        case .cpu(let threads): threads
        case .vulkan: 0
        }
    }

    /// A new backend (CPU: with `threads` instead of the option's count when given). Throws
    /// when this CPU lacks what the CPU backend's kernels need, or there is no usable Vulkan device.
    func make(threads override: Int? = nil) throws -> any Backend {
        switch kind {
        case .cpu(let threads):
            try CPUBackend.checkSupported()
            return CPUBackend(threads: override ?? threads)
        case .vulkan(let device, let weights):
            return try VulkanBackend(device: device, weightType: weights)
        }
    }
}

/// `infinity devices`: the Vulkan devices this machine has, in `--device N` order.
enum DevicesCommand {
    static func run(_ arguments: ArraySlice<String>) throws {
        _ = try Arguments(arguments, options: [])
        let devices = try VulkanBackend.devices()
        if devices.isEmpty { say("no Vulkan devices") }
        for device in devices { say(device.description) }
        if let chosen = try? VulkanDeviceInfo.choose(nil, among: devices) {
            say("default: device \(chosen.index)")
        }
    }
}
