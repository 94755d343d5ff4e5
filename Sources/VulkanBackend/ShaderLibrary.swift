#if canImport(Glibc)
import Glibc
#endif
import CVulkan
import Tensor

/// The compute kernels of `Shaders/*.comp`, one per SPIR-V file in `Shaders/spirv/`.
enum Kernel: String, CaseIterable, Sendable {
    case stridedCopy = "strided_copy"
    case pointwise
    case add
    case geglu
    case linear
    case conv2d
    case temporalConv = "temporal_conv"
    case attention
    case groupStats = "group_stats"
    case groupNorm = "group_norm"
    case layerNorm = "layer_norm"
    case upsampleNearest = "upsample_nearest"
    case timestepEmbedding = "timestep_embedding"
    /// linear, linear + GEGLU, conv2d and temporal conv on cooperative matrices (see ``CooperativeMatrixUse``).
    case gemmCoopmat = "gemm_coopmat"
    /// attention on cooperative matrices (heads of 16 to 64 channels).
    case attentionCoopmat = "attention_coopmat"

    /// Storage buffers the kernel binds (inputs, then the output), as in Shaders/README.md.
    var bindingCount: Int {
        switch self {
        case .stridedCopy, .pointwise, .geglu, .groupStats, .upsampleNearest, .timestepEmbedding: 2
        case .add: 3
        case .linear, .conv2d, .temporalConv, .layerNorm, .gemmCoopmat: 4
        case .attention, .groupNorm, .attentionCoopmat: 5
        }
    }
}

/// Loads SPIR-V from disk and builds compute pipelines, one per (kernel, specialization constants).
///
/// Not thread-safe: ``VulkanContext`` owns it and serialises every call.
final class ShaderLibrary {
    /// Bytes of push constants every pipeline layout declares (the minimum every device offers).
    static let pushConstantBytes = 128

    private let device: VulkanDevice
    /// The folder the `.spv` files are read from.
    let directory: String
    private var modules: [Kernel: VkShaderModule] = [:]
    private var setLayouts: [Int: VkDescriptorSetLayout] = [:]
    private var pipelineLayouts: [Int: VkPipelineLayout] = [:]
    private var pipelines: [PipelineKey: VkPipeline] = [:]

    struct PipelineKey: Hashable {
        let kernel: Kernel
        let constants: [UInt32: UInt32]
    }

    /// Subgroup sizes pipelines must fix (with full subgroups), by kernel.
    private let requiredSubgroupSizes: [Kernel: UInt32]

    init(device: VulkanDevice, directory: String?) throws {
        self.device = device
        self.directory = try Self.locate(directory)
        if let matrices = device.cooperativeMatrix, matrices.fixesSubgroupSize {
            requiredSubgroupSizes = [.gemmCoopmat: UInt32(matrices.subgroupSize),
                                     .attentionCoopmat: UInt32(matrices.subgroupSize)]
        } else {
            requiredSubgroupSizes = [:]
        }
    }

    deinit {
        let handle = device.handle
        for pipeline in pipelines.values { vkDestroyPipeline(handle, pipeline, nil) }
        for layout in pipelineLayouts.values { vkDestroyPipelineLayout(handle, layout, nil) }
        for layout in setLayouts.values { vkDestroyDescriptorSetLayout(handle, layout, nil) }
        for module in modules.values { vkDestroyShaderModule(handle, module, nil) }
    }

    // MARK: Finding the SPIR-V

