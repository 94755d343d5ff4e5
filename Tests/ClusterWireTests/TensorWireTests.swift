// HostTensor <-> WireTensor and TensorChunk streams.
import Checksums
import ClusterWire
import Parallel
import RPC
import Testing

/// Bit patterns, so NaN and -0 compare exactly.
func bits(_ tensor: HostTensor) -> [UInt32] { tensor.values.map(\.bitPattern) }

/// Deterministic floats with awkward values mixed in.
func sampleTensor(shape: [Int]) -> HostTensor {
    let count = shape.reduce(1, *)
    let special: [Float] = [-0.0, .infinity, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, .nan]
    let values = (0..<count).map { index in
        index % 97 < special.count ? special[index % 97] : Float(index % 1013) * 0.37 - 100
    }
    return HostTensor(shape: shape, values: values)
}

@Suite struct WireTensorTests {
    @Test func hostTensorIsLittleEndianFloat32() {
        let wire = WireTensor(HostTensor(shape: [2], values: [1.0, -2.0]))
        #expect(wire.dtype == .float32)
        #expect(wire.shape == [2])
        #expect(wire.data == [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
    }

    @Test func hostTensorRoundTripsBitIdentically() throws {
        let host = sampleTensor(shape: [2, 3, 5, 7])
        let wire = try WireTensor(serializedBytes: WireTensor(host).serializedBytes())
        let back = try wire.hostTensor(field: "tensor")
        #expect(back.shape == host.shape)
        #expect(bits(back) == bits(host))
        #expect(try WireTensor(HostTensor(shape: [0, 4], values: [])).hostTensor(field: "t").shape == [0, 4])
        #expect(try WireTensor(HostTensor(shape: [], values: [5])).hostTensor(field: "t").values == [5])
    }

    @Test func hostTensorRejectsBadTensors() {
        #expect(throws: RPCError(code: .invalidArgument, message: "key.tensor: dtype float64 is not float32")) {
            try WireTensor(dtype: .float64, shape: [1], data: [UInt8](repeating: 0, count: 8)).hostTensor(field: "key.tensor")
        }
        #expect(throws: RPCError(code: .invalidArgument, message: "prompts: dtype unspecified is not float32")) {
            try WireTensor(shape: [1], data: [0, 0, 0, 0]).hostTensor(field: "prompts")
        }
        #expect(throws: RPCError(code: .invalidArgument, message: "prompts: shape [2, -1] has negative extent -1 on axis 1")) {
            try WireTensor(dtype: .float32, shape: [2, -1], data: []).hostTensor(field: "prompts")
        }
        #expect(throws: RPCError(code: .invalidArgument, message: "negative: 12 bytes of data, shape [2, 2] needs 16")) {
            try WireTensor(dtype: .float32, shape: [2, 2], data: [UInt8](repeating: 0, count: 12)).hostTensor(field: "negative")
        }
        #expect(throws: RPCError(code: .invalidArgument, message: "t: shape [4294967296, 4294967296] has too many elements")) {
            try WireTensor(dtype: .float32, shape: [1 << 32, 1 << 32], data: []).hostTensor(field: "t")
        }
    }
}


