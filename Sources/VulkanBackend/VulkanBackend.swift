import Tensor

/// The GPU backend: the denoiser's ops as Vulkan compute shaders, on any vendor's device.
///
/// Tensors live in device memory suballocated from large blocks (``BufferPool``). Ops only
/// record commands; the recording is submitted when a result must reach the host
/// (``download(_:)``, ``groupSums(_:groups:)``) or grows large, so a forward pass is one
/// submission. Kernels come from `Shaders/*.comp`, compiled to SPIR-V (`Shaders/spirv`) and
/// loaded at run time. Computation is f32, except that on devices with cooperative matrices the
/// GEMM-shaped ops multiply f16-rounded operands with f32 accumulation (``CooperativeMatrixUse``).
///
/// Thread-safe: ops may be called from several threads (clips running side by side); they
/// are recorded in the order their calls take the backend's lock.
public final class VulkanBackend: Sendable {
    let context: VulkanContext

    /// The device this backend runs on.
    public let device: VulkanDeviceInfo

    /// How ``uploadOperatorWeight(_:shape:)`` stores weights: `.f32`, or `.f16` (half the
    /// memory and bandwidth; the kernels convert on load and compute in f32).
    public let weightType: DType

    /// Whether linear, linear + GEGLU, conv2d and temporal conv run on cooperative matrices
    /// (f16 operands, f32 accumulation; see ``CooperativeMatrixUse``). Attention stays on the f32
    /// kernel, which measured faster.
    public var cooperativeMatrix: Bool { context.device.cooperativeMatrix != nil }

    /// Whether attention runs on the cooperative matrices where they allow (see the internal initializer).
    let attentionOnMatrices: Bool

    /// A backend on device `index` of ``devices()``, or the preferred device (the first
    /// discrete GPU, then integrated, virtual, CPU) when `index` is nil. `shaderDirectory`
    /// overrides where the SPIR-V is looked for (see ``ShaderLibrary/locate(_:)``).
    ///
    /// Throws when there is no Vulkan driver or device, `index` is out of range, the shaders
    /// cannot be found, or `cooperativeMatrix` is `.on` and the device cannot run the
    /// cooperative-matrix GEMM. `weightType` is `.f32` or `.f16` (see ``weightType``).
    public convenience init(device index: Int? = nil, shaderDirectory: String? = nil, weightType: DType = .f32,
                            cooperativeMatrix: CooperativeMatrixUse = .auto) throws {
        try self.init(device: index, shaderDirectory: shaderDirectory, weightType: weightType,
                      cooperativeMatrix: cooperativeMatrix, attentionOnMatrices: false)
    }

    /// As the public initializer; `attentionOnMatrices` also runs attention on the cooperative
    /// matrices (`attention_coopmat.comp`) where they allow. Off in the product: on an H200 that
    /// kernel took 2.2 times as long as `attention.comp` (0.28 s against 0.13 s per
    /// VideoCrafter2-sized forward); the tests keep it correct.
    init(device index: Int?, shaderDirectory: String?, weightType: DType, cooperativeMatrix: CooperativeMatrixUse,
         attentionOnMatrices: Bool) throws {
        guard weightType == .f32 || weightType == .f16 else {
            throw TensorError("vulkan: weights can be stored as f32 or f16, not \(weightType.rawValue)")
        }
        self.weightType = weightType
        let instance = try VulkanInstance()
        let device = try VulkanDevice(instance: instance, index: index, cooperativeMatrix: cooperativeMatrix)
        context = try VulkanContext(device: device, shaderDirectory: shaderDirectory)
        self.device = device.info
        self.attentionOnMatrices = attentionOnMatrices
    }

    /// The Vulkan devices this machine has, in the order `--device N` counts them.
    public static func devices() throws -> [VulkanDeviceInfo] {
        try VulkanInstance().deviceInfos()
    }

    /// Bytes of device memory held by live tensors, and reserved from the driver.
    public var memoryUse: (inUse: Int, reserved: Int) {
        let use = context.memoryUse
        return (use.inUse, use.allocated)
    }

    /// Waits until every recorded op has run (for timing).
    public func synchronize() throws {
        try context.synchronize()
    }

    // MARK: Helpers for the ops

