// HostTensor <-> WireTensor: float32 little-endian bytes, copied in bulk (tensors reach hundreds
// of MB), with every check a receiver needs before trusting a peer's shape.
import Parallel
import RPC

extension WireTensor {
    /// `host` as a float32 tensor.
    public init(_ host: HostTensor) {
        self.init(dtype: .float32, shape: host.shape.map { Int64($0) },
                  data: host.values.withUnsafeBytes { TensorChunking.copyBytes($0) })
    }

    /// The tensor as a HostTensor; throws `invalidArgument` naming `field` unless it is float32
    /// with non-negative extents and exactly product(shape) * 4 bytes of data.
    public func hostTensor(field: String) throws(RPCError) -> HostTensor {
        guard dtype == .float32 else {
            throw RPCError(code: .invalidArgument, message: "\(field): dtype \(dtype) is not float32")
        }
        let elements = try WireTensor.elementCount(of: shape, field: field)
        guard data.count == elements * MemoryLayout<Float>.size else {
            throw RPCError(code: .invalidArgument,
                           message: "\(field): \(data.count) bytes of data, shape \(shape) needs \(elements * MemoryLayout<Float>.size)")
        }
        return HostTensor(shape: shape.map { Int($0) }, values: WireTensor.floats(from: data))
    }

    /// product(shape), throwing `invalidArgument` for a negative extent or an element count
    /// whose float32 bytes would not fit in an Int.
    static func elementCount(of shape: [Int64], field: String) throws(RPCError) -> Int {
        var count = 1
        for (axis, extent) in shape.enumerated() {
            guard extent >= 0 else {
                throw RPCError(code: .invalidArgument, message: "\(field): shape \(shape) has negative extent \(extent) on axis \(axis)")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(extent))
            guard !overflow, product <= Int.max / MemoryLayout<Double>.size else {
                throw RPCError(code: .invalidArgument, message: "\(field): shape \(shape) has too many elements")
            }
            count = product
        }
        return count
    }

    /// Float32 values of little-endian `bytes` (a multiple of 4 long).
    static func floats(from bytes: [UInt8]) -> [Float] {
        let count = bytes.count / MemoryLayout<Float>.size
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: source.prefix(count * 4)))
            }
            initialized = count
        }
    }
}
