import CVulkan
import Synchronization
import Tensor

/// A storage buffer bound to one binding of a dispatch: a block and how many bytes of it to expose.
struct BoundBuffer {
    let block: BufferBlock
    let byteCount: Int
}

/// Everything a Vulkan backend shares between threads: the device, its memory pools, the
/// shader library and the command buffer being recorded, behind one lock.
///
/// Ops record into a single command buffer, each command followed by a full compute/transfer
/// barrier, and nothing is submitted until a result must reach the host (``download(_:count:)``)
/// or the recording has grown large: one forward pass is one submission, not one wait per op.
final class VulkanContext: @unchecked Sendable {
    // @unchecked: every mutable thing lives in `state`, behind its mutex; `device` is immutable.
    let device: VulkanDevice
    private let state: Mutex<Recorder>

    init(device: VulkanDevice, shaderDirectory: String?) throws {
        self.device = device
        let recorder = try Recorder(device: device, shaderDirectory: shaderDirectory)
        placeholderBlock = recorder.placeholder
        state = Mutex(recorder)
    }

    /// The folder the SPIR-V was loaded from.
    var shaderDirectory: String { state.withLock { $0.library.directory } }

    /// Bytes of device memory held by live tensors, and allocated from the driver.
    var memoryUse: (inUse: Int, allocated: Int) {
        state.withLock { ($0.devicePool.bytesInUse, $0.devicePool.bytesAllocated) }
    }

    /// Device memory for `count` elements of `dtype`.
    func allocate(count: Int, dtype: DType = .f32) throws -> VulkanStorage {
        let bytes = (count * dtype.byteSize + 3) / 4 * 4
        guard bytes <= device.maxStorageBufferRange else {
            throw TensorError("vulkan: a tensor of \(count) elements (\(bytes >> 20) MiB) exceeds \(device.info.name)'s "
                + "largest storage buffer (\(device.maxStorageBufferRange >> 20) MiB)")
        }
        let block = try state.withLock { try $0.allocateDevice(bytes) }
        return VulkanStorage(elementCount: count, dtype: dtype, block: block, context: self)
    }

    /// A small block bound where a kernel's optional input is absent (never read).
    let placeholderBlock: BufferBlock

    func release(_ block: BufferBlock) {
        state.withLock { $0.devicePool.release(block) }
    }

    /// Records `kernel` over `buffers` (inputs first, the output last).
    func dispatch(_ kernel: Kernel, constants: [UInt32: UInt32] = [:], buffers: [BoundBuffer], push: [UInt32],
                  groups: (x: Int, y: Int, z: Int)) throws {
        precondition(buffers.count == kernel.bindingCount, "\(kernel.rawValue) binds \(kernel.bindingCount) buffers")
        precondition(push.count * 4 <= ShaderLibrary.pushConstantBytes, "\(kernel.rawValue): push constants too large")
        let limit = device.maxWorkgroupCount
        guard groups.x <= limit.x, groups.y <= limit.y, groups.z <= limit.z else {
            throw TensorError("vulkan: \(kernel.rawValue) needs \(groups.x)x\(groups.y)x\(groups.z) workgroups, more than "
                + "\(device.info.name) dispatches at once (\(limit.x)x\(limit.y)x\(limit.z))")
        }
        guard groups.x > 0, groups.y > 0, groups.z > 0 else { return }
        try state.withLock { try $0.dispatch(kernel, constants: constants, buffers: buffers, push: push, groups: groups) }
    }

    /// Records copying `bytes` into `block`.
    func upload(_ bytes: UnsafeRawBufferPointer, into block: BufferBlock) throws {
        try state.withLock { try $0.upload(bytes, into: block) }
    }

    /// Records filling the first `byteCount` bytes of `block` with zeros.
    func fillZero(_ block: BufferBlock, byteCount: Int) throws {
        try state.withLock { try $0.fillZero(block, byteCount: byteCount) }
    }

    /// Submits everything recorded, waits for it and hands the first `byteCount` bytes of
    /// `block` to `read` (valid only during the call).
    func download(_ block: BufferBlock, byteCount: Int, _ read: (UnsafeRawBufferPointer) -> Void) throws {
        try state.withLock { try $0.download(block, byteCount: byteCount, read) }
    }

