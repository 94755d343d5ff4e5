/// A safetensors file opened for reading: the header parsed and validated, the data mapped
/// into memory and read only when a tensor is asked for.
///
/// Opening a multi-gigabyte checkpoint touches only its header; ``floats(_:)`` converts one
/// tensor at a time straight from the mapped bytes. Every rule of the format is checked at
/// open time (see `SafeTensors.swift`), so any malformed file is rejected by ``init(path:)``
/// with a ``ModelError`` naming the file and the problem, and reading a tensor never goes out
/// of bounds.
///
/// ```swift
/// let weights = try SafeTensorsFile(path: "unet/diffusion_pytorch_model.safetensors")
/// let bias = try weights.floats("conv_in.bias")
/// ```
public final class SafeTensorsFile: Sendable {
    /// Where one tensor's elements lie and how to read them.
    public struct TensorInfo: Sendable, Hashable {
        /// Element type as stored.
        public let dtype: SafeTensorsDType
        /// Extent of each axis, outermost first (row-major); empty for a scalar.
        public let shape: [Int]
        /// Number of elements: the product of `shape` (1 for a scalar).
        public let elementCount: Int
        /// The tensor's bytes within the data buffer: the header's `data_offsets`.
        public let dataOffsets: Range<Int>
    }

    /// The path the file was opened from; error messages name it.
    public let path: String
    /// The header's `__metadata__` entries (empty when the file has none).
    public let metadata: [String: String]
    /// The names of all tensors, in ascending order.
    public let tensorNames: [String]

    private let tensors: [String: TensorInfo]
    private let file: MappedFile
    /// Offset of the data buffer from the start of the file.
    private let dataStart: Int

    /// Opens and validates the safetensors file at `path`.
    ///
    /// Throws a ``ModelError`` naming `path` when the file cannot be mapped or breaks any rule
    /// of the format: a length or offset past the end of the file, a header that is not a JSON
    /// object, a missing or malformed field, an unknown dtype, a byte count that does not match
    /// shape and dtype, or tensors that overlap or leave data bytes uncovered.
    public init(path: String) throws(ModelError) {
        let file = try MappedFile(path: path)
        let header = try Header(parsing: file.bytes, path: path)
        self.path = path
        self.file = file
        self.metadata = header.metadata
        self.tensors = header.tensors
        self.tensorNames = header.tensors.keys.sorted()
        self.dataStart = header.dataStart
    }

    /// The dtype, shape and byte range of tensor `name`, or nil if the file has no such tensor.
    public func info(_ name: String) -> TensorInfo? {
        tensors[name]
    }

    /// Whether the file holds a tensor called `name`.
    public func contains(_ name: String) -> Bool {
        tensors[name] != nil
    }

    /// The shape of tensor `name`, or nil if the file has no such tensor.
    public func shape(of name: String) -> [Int]? {
        tensors[name]?.shape
    }

    /// The elements of tensor `name` converted to `Float`, in row-major order.
    ///
    /// `F32`, `F16`, `BF16`, `F8_E4M3`, `F8_E5M2`, `BOOL` (0 or 1) and integers up to 24 bits
    /// convert exactly; `F64` and wider integers round to the nearest `Float` (`F64` beyond the
    /// `Float` range becomes an infinity). Throws a ``ModelError`` if there is no such tensor or
    /// its dtype cannot be converted (see ``SafeTensorsDType/convertsToFloat``).
    public func floats(_ name: String) throws(ModelError) -> [Float] {
        let info = try requireInfo(name)
        guard info.dtype.convertsToFloat else {
            throw ModelError("safetensors file '\(path)': tensor '\(name)' has dtype "
                + "\(info.dtype.rawValue), which cannot be converted to Float")
        }
        let source = bytes(of: info)
        return [Float](unsafeUninitializedCapacity: info.elementCount) { buffer, initializedCount in
            // The buffer may be larger than asked for; convert exactly the tensor's elements.
            let elements = UnsafeMutableBufferPointer(rebasing: buffer[..<info.elementCount])
            Self.convert(source, from: info.dtype, into: elements)
            initializedCount = info.elementCount
        }
    }

