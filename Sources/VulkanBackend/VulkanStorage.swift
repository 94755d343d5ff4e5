import Tensor

/// A tensor's elements in device memory: a block of the backend's ``BufferPool``.
///
/// The block goes back to the pool when the last tensor using it is gone. That is safe while
/// commands reading it are still recorded or in flight: every command the backend records is
/// followed by a full barrier, so a later command that reuses the block runs after them.
final class VulkanStorage: TensorStorage, @unchecked Sendable {
    // @unchecked: `block` is immutable and `context` is itself thread-safe.
    let elementCount: Int
    /// `.f32`, or `.f16` for operator weights stored at half precision.
    let dtype: DType
    let block: BufferBlock
    let context: VulkanContext

    init(elementCount: Int, dtype: DType, block: BufferBlock, context: VulkanContext) {
        self.elementCount = elementCount
        self.dtype = dtype
        self.block = block
        self.context = context
    }

    /// Bytes of the elements, rounded up to whole 32-bit words (the block may be larger).
    var byteCount: Int { (elementCount * dtype.byteSize + 3) / 4 * 4 }

    deinit {
        context.release(block)
    }
}