    /// A new device tensor of `shape` (contents undefined until an op writes it).
    func makeTensor(_ shape: [Int], dtype: DType = .f32) throws -> Tensor {
        Tensor(shape: shape, dtype: dtype, storage: try context.allocate(count: shape.reduce(1, *), dtype: dtype))
    }

    private func storage(of tensor: Tensor) -> VulkanStorage {
        guard let storage = tensor.storage as? VulkanStorage, storage.context === context else {
            preconditionFailure("tensor of shape \(tensor.shape) does not live on this Vulkan backend")
        }
        return storage
    }

    /// The binding of `tensor`, an f32 tensor of this backend.
    func bound(_ tensor: Tensor) -> BoundBuffer {
        let storage = storage(of: tensor)
        precondition(storage.dtype == .f32, "an f16 operator weight \(tensor.shape) reached an op other than linear or a convolution")
        return BoundBuffer(block: storage.block, byteCount: storage.byteCount)
    }

    /// The binding of an operator weight and the GEMM kernels' `WEIGHT_F16` specialization constant.
    func boundWeight(_ tensor: Tensor) -> (buffer: BoundBuffer, constants: [UInt32: UInt32]) {
        let storage = storage(of: tensor)
        return (BoundBuffer(block: storage.block, byteCount: storage.byteCount), [2: storage.dtype == .f16 ? 1 : 0])
    }

    /// The binding of an optional input: the placeholder when absent.
    func bound(_ tensor: Tensor?) -> BoundBuffer {
        tensor.map { bound($0) } ?? BoundBuffer(block: context.placeholderBlock, byteCount: 16)
    }

    /// Workgroups of a grid-stride kernel over `count` elements (Shaders/README.md).
    static func gridStrideGroups(_ count: Int) -> (x: Int, y: Int, z: Int) {
        (min((count + 255) / 256, 65535), 1, 1)
    }

    /// Workgroups of a per-row kernel over `rows` rows.
    static func perRowGroups(_ rows: Int) -> (x: Int, y: Int, z: Int) {
        (min(rows, 65535), 1, 1)
    }

    /// Workgroups of a 64 x 64 tiled kernel.
    static func tiledGroups(rows: Int, columns: Int) -> (x: Int, y: Int, z: Int) {
        ((columns + 63) / 64, (rows + 63) / 64, 1)
    }

    static func bits(_ value: Float) -> UInt32 { value.bitPattern }
}

extension VulkanBackend: Backend {
    public var name: String { "vulkan: \(device.name)" + (cooperativeMatrix ? " (cooperative matrices)" : "") }

    public func upload(_ values: [Float], shape: [Int]) throws -> Tensor {
        precondition(values.count == shape.reduce(1, *), "upload: \(values.count) values for shape \(shape)")
        let tensor = try makeTensor(shape)
        try values.withUnsafeBytes { try context.upload($0, into: bound(tensor).block) }
        return tensor
    }

    public func uploadOperatorWeight(_ values: [Float], shape: [Int]) throws -> Tensor {
        guard weightType == .f16 else { return try upload(values, shape: shape) }
        precondition(values.count == shape.reduce(1, *), "upload: \(values.count) values for shape \(shape)")
        let tensor = try makeTensor(shape, dtype: .f16)
        let halves = values.map { Float16($0).bitPattern }
        try halves.withUnsafeBytes { try context.upload($0, into: boundWeight(tensor).buffer.block) }
        return tensor
    }

    public func download(_ tensor: Tensor) throws -> [Float] {
        let storage = storage(of: tensor)
        var values = [Float](repeating: 0, count: tensor.count)
        try context.download(storage.block, byteCount: tensor.count * storage.dtype.byteSize) { bytes in
            guard !values.isEmpty else { return }
            switch storage.dtype {
            case .f16:
                for index in values.indices {
                    values[index] = Float(Float16(bitPattern: bytes.load(fromByteOffset: 2 * index, as: UInt16.self)))
                }
            default:
                values.withUnsafeMutableBytes { $0.copyMemory(from: bytes) }
            }
        }
        return values
    }

    public func zeros(_ shape: [Int]) throws -> Tensor {
        let tensor = try makeTensor(shape)
        try context.fillZero(bound(tensor).block, byteCount: tensor.count * MemoryLayout<Float>.stride)
        return tensor
    }
}