@Suite struct TensorChunkingTests {
    @Test func twoAndAHalfMiBIsThreeChunksAndReassembles() throws {
        // 655,360 floats = 2.5 MiB.
        let tensor = sampleTensor(shape: [4, 5, 128, 256])
        let chunks = TensorChunking.chunks(of: tensor)
        #expect(chunks.count == 3)
        #expect(chunks.map(\.offset) == [0, 1 << 20, 2 << 20])
        #expect(chunks.map(\.data.count) == [1 << 20, 1 << 20, 1 << 19])
        #expect(chunks[0].dtype == .float32)
        #expect(chunks[0].shape == [4, 5, 128, 256])
        #expect(chunks[0].totalBytes == 5 << 19)
        for later in chunks.dropFirst() {
            #expect(later.dtype == .unspecified && later.shape.isEmpty && later.totalBytes == 0)
        }
        var assembler = TensorAssembler()
        for chunk in chunks {
            #expect(!assembler.isComplete)
            try assembler.add(TensorChunk(serializedBytes: chunk.serializedBytes()))
        }
        #expect(assembler.isComplete)
        let back = try assembler.finish()
        #expect(back.shape == tensor.shape)
        #expect(bits(back) == bits(tensor))
        let crc = tensor.values.withUnsafeBytes { CRC32.checksum($0) }
        #expect(chunks.dropFirst().reduce(CRC32.checksum(chunks[0].data)) { crc, chunk in
            chunk.data.withUnsafeBytes { CRC32.checksum($0, continuing: crc) }
        } == crc)
    }

    @Test func exactMultipleAndEmptyTensors() throws {
        let exact = sampleTensor(shape: [2, 1 << 18])
        #expect(TensorChunking.chunks(of: exact).map(\.data.count) == [1 << 20, 1 << 20])

        let empty = HostTensor(shape: [3, 0], values: [])
        let chunks = TensorChunking.chunks(of: empty)
        #expect(chunks == [TensorChunk(dtype: .float32, shape: [3, 0])])
        var assembler = TensorAssembler()
        try assembler.add(chunks[0])
        #expect(try assembler.finish() == empty)
    }

    /// A 16-float tensor cut into 4 chunks of 16 bytes.
    static func smallChunks() -> [TensorChunk] {
        let bytes = WireTensor(sampleTensor(shape: [4, 4])).data
        return (0..<4).map { index in
            var chunk = TensorChunk(offset: UInt64(index * 16), data: Array(bytes[(index * 16)..<(index * 16 + 16)]))
            if index == 0 {
                chunk.dtype = .float32
                chunk.shape = [4, 4]
                chunk.totalBytes = 64
            }
            return chunk
        }
    }

    static func expectFailure(_ chunks: [TensorChunk], _ message: String, finish: Bool = false,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: RPCError(code: .invalidArgument, message: message), sourceLocation: sourceLocation) {
            var assembler = TensorAssembler(name: "result")
            for chunk in chunks { try assembler.add(chunk) }
            if finish { _ = try assembler.finish() }
        }
    }

    @Test func assemblerRejectsBrokenStreams() {
        let chunks = Self.smallChunks()
        Self.expectFailure([chunks[0], chunks[2]], "result: gap: chunk at offset 32, but only 16 bytes received")
        Self.expectFailure([chunks[0], chunks[1], chunks[1]], "result: overlap: chunk at offset 16 repeats bytes already received (32)")
        var long = chunks[3]
        long.data += [1, 2, 3, 4]
        Self.expectFailure([chunks[0], chunks[1], chunks[2], long],
                           "result: overflow: chunk at offset 48 with 20 bytes ends past total_bytes 64")
        var wrongTotal = chunks[0]
        wrongTotal.totalBytes = 60
        Self.expectFailure([wrongTotal], "result: total_bytes 60 does not match shape [4, 4] (16 float32 elements, 64 bytes)")
        var huge = chunks[0]
        huge.shape = [1 << 32, 2]
        huge.totalBytes = 32 << 30
        Self.expectFailure([huge], "result: total_bytes 34359738368 exceeds the limit of 17179869184")
        var negative = chunks[0]
        negative.shape = [-4, -4]
        Self.expectFailure([negative], "result: shape [-4, -4] has negative extent -4 on axis 0")
        var float16 = chunks[0]
        float16.dtype = .float16
        Self.expectFailure([float16], "result: dtype float16 is not float32")
        Self.expectFailure([chunks[1]], "result: missing header: the first chunk has offset 16, not 0")
        Self.expectFailure([TensorChunk(data: chunks[0].data)], "result: missing header: the first chunk has no dtype")
        Self.expectFailure([chunks[0], chunks[1], chunks[2]], "result: incomplete: 48 of 64 bytes received", finish: true)
        Self.expectFailure([], "result: incomplete: no chunk received", finish: true)
    }

    @Test func assemblerAcceptsUnevenChunks() throws {
        let tensor = sampleTensor(shape: [4, 4])
        let bytes = WireTensor(tensor).data
        var assembler = TensorAssembler()
        try assembler.add(TensorChunk(dtype: .float32, shape: [4, 4], totalBytes: 64, offset: 0, data: Array(bytes[..<3])))
        try assembler.add(TensorChunk(offset: 3, data: []))
        try assembler.add(TensorChunk(offset: 3, data: Array(bytes[3..<61])))
        try assembler.add(TensorChunk(offset: 61, data: Array(bytes[61...])))
        #expect(assembler.receivedBytes == 64)
        #expect(bits(try assembler.finish()) == bits(tensor))
    }
}
