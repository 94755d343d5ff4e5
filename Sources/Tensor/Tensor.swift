/// Backend-owned memory holding a tensor's elements.
///
/// Each backend has its own storage class (host memory for the CPU backend, a device buffer
/// for Vulkan). Storage is immutable once an op has produced it; ops always allocate their
/// outputs, so sharing storage between tensors (for example through `reshaped`) is safe.
public protocol TensorStorage: AnyObject, Sendable {
    /// Number of elements the storage holds.
    var elementCount: Int { get }
}

/// A dense, contiguous, row-major tensor living in a backend's storage.
///
/// A `Tensor` is a value: a shape plus a reference to immutable storage. Ops are dispatched
/// through a ``Backend``; the tensor itself never touches its elements.
public struct Tensor: Sendable {
    /// Extent of each axis, outermost first.
    public let shape: [Int]
    /// Element type of the storage.
    public let dtype: DType
    /// The memory, owned by the backend that made it.
    public let storage: any TensorStorage

    /// Wraps `storage` as a tensor of `shape`. The storage must hold exactly `shape`'s element count.
    public init(shape: [Int], dtype: DType = .f32, storage: any TensorStorage) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        precondition(storage.elementCount == shape.reduce(1, *),
                     "storage holds \(storage.elementCount) elements, shape \(shape) needs \(shape.reduce(1, *))")
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
    }

    /// Number of axes.
    public var rank: Int { shape.count }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// The same elements viewed with another shape of the same element count.
    /// One extent may be `-1`, inferred from the others.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: Shape.resolve(newShape, count: count), dtype: dtype, storage: storage)
    }
}

/// Shape arithmetic shared by backends and models.
public enum Shape {
    /// Resolves a single `-1` extent in `shape` so that the element count is `count`.
    public static func resolve(_ shape: [Int], count: Int) -> [Int] {
        let inferred = shape.indices.filter { shape[$0] == -1 }
        precondition(inferred.count <= 1, "more than one -1 in shape \(shape)")
        var result = shape
        if let axis = inferred.first {
            let known = shape.enumerated().filter { $0.offset != axis }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(count) elements to \(shape)")
            result[axis] = count / known
        }
        precondition(result.reduce(1, *) == count, "cannot reshape \(count) elements to \(shape)")
        return result
    }

    /// Row-major strides of `shape`, in elements.
    public static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in shape.indices.reversed() {
            strides[axis] = running
            running *= shape[axis]
        }
        return strides
    }
}