    /// Submits everything recorded and waits for it.
    func synchronize() throws {
        try state.withLock { try $0.submitAndWait() }
    }
}

/// The recording state: not thread-safe, owned by ``VulkanContext``'s mutex.
///
/// `@unchecked Sendable`: it only moves into the mutex and is used under it.
final class Recorder: @unchecked Sendable {
    let device: VulkanDevice
    let library: ShaderLibrary
    let devicePool: BufferPool
    let stagingPool: BufferPool
    private let commandPool: VkCommandPool
    private let commandBuffer: VkCommandBuffer
    private let fence: VkFence
    private var descriptorPools: [VkDescriptorPool] = []
    private var currentDescriptorPool = 0
    private var recording = false
    private var commandsRecorded = 0
    /// Staging blocks that recorded copies read or write: released after the next wait.
    private var stagingInFlight: [BufferBlock] = []
    private var stagingBytesInFlight = 0
    private var lost: String?
    /// Bound where a kernel's optional input is absent.
    let placeholder: BufferBlock

    /// Submit once this many commands are recorded, or this much staging memory is pending.
    static let commandsPerSubmission = 4096
    static let stagingBytesPerSubmission = 256 << 20
    private static let setsPerDescriptorPool: UInt32 = 1024
    /// How long to wait for the device before calling it hung.
    private static let fenceTimeoutNanoseconds: UInt64 = 600_000_000_000

    init(device: VulkanDevice, shaderDirectory: String?) throws {
        self.device = device
        library = try ShaderLibrary(device: device, directory: shaderDirectory)
        devicePool = BufferPool(device: device, memoryType: device.deviceMemoryType, mapped: false, label: "device")
        stagingPool = BufferPool(device: device, memoryType: device.stagingMemoryType, mapped: true,
                                 chunkBytes: 32 << 20, label: "staging")
        let handle = device.handle

        var poolInfo = VkCommandPoolCreateInfo()
        poolInfo.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO
        poolInfo.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT.rawValue
        poolInfo.queueFamilyIndex = device.queueFamily
        var commandPool: VkCommandPool?
        try VulkanResult.check(vkCreateCommandPool(handle, &poolInfo, nil, &commandPool), "creating a command pool")
        self.commandPool = commandPool!

        var allocateInfo = VkCommandBufferAllocateInfo()
        allocateInfo.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        allocateInfo.commandPool = commandPool
        allocateInfo.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
        allocateInfo.commandBufferCount = 1
        var commandBuffer: VkCommandBuffer?
        try VulkanResult.check(vkAllocateCommandBuffers(handle, &allocateInfo, &commandBuffer), "allocating a command buffer")
        self.commandBuffer = commandBuffer!

        var fenceInfo = VkFenceCreateInfo()
        fenceInfo.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        var fence: VkFence?
        try VulkanResult.check(vkCreateFence(handle, &fenceInfo, nil, &fence), "creating a fence")
        self.fence = fence!
        placeholder = try devicePool.allocate(16)
    }

    deinit {
        let handle = device.handle
        vkDeviceWaitIdle(handle)
        for pool in descriptorPools { vkDestroyDescriptorPool(handle, pool, nil) }
        vkDestroyFence(handle, fence, nil)
        vkFreeCommandBuffers(handle, commandPool, 1, [commandBuffer])
        vkDestroyCommandPool(handle, commandPool, nil)
    }

    private func checkAlive() throws {
        if let lost { throw TensorError("vulkan: \(device.info.name) is unusable after an earlier failure: \(lost)") }
    }

    func allocateDevice(_ bytes: Int) throws -> BufferBlock {
        try checkAlive()
        return try devicePool.allocate(bytes)
    }

    // MARK: Recording

    private func begin() throws {
        try checkAlive()
        guard !recording else { return }
        var info = VkCommandBufferBeginInfo()
        info.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        info.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT.rawValue
        try VulkanResult.check(vkBeginCommandBuffer(commandBuffer, &info), "beginning a command buffer")
        recording = true
    }

