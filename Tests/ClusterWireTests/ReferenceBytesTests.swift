// ClusterWire's encodings byte for byte against Google's Python protobuf, the reference
// implementation. The expected bytes come from make_reference_bytes.py (its docstring has the
// command); the Swift values here mirror the Python ones.
import ClusterWire
import RPC
import Testing

@Suite struct ReferenceBytesTests {
    static func float32Bytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
    }

    static let jobParameters = JobParameters(
        model: "zeroscope",
        embeddings: PromptEmbeddings(
            prompts: WireTensor(dtype: .float32, shape: [1, 2, 2], data: float32Bytes([1.5, -2.0, 0.25, 3.0])),
            negative: WireTensor(dtype: .float32, shape: [2, 1], data: float32Bytes([-0.5, 8.0]))),
        frames: 48, clipFrames: 16, height: 40, width: 64, steps: 30, guidance: 9.5,
        seed: 0xFEDC_BA98_7654_3210, scheduler: .dpmSolverMultistep, fps: 8.0,
        videoInfinity: VideoInfinityParameters(
            localFrames: 8, globalFrames: 16, phaseTimestep: 800, localBias: 10.0, globalBias: -10.0,
            tokenCountScale: true, referencePadding: false, referenceGlobalSampling: true, syncGroupNorm: true))

    /// (name, message, hex printed by make_reference_bytes.py)
    static let cases: [(String, MessageBytes)] = [
        ("JobParameters", MessageBytes(jobParameters, hex: """
            0a097a65726f73636f7065122d0a19080112030102021a100000c03f000000c00000803e0000404012100801120202011a0800\
            0000bf000000411830201028283040381e45000018414890e4d0b287d3aeeefe0150025d0000004162170808101018a0062500\
            0020412d000020c1300140014801
            """)),
        ("SubmitJobRequest", MessageBytes(SubmitJobRequest(parameters: jobParameters, label: "nightly", checkpointInterval: 5), hex: """
            0a740a097a65726f73636f7065122d0a19080112030102021a100000c03f000000c00000803e0000404012100801120202011a\
            08000000bf000000411830201028283040381e45000018414890e4d0b287d3aeeefe0150025d0000004162170808101018a006\
            25000020412d000020c130014001480112076e696768746c791805
            """)),
        ("JobEvent.placement", MessageBytes(JobEvent.placement(JobPlacement(workerIDs: ["w-1", "w-2", "w-1"], epoch: 3)),
                                            hex: "12110a03772d310a03772d320a03772d311003")),
        ("JobEvent.progress", MessageBytes(JobEvent.progress(JobProgress(step: 7, steps: 30, clips: 3, elapsedMs: 123_456,
                                                                         exchangeFraction: 0.125)),
                                           hex: "1a130807101e180320c0c40729000000000000c03f")),
        ("StepResponse", MessageBytes(StepResponse(clips: [0, -1, 300], stepMicros: -5, exchangeMicros: 1 << 40),
                                      hex: "0a0d00ffffffffffffffffff01ac0210fbffffffffffffffff0118808080808020")),
        ("ContextContribution", MessageBytes(ContextContribution(
            key: ContextKey(jobID: "job-9", epoch: 2, forward: -3, kind: .groupNorm, site: 11),
            fromClip: 4, part: .reduce, tensor: WireTensor(dtype: .float64, shape: [0], data: []),
            values: [1.0, -2.5, 1e-300]), hex: """
            0a180a056a6f622d39100218fdffffffffffffffff012003280b10041804220508041201002a18000000000000f03f000000000000\
            04c059f3f8c21f6ea501
            """)),
        ("CheckpointChunk.data", MessageBytes(CheckpointChunk.data([0, 1, 2, 254, 255]), hex: "1205000102feff")),
        ("WorkerInfo", MessageBytes(WorkerInfo(
            workerID: "w-7", address: "10.0.0.7:7070", modelName: "zeroscope",
            modelHash: String(repeating: "ab", count: 32),
            capacity: WorkerCapacity(maxClips: 4, memoryBytes: 64 << 30, backend: "cpu", threads: 16, device: "EPYC"),
            state: .draining, activeClips: 2, lastHeartbeatUnixMs: 1_700_000_000_123, version: "0.4.0"), hex: """
            0a03772d37120d31302e302e302e373a373037301a097a65726f73636f7065224061626162616261626162616261626162616261\
            6261626162616261626162616261626162616261626162616261626162616261626162616261626162616261622a160804108080\
            808080021a0363707520102a04455059433003380240fbd095ffbc314a05302e342e30
            """)),
    ]

    @Test(arguments: cases.map(\.0))
    func encodesLikeTheReference(_ name: String) throws {
        let message = try #require(Self.cases.first { $0.0 == name }?.1)
        #expect(message.encoded() == message.expected)
        #expect(try message.decodesBack())
    }
}

/// A message and the bytes the reference implementation gives it.
struct MessageBytes: Sendable {
    let expected: [UInt8]
    let encoded: @Sendable () -> [UInt8]
    /// Decoding the reference bytes gives the message back.
    let decodesBack: @Sendable () throws -> Bool

    init<Message: RPCMessage & Equatable>(_ message: Message, hex: String) {
        let expected = stride(from: 0, to: hex.count, by: 2).map { offset in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }
        self.expected = expected
        encoded = { message.serializedBytes() }
        decodesBack = { try Message(serializedBytes: expected) == message }
    }
}