    /// Where the SPIR-V lives: `explicit` when given (and nothing else), else `$INFINITY_SHADER_DIR`,
    /// else a `Shaders/spirv` in a folder above the running executable (a build tree inside the repository), else
    /// `share/infinity/spirv` beside the executable's folder (an installed tree), else the
    /// source tree this file was compiled from.
    static func locate(_ explicit: String?) throws -> String {
        var candidates: [String] = []
        if let explicit {
            candidates.append(explicit)
        } else {
            if let variable = getenv("INFINITY_SHADER_DIR") { candidates.append(String(cString: variable)) }
            if let executable = executablePath() {
                var folder = parent(of: executable)
                candidates.append(folder + "/../share/infinity/spirv")
                while folder.count > 1 {
                    candidates.append(folder + "/Shaders/spirv")
                    folder = parent(of: folder)
                }
            }
            candidates.append(parent(of: parent(of: parent(of: #filePath))) + "/Shaders/spirv")
        }
        for candidate in candidates where isReadable(candidate + "/\(Kernel.linear.rawValue).spv") {
            return candidate
        }
        let searched = candidates.prefix(6).joined(separator: ", ")
        throw TensorError("vulkan: cannot find the compiled shaders (\(Kernel.linear.rawValue).spv) in \(searched)"
            + (candidates.count > 6 ? ", ..." : "") + "; set INFINITY_SHADER_DIR to the repository's Shaders/spirv")
    }

    private static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func isReadable(_ path: String) -> Bool { access(path, R_OK) == 0 }

    private func readSPIRV(_ kernel: Kernel) throws -> [UInt32] {
        let path = directory + "/\(kernel.rawValue).spv"
        guard let file = fopen(path, "rb") else {
            throw TensorError("vulkan: cannot open shader \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let read = fread(&chunk, 1, chunk.count, file)
            if read == 0 { break }
            bytes.append(contentsOf: chunk.prefix(read))
        }
        guard bytes.count >= 20, bytes.count % 4 == 0 else {
            throw TensorError("vulkan: shader \(path) is not SPIR-V (\(bytes.count) bytes)")
        }
        let words = bytes.withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }
        guard words[0] == 0x0723_0203 else {
            throw TensorError("vulkan: shader \(path) is not SPIR-V (magic 0x\(String(words[0], radix: 16)))")
        }
        return words
    }

    // MARK: Pipelines

    /// The pipeline running `kernel` with `constants` (specialization constant ID -> value).
    func pipeline(_ kernel: Kernel, constants: [UInt32: UInt32] = [:]) throws -> (VkPipeline, VkPipelineLayout) {
        let layout = try pipelineLayout(bindings: kernel.bindingCount)
        let key = PipelineKey(kernel: kernel, constants: constants)
        if let pipeline = pipelines[key] { return (pipeline, layout) }
        let module = try module(kernel)
        let ids = constants.keys.sorted()
        var entries = ids.enumerated().map { position, id in
            VkSpecializationMapEntry(constantID: id, offset: UInt32(position * 4), size: 4)
        }
        var data = ids.map { constants[$0]! }
        var subgroupSize = VkPipelineShaderStageRequiredSubgroupSizeCreateInfo()
        subgroupSize.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO
        subgroupSize.requiredSubgroupSize = requiredSubgroupSizes[kernel] ?? 0
        let fixesSubgroupSize = requiredSubgroupSizes[kernel] != nil
        var pipeline: VkPipeline?
        let result = "main".withCString { entryName in
            entries.withUnsafeMutableBufferPointer { entries in
                data.withUnsafeMutableBytes { data in
                    var specialization = VkSpecializationInfo(
                        mapEntryCount: UInt32(entries.count), pMapEntries: entries.baseAddress,
                        dataSize: data.count, pData: data.baseAddress)
                    return withUnsafePointer(to: &specialization) { specialization in
                        withUnsafePointer(to: &subgroupSize) { subgroupSize in
                            var stage = VkPipelineShaderStageCreateInfo()
                            stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO
                            if fixesSubgroupSize {
                                stage.pNext = UnsafeRawPointer(subgroupSize)
                                stage.flags = VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT.rawValue
                            }
                            stage.stage = VK_SHADER_STAGE_COMPUTE_BIT
                            stage.module = module
                            stage.pName = entryName
                            stage.pSpecializationInfo = entries.count > 0 ? specialization : nil
                            var info = VkComputePipelineCreateInfo()
                            info.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO
                            info.stage = stage
                            info.layout = layout
                            return vkCreateComputePipelines(device.handle, nil, 1, &info, nil, &pipeline)
                        }
                    }
                }
            }
        }
        try VulkanResult.check(result, "building the \(kernel.rawValue) pipeline")
        guard let pipeline else { throw TensorError("vulkan: no pipeline for \(kernel.rawValue)") }
        pipelines[key] = pipeline
        return (pipeline, layout)
    }

    /// The descriptor-set layout of `bindings` storage buffers.
    func setLayout(bindings: Int) throws -> VkDescriptorSetLayout {
        if let layout = setLayouts[bindings] { return layout }
        var entries = (0 ..< bindings).map { binding in
            VkDescriptorSetLayoutBinding(binding: UInt32(binding), descriptorType: VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                         descriptorCount: 1, stageFlags: VK_SHADER_STAGE_COMPUTE_BIT.rawValue,
                                         pImmutableSamplers: nil)
        }
        var layout: VkDescriptorSetLayout?
        let result = entries.withUnsafeMutableBufferPointer { entries in
            var info = VkDescriptorSetLayoutCreateInfo()
            info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO
            info.bindingCount = UInt32(entries.count)
            info.pBindings = UnsafePointer(entries.baseAddress)
            return vkCreateDescriptorSetLayout(device.handle, &info, nil, &layout)
        }
        try VulkanResult.check(result, "creating a descriptor set layout")
        guard let layout else { throw TensorError("vulkan: no descriptor set layout") }
        setLayouts[bindings] = layout
        return layout
    }

    private func pipelineLayout(bindings: Int) throws -> VkPipelineLayout {
        if let layout = pipelineLayouts[bindings] { return layout }
        var setLayout: VkDescriptorSetLayout? = try setLayout(bindings: bindings)
        var range = VkPushConstantRange(stageFlags: VK_SHADER_STAGE_COMPUTE_BIT.rawValue, offset: 0,
                                        size: UInt32(Self.pushConstantBytes))
        var layout: VkPipelineLayout?
        let result = withUnsafePointer(to: &setLayout) { setLayout in
            withUnsafePointer(to: &range) { range in
                var info = VkPipelineLayoutCreateInfo()
                info.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO
                info.setLayoutCount = 1
                info.pSetLayouts = setLayout
                info.pushConstantRangeCount = 1
                info.pPushConstantRanges = range
                return vkCreatePipelineLayout(device.handle, &info, nil, &layout)
            }
        }
        try VulkanResult.check(result, "creating a pipeline layout")
        guard let layout else { throw TensorError("vulkan: no pipeline layout") }
        pipelineLayouts[bindings] = layout
        return layout
    }

    private func module(_ kernel: Kernel) throws -> VkShaderModule {
        if let module = modules[kernel] { return module }
        let words = try readSPIRV(kernel)
        var module: VkShaderModule?
        let result = words.withUnsafeBufferPointer { words in
            var info = VkShaderModuleCreateInfo()
            info.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO
            info.codeSize = words.count * 4
            info.pCode = words.baseAddress
            return vkCreateShaderModule(device.handle, &info, nil, &module)
        }
        try VulkanResult.check(result, "loading shader \(directory)/\(kernel.rawValue).spv")
        guard let module else { throw TensorError("vulkan: no shader module for \(kernel.rawValue)") }
        modules[kernel] = module
        return module
    }
}