    /// Orders everything recorded so far before everything recorded next.
    private func barrier() {
        var memoryBarrier = VkMemoryBarrier()
        memoryBarrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        memoryBarrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue
        memoryBarrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue
            | VK_ACCESS_TRANSFER_READ_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue
        let stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue | VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue
        vkCmdPipelineBarrier(commandBuffer, stages, stages, 0, 1, &memoryBarrier, 0, nil, 0, nil)
        commandsRecorded += 1
    }

    private func submitIfLarge() throws {
        if commandsRecorded >= Self.commandsPerSubmission || stagingBytesInFlight >= Self.stagingBytesPerSubmission {
            try submitAndWait()
        }
    }

    func dispatch(_ kernel: Kernel, constants: [UInt32: UInt32], buffers: [BoundBuffer], push: [UInt32],
                  groups: (x: Int, y: Int, z: Int)) throws {
        try begin()
        let (pipeline, layout) = try library.pipeline(kernel, constants: constants)
        let set = try descriptorSet(bindings: buffers.count)
        var infos = buffers.map { bound in
            VkDescriptorBufferInfo(buffer: bound.block.buffer, offset: VkDeviceSize(bound.block.offset),
                                   range: VkDeviceSize(min(bound.block.size, max(bound.byteCount, 16))))
        }
        infos.withUnsafeMutableBufferPointer { infos in
            var writes = (0 ..< infos.count).map { binding in
                var write = VkWriteDescriptorSet()
                write.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET
                write.dstSet = set
                write.dstBinding = UInt32(binding)
                write.descriptorCount = 1
                write.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                write.pBufferInfo = UnsafePointer(infos.baseAddress! + binding)
                return write
            }
            vkUpdateDescriptorSets(device.handle, UInt32(writes.count), &writes, 0, nil)
        }
        vkCmdBindPipeline(commandBuffer, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline)
        var descriptorSet: VkDescriptorSet? = set
        vkCmdBindDescriptorSets(commandBuffer, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, &descriptorSet, 0, nil)
        if !push.isEmpty {
            push.withUnsafeBytes { bytes in
                vkCmdPushConstants(commandBuffer, layout, VK_SHADER_STAGE_COMPUTE_BIT.rawValue, 0,
                                   UInt32(bytes.count), bytes.baseAddress)
            }
        }
        vkCmdDispatch(commandBuffer, UInt32(groups.x), UInt32(groups.y), UInt32(groups.z))
        barrier()
        try submitIfLarge()
    }

    func upload(_ source: UnsafeRawBufferPointer, into block: BufferBlock) throws {
        guard source.count > 0 else { return }
        try begin()
        let bytes = source.count
        let staging = try stagingPool.allocate(bytes)
        staging.mapped!.copyMemory(from: source.baseAddress!, byteCount: bytes)
        var region = VkBufferCopy(srcOffset: VkDeviceSize(staging.offset), dstOffset: VkDeviceSize(block.offset),
                                  size: VkDeviceSize(bytes))
        vkCmdCopyBuffer(commandBuffer, staging.buffer, block.buffer, 1, &region)
        barrier()
        stagingInFlight.append(staging)
        stagingBytesInFlight += staging.size
        try submitIfLarge()
    }

    func fillZero(_ block: BufferBlock, byteCount: Int) throws {
        guard byteCount > 0 else { return }
        try begin()
        vkCmdFillBuffer(commandBuffer, block.buffer, VkDeviceSize(block.offset),
                        VkDeviceSize(BufferPool.roundUp(byteCount, to: 4)), 0)
        barrier()
        try submitIfLarge()
    }

    func download(_ block: BufferBlock, byteCount bytes: Int, _ read: (UnsafeRawBufferPointer) -> Void) throws {
        guard bytes > 0 else {
            try submitAndWait()
            read(UnsafeRawBufferPointer(start: nil, count: 0))
            return
        }
        try begin()
        let staging = try stagingPool.allocate(bytes)
        defer { stagingPool.release(staging) }
        var region = VkBufferCopy(srcOffset: VkDeviceSize(block.offset), dstOffset: VkDeviceSize(staging.offset),
                                  size: VkDeviceSize(bytes))
        vkCmdCopyBuffer(commandBuffer, block.buffer, staging.buffer, 1, &region)
        var toHost = VkMemoryBarrier()
        toHost.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        toHost.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT.rawValue
        toHost.dstAccessMask = VK_ACCESS_HOST_READ_BIT.rawValue
        vkCmdPipelineBarrier(commandBuffer, VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue, VK_PIPELINE_STAGE_HOST_BIT.rawValue,
                             0, 1, &toHost, 0, nil, 0, nil)
        try submitAndWait()
        read(UnsafeRawBufferPointer(start: staging.mapped!, count: bytes))
    }

