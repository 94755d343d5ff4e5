import CVulkan
import Tensor

/// A range of one of a ``BufferPool``'s buffers.
struct BufferBlock: Equatable {
    /// The buffer the block lies in.
    let buffer: VkBuffer
    /// Byte offset of the block in `buffer` (a multiple of the pool's alignment).
    let offset: Int
    /// Bytes reserved: the block's size class, at least what was asked for.
    let size: Int
    /// Host address of the block's first byte when the pool's memory is mapped.
    let mapped: UnsafeMutableRawPointer?
}

/// Suballocates storage buffers from a few large `VkDeviceMemory` allocations of one memory type.
///
/// Vulkan caps the number of allocations (often at 4096) and each one is slow, while a forward
/// pass makes hundreds of tensors. The pool carves blocks out of chunks of ``chunkBytes``
/// (a request above a quarter of that gets a chunk of its own), rounds sizes up to classes an
/// eighth of a power of two apart (at most 12.5% slack), and keeps released blocks on one free
/// list per class for the next request of that class. Memory returns to the driver when the
/// pool is destroyed.
///
/// Not thread-safe: ``VulkanContext`` owns the pools and serialises every call.
final class BufferPool {
    private let device: VulkanDevice
    private let memoryType: UInt32
    private let mapped: Bool
    private let alignment: Int
    private let chunkBytes: Int
    private let label: String

    private struct Chunk {
        let buffer: VkBuffer
        let memory: VkDeviceMemory
        let size: Int
        let base: UnsafeMutableRawPointer?
        var used: Int
    }

    private var chunks: [Chunk] = []
    private var freeBlocks: [Int: [BufferBlock]] = [:]
    /// Bytes in blocks handed out and not yet released.
    private(set) var bytesInUse = 0
    /// Bytes allocated from the driver.
    private(set) var bytesAllocated = 0

    init(device: VulkanDevice, memoryType: UInt32, mapped: Bool, chunkBytes: Int = 64 << 20, label: String) {
        self.device = device
        self.memoryType = memoryType
        self.mapped = mapped
        self.alignment = max(256, device.storageOffsetAlignment)
        self.chunkBytes = chunkBytes
        self.label = label
    }

    deinit {
        for chunk in chunks {
            if chunk.base != nil { vkUnmapMemory(device.handle, chunk.memory) }
            vkDestroyBuffer(device.handle, chunk.buffer, nil)
            vkFreeMemory(device.handle, chunk.memory, nil)
        }
    }

    /// The size class a request of `bytes` is served from.
    static func sizeClass(_ bytes: Int, alignment: Int) -> Int {
        let bytes = max(bytes, 1)
        guard bytes > 16 * alignment else { return roundUp(bytes, to: alignment) }
        let power = 1 << (Int.bitWidth - 1 - bytes.leadingZeroBitCount)
        return roundUp(bytes, to: max(alignment, power / 8))
    }

    static func roundUp(_ value: Int, to multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }

    /// A block of at least `bytes` bytes.
    func allocate(_ bytes: Int) throws -> BufferBlock {
        let size = Self.sizeClass(bytes, alignment: alignment)
        if var list = freeBlocks[size], let block = list.popLast() {
            freeBlocks[size] = list
            bytesInUse += size
            return block
        }
        let block = try carve(size)
        bytesInUse += size
        return block
    }

    /// Returns `block` for reuse by a later allocation of its class.
    func release(_ block: BufferBlock) {
        freeBlocks[block.size, default: []].append(block)
        bytesInUse -= block.size
    }

    private func carve(_ size: Int) throws -> BufferBlock {
        if size <= chunkBytes / 4 {
            if let index = chunks.indices.last, chunks[index].size == chunkBytes,
               chunks[index].used + size <= chunks[index].size {
                return take(size, from: index)
            }
            try addChunk(chunkBytes)
        } else {
            try addChunk(size)
        }
        return take(size, from: chunks.count - 1)
    }

    private func take(_ size: Int, from index: Int) -> BufferBlock {
        let offset = chunks[index].used
        chunks[index].used += size
        return BufferBlock(buffer: chunks[index].buffer, offset: offset, size: size,
                           mapped: chunks[index].base.map { $0 + offset })
    }

    private func addChunk(_ size: Int) throws {
        let handle = device.handle
        var bufferInfo = VkBufferCreateInfo()
        bufferInfo.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
        bufferInfo.size = VkDeviceSize(size)
        bufferInfo.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT.rawValue | VK_BUFFER_USAGE_TRANSFER_SRC_BIT.rawValue
            | VK_BUFFER_USAGE_TRANSFER_DST_BIT.rawValue
        bufferInfo.sharingMode = VK_SHARING_MODE_EXCLUSIVE
        var buffer: VkBuffer?
        try VulkanResult.check(vkCreateBuffer(handle, &bufferInfo, nil, &buffer), "creating a \(describe(size)) \(label) buffer")
        guard let buffer else { throw TensorError("vulkan: vkCreateBuffer returned no buffer") }

        var requirements = VkMemoryRequirements()
        vkGetBufferMemoryRequirements(handle, buffer, &requirements)
        guard requirements.memoryTypeBits & (1 << memoryType) != 0 else {
            vkDestroyBuffer(handle, buffer, nil)
            throw TensorError("vulkan: storage buffers cannot live in memory type \(memoryType) on \(device.info.name)")
        }
        var allocation = VkMemoryAllocateInfo()
        allocation.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO
        allocation.allocationSize = requirements.size
        allocation.memoryTypeIndex = memoryType
        var memory: VkDeviceMemory?
        let result = vkAllocateMemory(handle, &allocation, nil, &memory)
        guard result == VK_SUCCESS, let memory else {
            vkDestroyBuffer(handle, buffer, nil)
            throw TensorError("vulkan: allocating \(describe(size)) of \(label) memory failed: \(VulkanResult.describe(result)); "
                + "\(describe(bytesAllocated)) already allocated, \(describe(bytesInUse)) in use")
        }
        var base: UnsafeMutableRawPointer?
        do {
            try VulkanResult.check(vkBindBufferMemory(handle, buffer, memory, 0), "binding \(label) memory")
            if mapped {
                try VulkanResult.check(vkMapMemory(handle, memory, 0, VkDeviceSize(size), 0, &base), "mapping \(label) memory")
            }
        } catch {
            vkDestroyBuffer(handle, buffer, nil)
            vkFreeMemory(handle, memory, nil)
            throw error
        }
        chunks.append(Chunk(buffer: buffer, memory: memory, size: size, base: base, used: 0))
        bytesAllocated += Int(requirements.size)
    }

    private func describe(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes >> 10) KiB"
    }
}
