// Protos/infinity/v1/tensor.proto as Swift values: tensors and tensor chunks.
// The protobuf-c structs appear only in the internal `WireConvertible` conformances.
import RPC
internal import Wire

/// Element type. Values match the safetensors names of Tensor.DType where one exists.
///
/// `infinity.v1.DType`; a value this build does not know decodes as `unspecified`.
public enum DType: Int32, Sendable, Equatable {
    /// Not set: a receiver rejects the tensor (INVALID_ARGUMENT).
    case unspecified = 0
    /// IEEE 754 binary32 ("F32"): HostTensor's type and the default for context exchange.
    case float32 = 1
    /// IEEE 754 binary16 ("F16").
    case float16 = 2
    /// bfloat16 ("BF16").
    case bfloat16 = 3
    /// IEEE 754 binary64 ("F64"): all-reduce sums.
    case float64 = 4
}

extension DType: WireEnum {}

/// A whole tensor in one message: for payloads well under the 4 MiB default message limit
/// (context exchange, embeddings). Larger tensors travel as a stream of TensorChunk.
///
/// `infinity.v1.Tensor`.
public struct WireTensor: RPCMessage, Hashable {
    /// `dtype` (field 1).
    public var dtype: DType
    /// Extent of each axis; empty for a scalar. Every extent is >= 0.
    public var shape: [Int64]
    /// product(shape) * size(dtype) bytes; a receiver rejects any other length.
    public var data: [UInt8]

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(dtype: DType = .unspecified, shape: [Int64] = [], data: [UInt8] = []) {
        self.dtype = dtype
        self.shape = shape
        self.data = data
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension WireTensor: WireConvertible {
    static let protoName = "infinity.v1.Tensor"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__Tensor>? {
        infinity__v1__tensor__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__Tensor>) {
        infinity__v1__tensor__init(message)
    }

    init(wire: Infinity__V1__Tensor) {
        self.init(
            dtype: DType(wireValue: wire.dtype.rawValue),
            shape: WireRead.array(wire.shape, count: wire.n_shape),
            data: WireRead.bytes(wire.data))
    }

    func fill(_ wire: inout Infinity__V1__Tensor, in arena: WireArena) {
        wire.dtype = Infinity__V1__DType(rawValue: dtype.wireValue)
        (wire.n_shape, wire.shape) = arena.array(shape)
        wire.data = arena.bytes(data)
    }
}

/// One piece of a tensor streamed in order. The first chunk (offset 0) carries dtype, shape and
/// total_bytes; later chunks repeat nothing but offset and data. A receiver checks that offsets
/// are contiguous and that the chunks add up to total_bytes, and rejects the stream otherwise,
/// so a truncated stream can never be taken for a tensor.
///
/// `infinity.v1.TensorChunk`.
public struct TensorChunk: RPCMessage, Hashable {
    /// First chunk only.
    public var dtype: DType
    /// First chunk only.
    public var shape: [Int64]
    /// First chunk only: product(shape) * size(dtype).
    public var totalBytes: UInt64
    /// Byte offset of `data` within the tensor's data.
    public var offset: UInt64
    /// The bytes [offset, offset + len(data)). Senders use 1 MiB chunks: small enough to interleave
    /// with other calls on the same HTTP/2 connection, large enough that framing costs nothing.
    public var data: [UInt8]

    /// Creates the message; every field defaults to its zero value (or to absent).
    public init(dtype: DType = .unspecified,
                shape: [Int64] = [],
                totalBytes: UInt64 = 0,
                offset: UInt64 = 0,
                data: [UInt8] = []) {
        self.dtype = dtype
        self.shape = shape
        self.totalBytes = totalBytes
        self.offset = offset
        self.data = data
    }

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        self = try WireCodec.decode(bytes)
    }

    public func serializedBytes() -> [UInt8] {
        WireCodec.encode(self)
    }
}

extension TensorChunk: WireConvertible {
    static let protoName = "infinity.v1.TensorChunk"

    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<Infinity__V1__TensorChunk>? {
        infinity__v1__tensor_chunk__unpack(nil, bytes.count, bytes.baseAddress)
    }

    static func initialize(_ message: UnsafeMutablePointer<Infinity__V1__TensorChunk>) {
        infinity__v1__tensor_chunk__init(message)
    }

    init(wire: Infinity__V1__TensorChunk) {
        self.init(
            dtype: DType(wireValue: wire.dtype.rawValue),
            shape: WireRead.array(wire.shape, count: wire.n_shape),
            totalBytes: wire.total_bytes,
            offset: wire.offset,
            data: WireRead.bytes(wire.data))
    }

    func fill(_ wire: inout Infinity__V1__TensorChunk, in arena: WireArena) {
        wire.dtype = Infinity__V1__DType(rawValue: dtype.wireValue)
        (wire.n_shape, wire.shape) = arena.array(shape)
        wire.total_bytes = totalBytes
        wire.offset = offset
        wire.data = arena.bytes(data)
    }
}