    /// Ends the command buffer, submits it and waits for the device to finish it.
    func submitAndWait() throws {
        try checkAlive()
        guard recording else { return }
        recording = false
        defer { recycle() }
        try fail(vkEndCommandBuffer(commandBuffer), "ending a command buffer")
        var buffer: VkCommandBuffer? = commandBuffer
        var submit = VkSubmitInfo()
        submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO
        try withUnsafePointer(to: &buffer) { buffer in
            submit.commandBufferCount = 1
            submit.pCommandBuffers = buffer
            try fail(vkQueueSubmit(device.queue, 1, &submit, self.fence), "submitting work")
        }
        var fences: [VkFence?] = [self.fence]
        let waited = vkWaitForFences(device.handle, 1, &fences, VK_TRUE, Self.fenceTimeoutNanoseconds)
        if waited == VK_TIMEOUT {
            lost = "the device did not finish a submission within \(Self.fenceTimeoutNanoseconds / 1_000_000_000) s"
            throw TensorError("vulkan: \(lost!)")
        }
        try fail(waited, "waiting for the device")
        try fail(vkResetFences(device.handle, 1, &fences), "resetting a fence")
    }

    /// Checks `result`; a lost device (or a failed submission) makes the context unusable.
    private func fail(_ result: VkResult, _ operation: String) throws {
        guard result != VK_SUCCESS else { return }
        lost = "\(operation) failed: \(VulkanResult.describe(result))"
        try VulkanResult.check(result, operation)
    }

    /// After a submission completed: staging blocks and descriptor sets are free again.
    private func recycle() {
        vkResetCommandBuffer(commandBuffer, 0)
        for block in stagingInFlight { stagingPool.release(block) }
        stagingInFlight.removeAll(keepingCapacity: true)
        stagingBytesInFlight = 0
        for pool in descriptorPools { vkResetDescriptorPool(device.handle, pool, 0) }
        currentDescriptorPool = 0
        commandsRecorded = 0
    }

    // MARK: Descriptor sets

    private func descriptorSet(bindings: Int) throws -> VkDescriptorSet {
        var layout: VkDescriptorSetLayout? = try library.setLayout(bindings: bindings)
        while true {
            if currentDescriptorPool == descriptorPools.count { descriptorPools.append(try makeDescriptorPool()) }
            var info = VkDescriptorSetAllocateInfo()
            info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO
            info.descriptorPool = descriptorPools[currentDescriptorPool]
            info.descriptorSetCount = 1
            var set: VkDescriptorSet?
            let result = withUnsafePointer(to: &layout) { layout in
                info.pSetLayouts = layout
                return vkAllocateDescriptorSets(device.handle, &info, &set)
            }
            if result == VK_ERROR_OUT_OF_POOL_MEMORY || result == VK_ERROR_FRAGMENTED_POOL {
                currentDescriptorPool += 1
                continue
            }
            try VulkanResult.check(result, "allocating a descriptor set")
            return set!
        }
    }

    private func makeDescriptorPool() throws -> VkDescriptorPool {
        var size = VkDescriptorPoolSize(type: VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                        descriptorCount: Self.setsPerDescriptorPool * 5)
        var info = VkDescriptorPoolCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO
        info.maxSets = Self.setsPerDescriptorPool
        info.poolSizeCount = 1
        var pool: VkDescriptorPool?
        let result = withUnsafePointer(to: &size) { size in
            info.pPoolSizes = size
            return vkCreateDescriptorPool(device.handle, &info, nil, &pool)
        }
        try VulkanResult.check(result, "creating a descriptor pool")
        return pool!
    }
}
