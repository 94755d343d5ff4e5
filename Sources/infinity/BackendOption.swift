import CPUBackend
import Tensor
import VulkanBackend

/// The compute backend `--backend cpu|vulkan`, `--threads N` and `--cpu-kernels avx2|avx512`
/// (cpu), `--device N`, `--weight-precision f32|f16` and `--cooperative-matrix auto|on|off` (vulkan) choose.
struct BackendOption {
    /// The options this type reads, for the commands that take a backend.
    static let optionNames: Set<String> = ["backend", "threads", "cpu-kernels", "device", "weight-precision",
                                                   "cooperative-matrix"]
    /// Their usage line.
    static let usage = "[--backend cpu|vulkan] [--threads N] [--cpu-kernels avx2|avx512] [--device N] [--weight-precision f32|f16] [--cooperative-matrix auto|on|off]"

    enum Kind: Equatable {
        /// The CPU backend with this many threads and these kernels (nil: the widest this CPU runs).
        case cpu(threads: Int, kernels: CPUBackend.InstructionSet?)
        /// The Vulkan backend on this device (nil: the preferred one), storing the linear and
        /// convolution weights as `weights` (f32 or f16), using cooperative matrices as `matrices` says.
        case vulkan(device: Int?, weights: DType, matrices: CooperativeMatrixUse)
    }

    let kind: Kind

    /// Reads the options; a flag that does not apply to the chosen backend is an error.
    init(_ options: Arguments) throws {
        switch try options.choice("backend", default: "cpu", from: ["cpu", "vulkan"]) {
        case "vulkan":
            for flag in ["threads", "cpu-kernels"] where options.string(flag) != nil {
                throw Arguments.Failure(description: "--\(flag) applies to --backend cpu only (Vulkan runs on the device)")
            }
            let device = try options.string("device").map { _ in try options.int("device", default: 0, range: 0 ... 255) }
            let weights: DType = try options.choice("weight-precision", default: "f32", from: ["f32", "f16"]) == "f16" ? .f16 : .f32
            let matrices = CooperativeMatrixUse(rawValue: try options.choice(
                "cooperative-matrix", default: "auto", from: CooperativeMatrixUse.allCases.map(\.rawValue)))!
            kind = .vulkan(device: device, weights: weights, matrices: matrices)
        default:
            for flag in ["device", "weight-precision", "cooperative-matrix"] where options.string(flag) != nil {
                throw Arguments.Failure(description: "--\(flag) applies to --backend vulkan only")
            }
            let kernels = try options.string("cpu-kernels").map { _ in
                CPUBackend.InstructionSet(rawValue: try options.choice("cpu-kernels", default: "avx2",
                                                                       from: CPUBackend.InstructionSet.allCases.map(\.rawValue)))!
            }
            kind = .cpu(threads: try options.int("threads", default: CPUBackend.coreCount, range: 1 ... 1024), kernels: kernels)
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
        case .cpu(let threads, _): threads
        case .vulkan: 0
        }
    }

    /// A new backend (CPU: with `threads` instead of the option's count when given). Throws
    /// when this CPU lacks what the CPU backend's kernels need, or there is no usable Vulkan device.
    func make(threads override: Int? = nil) throws -> any Backend {
        switch kind {
        case .cpu(let threads, let kernels):
            try CPUBackend.checkSupported()
            if let kernels, !kernels.isSupported {
                throw Arguments.Failure(description: "--cpu-kernels \(kernels.rawValue): this CPU lacks the \(kernels) extensions"
                                        + " (it runs: \(CPUBackend.InstructionSet.supported.map(\.rawValue).joined(separator: ", ")))")
            }
            return CPUBackend(threads: override ?? threads, instructionSet: kernels)
        case .vulkan(let device, let weights, let matrices):
            return try VulkanBackend(device: device, weightType: weights, cooperativeMatrix: matrices)
        }
    }
}

/// `infinity devices`: the Vulkan devices this machine has, in `--device N` order.
enum DevicesCommand {
    static func run(_ arguments: ArraySlice<String>) throws {
        _ = try Arguments(arguments, options: [])
        let devices = try VulkanBackend.devices()
        if devices.isEmpty { say("no Vulkan devices") }
        for device in devices { say(device.description + (device.cooperativeMatrix.map { "; \($0)" } ?? "")) }
        if let chosen = try? VulkanDeviceInfo.choose(nil, among: devices) {
            say("default: device \(chosen.index)")
        }
    }
}
