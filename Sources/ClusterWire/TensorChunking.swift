// Tensors too large for one message travel as a stream of TensorChunk (job results, through
// SubmitJob and GetJobResult). A receiver accepts a stream only if it describes one whole
// tensor: header first, contiguous offsets, exactly total_bytes, so a truncated or spliced
// stream can never be taken for a result.
import Parallel
import RPC

/// Cuts HostTensors into TensorChunks.
public enum TensorChunking {
    /// Largest `data` of one chunk: 1 MiB, small enough to interleave with other calls on one
    /// HTTP/2 connection, large enough that framing costs nothing.
    public static let chunkBytes = 1 << 20

    /// Largest tensor a ``TensorAssembler`` accepts: 16 GiB.
    public static let maxTotalBytes: UInt64 = 16 << 30

    /// `tensor`'s float32 little-endian bytes in chunks of at most ``chunkBytes``. The first chunk
    /// (offset 0) carries dtype, shape and total_bytes; an empty tensor is one chunk without data.
    public static func chunks(of tensor: HostTensor) -> [TensorChunk] {
        tensor.values.withUnsafeBytes { raw in
            var chunks: [TensorChunk] = []
            chunks.reserveCapacity(max(1, (raw.count + chunkBytes - 1) / chunkBytes))
            var offset = 0
            repeat {
                let end = min(offset + chunkBytes, raw.count)
                var chunk = TensorChunk(offset: UInt64(offset), data: copyBytes(UnsafeRawBufferPointer(rebasing: raw[offset..<end])))
                if offset == 0 {
                    chunk.dtype = .float32
                    chunk.shape = tensor.shape.map { Int64($0) }
                    chunk.totalBytes = UInt64(raw.count)
                }
                chunks.append(chunk)
                offset = end
            } while offset < raw.count
            return chunks
        }
    }

    /// A copy of `bytes` in one memcpy.
    static func copyBytes(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, count in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes)
            count = bytes.count
        }
    }
}

/// Rebuilds a HostTensor from the TensorChunks of one stream, checking the stream as it goes.
///
/// Every problem throws `invalidArgument` naming it: a first chunk without header (dtype
/// unspecified, or offset not 0), a dtype other than float32, a shape with negative extents,
/// total_bytes not product(shape) * 4 or above ``TensorChunking/maxTotalBytes``, a gap or an
/// overlap between chunks, data past total_bytes, and (in ``finish()``) a stream that stopped short.
public struct TensorAssembler: Sendable {
    /// Names the stream in errors.
    public let name: String
    private var shape: [Int]?
    private var totalBytes = 0
    private var bytes: [UInt8] = []

    /// An assembler expecting a stream's first chunk; errors start with `name`.
    public init(name: String = "tensor stream") {
        self.name = name
    }

    /// Bytes received so far.
    public var receivedBytes: Int { bytes.count }

    /// Whether the header and all of total_bytes have arrived.
    public var isComplete: Bool { shape != nil && bytes.count == totalBytes }

    /// Takes the next chunk of the stream.
    public mutating func add(_ chunk: TensorChunk) throws(RPCError) {
        if shape == nil {
            try takeHeader(chunk)
        } else if chunk.offset != UInt64(bytes.count) {
            throw chunk.offset > UInt64(bytes.count)
                ? failure("gap: chunk at offset \(chunk.offset), but only \(bytes.count) bytes received")
                : failure("overlap: chunk at offset \(chunk.offset) repeats bytes already received (\(bytes.count))")
        }
        guard chunk.data.count <= totalBytes - bytes.count else {
            throw failure("overflow: chunk at offset \(chunk.offset) with \(chunk.data.count) bytes ends past total_bytes \(totalBytes)")
        }
        bytes.append(contentsOf: chunk.data)
    }

    /// The assembled tensor; throws unless the stream delivered all of total_bytes.
    public func finish() throws(RPCError) -> HostTensor {
        guard let shape else {
            throw failure("incomplete: no chunk received")
        }
        guard bytes.count == totalBytes else {
            throw failure("incomplete: \(bytes.count) of \(totalBytes) bytes received")
        }
        return HostTensor(shape: shape, values: WireTensor.floats(from: bytes))
    }

    private mutating func takeHeader(_ chunk: TensorChunk) throws(RPCError) {
        guard chunk.offset == 0 else {
            throw failure("missing header: the first chunk has offset \(chunk.offset), not 0")
        }
        guard chunk.dtype != .unspecified else {
            throw failure("missing header: the first chunk has no dtype")
        }
        guard chunk.dtype == .float32 else {
            throw failure("dtype \(chunk.dtype) is not float32")
        }
        guard chunk.totalBytes <= TensorChunking.maxTotalBytes else {
            throw failure("total_bytes \(chunk.totalBytes) exceeds the limit of \(TensorChunking.maxTotalBytes)")
        }
        let elements = try WireTensor.elementCount(of: chunk.shape, field: name)
        guard UInt64(elements) * UInt64(MemoryLayout<Float>.size) == chunk.totalBytes else {
            throw failure("total_bytes \(chunk.totalBytes) does not match shape \(chunk.shape) "
                          + "(\(elements) float32 elements, \(elements * MemoryLayout<Float>.size) bytes)")
        }
        shape = chunk.shape.map { Int($0) }
        totalBytes = Int(chunk.totalBytes)
        // The header comes from a peer: grow past 1 GiB only as data actually arrives.
        bytes.reserveCapacity(min(totalBytes, 1 << 30))
    }

    private func failure(_ problem: String) -> RPCError {
        RPCError(code: .invalidArgument, message: "\(name): \(problem)")
    }
}