    /// Calls `body` with the raw little-endian bytes of tensor `name`, straight from the
    /// mapping (no copy), for uploading `F16`/`BF16` weights to a device as they are.
    ///
    /// The bytes are valid only during `body` and may be unaligned for the element type: read
    /// them with `loadUnaligned`. Throws a ``ModelError`` if there is no such tensor, or what
    /// `body` throws.
    public func withUnsafeBytes<Result>(
        of name: String, _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> Result {
        let info = try requireInfo(name)
        return try withExtendedLifetime(file) { try body(bytes(of: info)) }
    }

    // MARK: - Private

    private func requireInfo(_ name: String) throws(ModelError) -> TensorInfo {
        guard let info = tensors[name] else { throw missingTensor(name) }
        return info
    }

    /// The tensor's bytes in the mapping; in bounds because the header was validated.
    private func bytes(of info: TensorInfo) -> UnsafeRawBufferPointer {
        let start = dataStart + info.dataOffsets.lowerBound
        return UnsafeRawBufferPointer(rebasing: file.bytes[start ..< start + info.dataOffsets.count])
    }

    /// The error for a missing tensor. A checkpoint holds hundreds of tensors, so rather than
    /// listing them all it names the few that share the longest prefix with `name`, which is
    /// what a key-mapping mistake usually needs.
    private func missingTensor(_ name: String) -> ModelError {
        var message = "safetensors file '\(path)' has no tensor '\(name)' (it holds \(tensorNames.count) tensors"
        func sharedPrefixLength(_ other: String) -> Int {
            zip(name.utf8, other.utf8).prefix { $0 == $1 }.count
        }
        let best = tensorNames.map(sharedPrefixLength).max() ?? 0
        if best > 0 {
            let similar = tensorNames.filter { sharedPrefixLength($0) == best }.prefix(3)
            message += "; closest: " + similar.map { "'\($0)'" }.joined(separator: ", ")
        }
        return ModelError(message + ")")
    }

    /// Converts `destination.count` elements of `dtype` from `source` to `Float`.
    private static func convert(
        _ source: UnsafeRawBufferPointer, from dtype: SafeTensorsDType,
        into destination: UnsafeMutableBufferPointer<Float>
    ) {
        switch dtype {
        case .f32: convert(source, into: destination) { (bits: UInt32) in Float(bitPattern: bits) }
        case .f16: convert(source, into: destination) { (bits: UInt16) in FloatBits.float(fromHalf: bits) }
        case .bf16: convert(source, into: destination) { (bits: UInt16) in FloatBits.float(fromBFloat16: bits) }
        case .f64: convert(source, into: destination) { (bits: UInt64) in Float(Double(bitPattern: bits)) }
        case .f8E5M2: convert(source, into: destination) { (byte: UInt8) in FloatBits.float(fromE5M2: byte) }
        case .f8E4M3: convert(source, into: destination) { (byte: UInt8) in FloatBits.float(fromE4M3: byte) }
        case .bool: convert(source, into: destination) { (byte: UInt8) in byte == 0 ? 0 : 1 }
        case .u8: convert(source, into: destination) { (value: UInt8) in Float(value) }
        case .i8: convert(source, into: destination) { (value: Int8) in Float(value) }
        case .u16: convert(source, into: destination) { (value: UInt16) in Float(value) }
        case .i16: convert(source, into: destination) { (value: Int16) in Float(value) }
        case .u32: convert(source, into: destination) { (value: UInt32) in Float(value) }
        case .i32: convert(source, into: destination) { (value: Int32) in Float(value) }
        case .u64: convert(source, into: destination) { (value: UInt64) in Float(value) }
        case .i64: convert(source, into: destination) { (value: Int64) in Float(value) }
        case .f8E4M3FNUZ, .f8E5M2FNUZ, .f8E8M0, .f4, .f6E2M3, .f6E3M2, .c64:
            preconditionFailure("\(dtype.rawValue) is not convertible; floats(_:) checks convertsToFloat first")
        }
    }

    /// One pass over the mapped bytes: load each little-endian element (the data start need
    /// not be aligned) and store its conversion. No per-element allocation.
    @inline(__always)
    private static func convert<Element: FixedWidthInteger>(
        _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>,
        _ transform: (Element) -> Float
    ) {
        let stride = MemoryLayout<Element>.size
        for index in destination.indices {
            let stored = source.loadUnaligned(fromByteOffset: index * stride, as: Element.self)
            destination[index] = transform(Element(littleEndian: stored))
        }
    }
}

/// A safetensors file is the usual source of a model's weights.
extension SafeTensorsFile: WeightSource {}
