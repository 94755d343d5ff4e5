import Tensor

/// Host memory for one tensor, 64-byte aligned, owned by this object.
///
/// `@unchecked Sendable`: the buffer is written only by the op that allocates it, before the
/// storage is wrapped in a ``Tensor`` and shared; afterwards it is read-only.
final class CPUStorage: TensorStorage, @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let elementCount: Int

    /// Allocates uninitialised memory for `count` floats.
    init(count: Int) {
        elementCount = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride,
                                                   alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit {
        UnsafeMutableRawPointer(pointer).deallocate()
    }

    var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: elementCount)
    }
}

extension Tensor {
    /// The host elements of a CPU-backend tensor (read-only by convention).
    var cpu: UnsafeMutablePointer<Float> {
        guard let storage = storage as? CPUStorage else {
            preconditionFailure("tensor of shape \(shape) does not live on the CPU backend")
        }
        return storage.pointer
    }
}
