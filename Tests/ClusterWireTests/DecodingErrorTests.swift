// What a receiver gets for bytes that are not a valid message.
import ClusterWire
import RPC
import Testing

@Suite struct DecodingErrorTests {
    @Test func garbageIsInvalidArgumentNamingTheMessage() {
        // Field 1 as a length-delimited value running past the end.
        let garbage: [UInt8] = [0x0A, 0xFF, 0xFF, 0x01, 0x00]
        #expect(throws: RPCError(code: .invalidArgument, message: "cannot decode 5 bytes as infinity.v1.JobParameters")) {
            try JobParameters(serializedBytes: garbage)
        }
        #expect(throws: RPCError(code: .invalidArgument, message: "cannot decode 5 bytes as infinity.v1.JobEvent")) {
            try JobEvent(serializedBytes: garbage)
        }
        #expect(throws: RPCError(code: .invalidArgument, message: "cannot decode 5 bytes as infinity.v1.Tensor")) {
            try WireTensor(serializedBytes: garbage)
        }
        // Wire type 7 does not exist.
        #expect(throws: RPCError(code: .invalidArgument, message: "cannot decode 2 bytes as infinity.v1.StepRequest")) {
            try StepRequest(serializedBytes: [0x0F, 0x00])
        }
    }

    @Test func truncatedMessagesFail() {
        let bytes = AssignClipsRequest(jobID: "job", epoch: 2, parameters: JobParameters(model: "m"),
                                       routes: [ClipRoute(clip: 0, workerID: "w", address: "a:1")]).serializedBytes()
        for length in [1, bytes.count / 2, bytes.count - 1] {
            #expect(throws: RPCError.self) { try AssignClipsRequest(serializedBytes: Array(bytes.prefix(length))) }
        }
    }

    @Test func unknownEnumValuesReadAsUnspecified() throws {
        // CancelJobResponse.state = 99, WorkerInfo.state = -1, ContextContribution.part = 7.
        #expect(try CancelJobResponse(serializedBytes: [0x08, 99]).state == .unspecified)
        let negative: [UInt8] = [0x30] + [UInt8](repeating: 0xFF, count: 9) + [0x01]
        #expect(try WorkerInfo(serializedBytes: negative).state == .unspecified)
        #expect(try ContextContribution(serializedBytes: [0x18, 7]).part == .unspecified)
        #expect(try CancelJobResponse(serializedBytes: [0x08, 6]).state == .cancelled)
    }

    @Test func oneofWithoutCaseFails() {
        #expect(throws: RPCError(code: .invalidArgument, message: "infinity.v1.JobEvent has no event set")) {
            try JobEvent(serializedBytes: [])
        }
        #expect(throws: RPCError(code: .invalidArgument, message: "infinity.v1.CheckpointChunk has no part set")) {
            try CheckpointChunk(serializedBytes: [])
        }
    }

    @Test func unknownFieldsAreSkipped() throws {
        // Field 15 (varint 1) ahead of job_id: a newer peer's field.
        #expect(try CancelJobRequest(serializedBytes: [0x78, 0x01, 0x0A, 0x01, 0x6A]) == CancelJobRequest(jobID: "j"))
    }
}
