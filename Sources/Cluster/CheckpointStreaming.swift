import Checksums
import ClusterWire
import Model
import RPC

/// A clip checkpoint as the Worker service streams it: a header (step, shape, CRC-32, scheduler
/// and generator state), then the latents' float32 bytes in chunks of at most 1 MiB.
enum CheckpointStreaming {
    /// The messages of `checkpoint`'s stream.
    static func chunks(_ checkpoint: DenoisingCheckpoint, jobID: String, epoch: UInt64, clip: Int) -> [CheckpointChunk] {
        let bytes = checkpoint.latents.withUnsafeBytes { Array($0) }
        let header = CheckpointHeader(jobID: jobID, epoch: epoch, clip: Int32(clip), completedSteps: Int32(checkpoint.completedSteps),
                                      dtype: .float32, shape: checkpoint.shape.map { Int64($0) },
                                      totalBytes: UInt64(bytes.count), crc32: CRC32.checksum(bytes),
                                      schedulerState: checkpoint.schedulerState, generatorState: checkpoint.generatorState)
        var chunks: [CheckpointChunk] = [.header(header)]
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + TensorChunking.chunkBytes)
            chunks.append(.data(Array(bytes[offset ..< end])))
            offset = end
        }
        return chunks
    }

    /// Reassembles a stream; every inconsistency is an INVALID_ARGUMENT (or DATA_LOSS for a
    /// checksum mismatch) naming it.
    static func assemble<Chunks: AsyncSequence>(_ chunks: Chunks) async throws -> (header: CheckpointHeader, checkpoint: DenoisingCheckpoint)
        where Chunks.Element == CheckpointChunk {
        var header: CheckpointHeader?
        var bytes: [UInt8] = []
        for try await chunk in chunks {
            switch chunk {
            case .header(let value):
                guard header == nil else { throw RPCError(code: .invalidArgument, message: "checkpoint stream: a second header") }
                guard value.dtype == .float32, value.shape.count == 5, value.shape.allSatisfy({ $0 >= 1 && $0 <= 1 << 20 }) else {
                    throw RPCError(code: .invalidArgument, message: "checkpoint header: latents must be float32 [1, C, F, H, W], got \(value.dtype) \(value.shape)")
                }
                let expected = value.shape.reduce(Int64(4), *)
                guard expected == Int64(value.totalBytes), value.totalBytes <= TensorChunking.maxTotalBytes else {
                    throw RPCError(code: .invalidArgument, message: "checkpoint header: total_bytes \(value.totalBytes) does not match shape \(value.shape)")
                }
                header = value
                bytes.reserveCapacity(Int(value.totalBytes))
            case .data(let data):
                guard let header else { throw RPCError(code: .invalidArgument, message: "checkpoint stream: data before the header") }
                guard bytes.count + data.count <= Int(header.totalBytes) else {
                    throw RPCError(code: .invalidArgument, message: "checkpoint stream: more than the header's \(header.totalBytes) bytes")
                }
                bytes.append(contentsOf: data)
            }
        }
        guard let header else { throw RPCError(code: .invalidArgument, message: "checkpoint stream: no header") }
        guard bytes.count == Int(header.totalBytes) else {
            throw RPCError(code: .invalidArgument, message: "checkpoint stream: \(bytes.count) of \(header.totalBytes) bytes")
        }
        guard CRC32.checksum(bytes) == header.crc32 else {
            throw RPCError(code: .dataLoss, message: "checkpoint of clip \(header.clip): CRC-32 mismatch")
        }
        let latents = [Float](unsafeUninitializedCapacity: bytes.count / 4) { buffer, count in
            bytes.withUnsafeBytes { raw in
                _ = raw.copyBytes(to: UnsafeMutableRawBufferPointer(buffer))
            }
            count = bytes.count / 4
        }
        let checkpoint = DenoisingCheckpoint(shape: header.shape.map { Int($0) }, completedSteps: Int(header.completedSteps),
                                             latents: latents, schedulerState: header.schedulerState,
                                             generatorState: header.generatorState)
        return (header, checkpoint)
    }
}
