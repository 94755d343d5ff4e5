// Every message of Protos/infinity/v1 survives encode -> decode with all its fields set to
// distinct non-default values, and with its fields absent.
import ClusterWire
import RPC
import Testing

/// One message type's round trip, as a parameter of the tests below.
struct MessageCase: Sendable, CustomTestStringConvertible {
    let name: String
    /// Encodes the message and decodes the bytes: the decoded message and the byte count.
    let roundTrip: @Sendable () throws(RPCError) -> (equal: Bool, byteCount: Int)

    init<Message: RPCMessage & Equatable>(_ message: Message) {
        name = String(describing: Message.self)
        roundTrip = { () throws(RPCError) in
            let bytes = message.serializedBytes()
            return (try Message(serializedBytes: bytes) == message, bytes.count)
        }
    }

    var testDescription: String { name }
}

/// Every message, every field set (both oneof messages once per case).
let fullMessages: [MessageCase] = [
        MessageCase(WireTensor(
            dtype: .float16,
            shape: [-2_000_000_007, -3_000_000_007, -4_000_000_007],
            data: [5, 0, 255, 6])),
        MessageCase(TensorChunk(
            dtype: .bfloat16,
            shape: [-7_000_000_007, -8_000_000_007, -9_000_000_007],
            totalBytes: 10 << 40,
            offset: 11 << 40,
            data: [12, 0, 255, 13])),
        MessageCase(VideoInfinityParameters(
            localFrames: -13,
            globalFrames: 14,
            phaseTimestep: -15,
            localBias: 16.5,
            globalBias: 17.5,
            tokenCountScale: true,
            referencePadding: true,
            referenceGlobalSampling: true,
            syncGroupNorm: true)),
        MessageCase(PromptEmbeddings(
            prompts: WireTensor(
                dtype: .float64,
                shape: [-24_000_000_007, -25_000_000_007, -26_000_000_007],
                data: [27, 0, 255, 28]),
            negative: WireTensor(
                dtype: .float16,
                shape: [-30_000_000_007, -31_000_000_007, -32_000_000_007],
                data: [33, 0, 255, 34]))),
        MessageCase(JobParameters(
            model: "model-34",
            embeddings: PromptEmbeddings(
                prompts: WireTensor(
                    dtype: .float16,
                    shape: [-38_000_000_007, -39_000_000_007, -40_000_000_007],
                    data: [41, 0, 255, 42]),
                negative: WireTensor(
                    dtype: .float64,
                    shape: [-44_000_000_007, -45_000_000_007, -46_000_000_007],
                    data: [47, 0, 255, 48])),
            frames: 48,
            clipFrames: -49,
            height: 50,
            width: -51,
            steps: 52,
            guidance: 53.5,
            seed: 54 << 40,
            scheduler: .dpmSolverMultistep,
            fps: 56.5,
            videoInfinity: VideoInfinityParameters(
                localFrames: 58,
                globalFrames: -59,
                phaseTimestep: 60,
                localBias: 61.5,
                globalBias: 62.5,
                tokenCountScale: true,
                referencePadding: true,
                referenceGlobalSampling: true,
                syncGroupNorm: true))),
        MessageCase(SubmitJobRequest(
            parameters: JobParameters(
                model: "model-68",
                embeddings: PromptEmbeddings(
                    prompts: WireTensor(
                        dtype: .float64,
                        shape: [-72_000_000_007, -73_000_000_007, -74_000_000_007],
                        data: [75, 0, 255, 76]),
                    negative: WireTensor(
                        dtype: .float16,
                        shape: [-78_000_000_007, -79_000_000_007, -80_000_000_007],
                        data: [81, 0, 255, 82])),
                frames: 82,
                clipFrames: -83,
                height: 84,
                width: -85,
                steps: 86,
                guidance: 87.5,
                seed: 88 << 40,
                scheduler: .dpmSolverMultistep,
                fps: 90.5,
                videoInfinity: VideoInfinityParameters(
                    localFrames: 92,
                    globalFrames: -93,
                    phaseTimestep: 94,
                    localBias: 95.5,
                    globalBias: 96.5,
                    tokenCountScale: true,
                    referencePadding: true,
                    referenceGlobalSampling: true,
                    syncGroupNorm: true)),
            label: "label-101",
            checkpointInterval: 102)),
        MessageCase(JobAccepted(
            jobID: "job-id-103",
            clipFrames: [104, -105, 106],
            queuePosition: -107)),
        MessageCase(JobPlacement(
            workerIDs: ["worker-ids-108", "worker-ids-109", "é-110-✓"],
            epoch: 111 << 40)),
        MessageCase(JobProgress(
            step: 112,
            steps: -113,
            clips: 114,
            elapsedMs: -115_000_000_007,
            exchangeFraction: -116.25)),
        MessageCase(JobRecovering(
            failedWorkerIDs: ["failed-worker-ids-117", "failed-worker-ids-118", "failed-worker-ids-119"],
            reason: "é-120-✓",
            resumeStep: -121)),
        MessageCase(JobCompleted(
            shape: [-122_000_000_007, -123_000_000_007, -124_000_000_007],
            crc32: 0xF000_007D)),
        MessageCase(JobFailed(
            code: 126,
            message: "message-127")),
        MessageCase(JobEvent.accepted(JobAccepted(
            jobID: "job-id-129",
            clipFrames: [130, -131, 132],
            queuePosition: -133))),
        MessageCase(JobEvent.placement(JobPlacement(
            workerIDs: ["é-135-✓", "worker-ids-136", "worker-ids-137"],
            epoch: 138 << 40))),
        MessageCase(JobEvent.progress(JobProgress(
            step: 140,
            steps: -141,
            clips: 142,
            elapsedMs: -143_000_000_007,
            exchangeFraction: -144.25))),
        MessageCase(JobEvent.recovering(JobRecovering(
            failedWorkerIDs: ["failed-worker-ids-146", "failed-worker-ids-147", "failed-worker-ids-148"],
            reason: "reason-149",
            resumeStep: 150))),
        MessageCase(JobEvent.resultChunk(TensorChunk(
            dtype: .float32,
            shape: [-153_000_000_007, -154_000_000_007, -155_000_000_007],
            totalBytes: 156 << 40,
            offset: 157 << 40,
            data: [158, 0, 255, 159]))),
        MessageCase(JobEvent.completed(JobCompleted(
            shape: [-160_000_000_007, -161_000_000_007, -162_000_000_007],
            crc32: 0xF000_00A3))),
        MessageCase(JobEvent.failed(JobFailed(
            code: -165,
            message: "message-166"))),
        MessageCase(CancelJobRequest(
            jobID: "job-id-167")),
        MessageCase(CancelJobResponse(
            state: .queued)),
        MessageCase(GetJobRequest(
            jobID: "job-id-169")),
        MessageCase(JobStatus(
            jobID: "é-170-✓",
            label: "label-171",
            state: .failed,
            step: -173,
            steps: 174,
            workerIDs: ["é-175-✓", "worker-ids-176", "worker-ids-177"],
            checkpointStep: 178,
            recoveries: -179,
            errorMessage: "é-180-✓",
            submittedUnixMs: -181_000_000_007,
            finishedUnixMs: -182_000_000_007,
            parameters: JobParameters(
                model: "model-184",
                embeddings: PromptEmbeddings(
                    prompts: WireTensor(
                        dtype: .float64,
                        shape: [-188_000_000_007, -189_000_000_007, -190_000_000_007],
                        data: [191, 0, 255, 192]),
                    negative: WireTensor(
                        dtype: .float16,
                        shape: [-194_000_000_007, -195_000_000_007, -196_000_000_007],
                        data: [197, 0, 255, 198])),
                frames: 198,
                clipFrames: -199,
                height: 200,
                width: -201,
                steps: 202,
                guidance: 203.5,
                seed: 204 << 40,
                scheduler: .dpmSolverMultistep,
                fps: 206.5,
                videoInfinity: VideoInfinityParameters(
                    localFrames: 208,
                    globalFrames: -209,
                    phaseTimestep: 210,
                    localBias: 211.5,
                    globalBias: 212.5,
                    tokenCountScale: true,
                    referencePadding: true,
                    referenceGlobalSampling: true,
                    syncGroupNorm: true)))),
        MessageCase(ListJobsRequest()),
        MessageCase(ListJobsResponse(
            jobs: [JobStatus(
                jobID: "job-id-218",
                label: "label-219",
                state: .failed,
                step: -221,
                steps: 222,
                workerIDs: ["worker-ids-223", "worker-ids-224", "é-225-✓"],
                checkpointStep: 226,
                recoveries: -227,
                errorMessage: "error-message-228",
                submittedUnixMs: -229_000_000_007,
                finishedUnixMs: -230_000_000_007,
                parameters: JobParameters(
                    model: "model-232",
                    embeddings: PromptEmbeddings(
                        prompts: WireTensor(
                            dtype: .float64,
                            shape: [-236_000_000_007, -237_000_000_007, -238_000_000_007],
                            data: [239, 0, 255, 240]),
                        negative: WireTensor(
                            dtype: .float16,
                            shape: [-242_000_000_007, -243_000_000_007, -244_000_000_007],
                            data: [245, 0, 255, 246])),
                    frames: 246,
                    clipFrames: -247,
                    height: 248,
                    width: -249,
                    steps: 250,
                    guidance: 251.5,
                    seed: 252 << 40,
                    scheduler: .dpmSolverMultistep,
                    fps: 254.5,
                    videoInfinity: VideoInfinityParameters(
                        localFrames: 256,
                        globalFrames: -257,
                        phaseTimestep: 258,
                        localBias: 259.5,
                        globalBias: 260.5,
                        tokenCountScale: true,
                        referencePadding: true,
                        referenceGlobalSampling: true,
                        syncGroupNorm: true))), JobStatus(
                jobID: "job-id-266",
                label: "label-267",
                state: .failed,
                step: -269,
                steps: 270,
                workerIDs: ["worker-ids-271", "worker-ids-272", "worker-ids-273"],
                checkpointStep: 274,
                recoveries: -275,
                errorMessage: "error-message-276",
                submittedUnixMs: -277_000_000_007,
                finishedUnixMs: -278_000_000_007,
                parameters: JobParameters(
                    model: "é-280-✓",
                    embeddings: PromptEmbeddings(
                        prompts: WireTensor(
                            dtype: .float64,
                            shape: [-284_000_000_007, -285_000_000_007, -286_000_000_007],
                            data: [37, 0, 255, 38]),
                        negative: WireTensor(
                            dtype: .float16,
                            shape: [-290_000_000_007, -291_000_000_007, -292_000_000_007],
                            data: [43, 0, 255, 44])),
                    frames: 294,
                    clipFrames: -295,
                    height: 296,
                    width: -297,
                    steps: 298,
                    guidance: 299.5,
                    seed: 300 << 40,
                    scheduler: .dpmSolverMultistep,
                    fps: 302.5,
                    videoInfinity: VideoInfinityParameters(
                        localFrames: 304,
                        globalFrames: -305,
                        phaseTimestep: 306,
                        localBias: 307.5,
                        globalBias: 308.5,
                        tokenCountScale: true,
                        referencePadding: true,
                        referenceGlobalSampling: true,
                        syncGroupNorm: true)))])),
        MessageCase(GetJobResultRequest(
            jobID: "job-id-313")),
        MessageCase(WorkerCapacity(
            maxClips: 314,
            memoryBytes: 315 << 40,
            backend: "backend-316",
            threads: -317,
            device: "device-318")),
        MessageCase(RegisterWorkerRequest(
            address: "address-319",
            modelName: "é-320-✓",
            modelHash: "model-hash-321",
            capacity: WorkerCapacity(
                maxClips: -323,
                memoryBytes: 324 << 40,
                backend: "é-325-✓",
                threads: 326,
                device: "device-327"),
            version: "version-328",
            previousWorkerID: "previous-worker-id-329")),
        MessageCase(RegisterWorkerResponse(
            workerID: "é-330-✓",
            heartbeatIntervalMs: -331,
            heartbeatTimeoutMs: 332)),
        MessageCase(HeartbeatRequest(
            workerID: "worker-id-333",
            activeClips: 334,
            jobIDs: ["é-335-✓", "job-ids-336", "job-ids-337"])),
        MessageCase(HeartbeatResponse(
            dropJobIDs: ["drop-job-ids-338", "drop-job-ids-339", "é-340-✓"])),
        MessageCase(WorkerInfo(
            workerID: "worker-id-341",
            address: "address-342",
            modelName: "model-name-343",
            modelHash: "model-hash-344",
            capacity: WorkerCapacity(
                maxClips: 346,
                memoryBytes: 347 << 40,
                backend: "backend-348",
                threads: -349,
                device: "é-350-✓"),
            state: .ready,
            activeClips: 352,
            lastHeartbeatUnixMs: -353_000_000_007,
            version: "version-354")),
        MessageCase(ListWorkersRequest()),
        MessageCase(ListWorkersResponse(
            workers: [WorkerInfo(
                workerID: "worker-id-356",
                address: "address-357",
                modelName: "model-name-358",
                modelHash: "model-hash-359",
                capacity: WorkerCapacity(
                    maxClips: -361,
                    memoryBytes: 362 << 40,
                    backend: "backend-363",
                    threads: 364,
                    device: "é-365-✓"),
                state: .ready,
                activeClips: -367,
                lastHeartbeatUnixMs: -368_000_000_007,
                version: "version-369"), WorkerInfo(
                workerID: "worker-id-371",
                address: "address-372",
                modelName: "model-name-373",
                modelHash: "model-hash-374",
                capacity: WorkerCapacity(
                    maxClips: 376,
                    memoryBytes: 377 << 40,
                    backend: "backend-378",
                    threads: -379,
                    device: "é-380-✓"),
                state: .ready,
                activeClips: 382,
                lastHeartbeatUnixMs: -383_000_000_007,
                version: "version-384")])),
        MessageCase(ClipRoute(
            clip: -385,
            workerID: "worker-id-386",
            address: "address-387")),
        MessageCase(AssignClipsRequest(
            jobID: "job-id-388",
            epoch: 389 << 40,
            parameters: JobParameters(
                model: "model-391",
                embeddings: PromptEmbeddings(
                    prompts: WireTensor(
                        dtype: .bfloat16,
                        shape: [-395_000_000_007, -396_000_000_007, -397_000_000_007],
                        data: [148, 0, 255, 149]),
                    negative: WireTensor(
                        dtype: .float32,
                        shape: [-401_000_000_007, -402_000_000_007, -403_000_000_007],
                        data: [154, 0, 255, 155])),
                frames: -405,
                clipFrames: 406,
                height: -407,
                width: 408,
                steps: -409,
                guidance: 410.5,
                seed: 411 << 40,
                scheduler: .ddim,
                fps: 413.5,
                videoInfinity: VideoInfinityParameters(
                    localFrames: -415,
                    globalFrames: 416,
                    phaseTimestep: -417,
                    localBias: 418.5,
                    globalBias: 419.5,
                    tokenCountScale: true,
                    referencePadding: true,
                    referenceGlobalSampling: true,
                    syncGroupNorm: true)),
            clipFrames: [424, -425, 426],
            clips: [-427, 428, -429],
            routes: [ClipRoute(
                clip: -431,
                workerID: "worker-id-432",
                address: "address-433"), ClipRoute(
                clip: -435,
                workerID: "worker-id-436",
                address: "address-437")],
            restore: true)),
        MessageCase(AssignClipsResponse(
            timesteps: [-439, 440, -441])),
        MessageCase(StepRequest(
            jobID: "job-id-442",
            epoch: 443 << 40,
            step: 444,
            timestep: -445,
            clips: [446, -447, 448])),
        MessageCase(StepResponse(
            clips: [-449, 450, -451],
            stepMicros: -452_000_000_007,
            exchangeMicros: -453_000_000_007,
            pushMicros: 453_500)),
        MessageCase(AbortJobRequest(
            jobID: "job-id-454",
            epoch: 455 << 40,
            reason: "reason-456")),
        MessageCase(AbortJobResponse()),
        MessageCase(DropJobRequest(
            jobID: "job-id-457")),
        MessageCase(DropJobResponse(
            releasedBytes: 458 << 40)),
        MessageCase(GetCheckpointRequest(
            jobID: "job-id-459",
            epoch: 460 << 40,
            clip: -461)),
        MessageCase(CheckpointHeader(
            jobID: "job-id-462",
            epoch: 463 << 40,
            clip: 464,
            completedSteps: -465,
            dtype: .bfloat16,
            shape: [-467_000_000_007, -468_000_000_007, -469_000_000_007],
            totalBytes: 470 << 40,
            crc32: 0xF000_01D7,
            schedulerState: [222, 0, 255, 223],
            generatorState: [223, 0, 255, 224])),
        MessageCase(CheckpointChunk.header(CheckpointHeader(
            jobID: "é-475-✓",
            epoch: 476 << 40,
            clip: -477,
            completedSteps: 478,
            dtype: .float64,
            shape: [-480_000_000_007, -481_000_000_007, -482_000_000_007],
            totalBytes: 483 << 40,
            crc32: 0xF000_01E4,
            schedulerState: [235, 0, 255, 236],
            generatorState: [236, 0, 255, 237]))),
        MessageCase(CheckpointChunk.data([237, 0, 255, 238])),
        MessageCase(PutCheckpointResponse(
            clip: 488,
            completedSteps: -489,
            receivedBytes: 490 << 40)),
        MessageCase(ContextKey(
            jobID: "job-id-491",
            epoch: 492 << 40,
            forward: -493_000_000_007,
            kind: .groupNorm,
            site: -495)),
        MessageCase(ContextContribution(
            key: ContextKey(
                jobID: "job-id-497",
                epoch: 498 << 40,
                forward: -499_000_000_007,
                kind: .groupNorm,
                site: -501),
            fromClip: 502,
            part: .reduce,
            tensor: WireTensor(
                dtype: .float16,
                shape: [-506_000_000_007, -507_000_000_007, -508_000_000_007],
                data: [9, 0, 255, 10]),
            values: [-510.25, -511.25, -512.25])),
        MessageCase(PushContextRequest(
            contributions: [ContextContribution(
                key: ContextKey(
                    jobID: "é-515-✓",
                    epoch: 516 << 40,
                    forward: -517_000_000_007,
                    kind: .groupNorm,
                    site: -519),
                fromClip: 520,
                part: .tail,
                tensor: WireTensor(
                    dtype: .float64,
                    shape: [-524_000_000_007, -525_000_000_007, -526_000_000_007],
                    data: [27, 0, 255, 28]),
                values: [-528.25, -529.25, -530.25]), ContextContribution(
                key: ContextKey(
                    jobID: "job-id-533",
                    epoch: 534 << 40,
                    forward: -535_000_000_007,
                    kind: .groupNorm,
                    site: -537),
                fromClip: 538,
                part: .reduce,
                tensor: WireTensor(
                    dtype: .float16,
                    shape: [-542_000_000_007, -543_000_000_007, -544_000_000_007],
                    data: [45, 0, 255, 46]),
                values: [-546.25, -547.25, -548.25])])),
        MessageCase(PushContextResponse()),
]

@Suite struct RoundTripTests {
    @Test(arguments: fullMessages)
    func everyFieldSurvives(_ message: MessageCase) throws {
        let (equal, byteCount) = try message.roundTrip()
        #expect(equal)
        let fieldless = ["ListJobsRequest", "ListWorkersRequest", "AbortJobResponse", "PushContextResponse"]
        #expect((byteCount == 0) == fieldless.contains(message.name))
    }

    @Test func everyMessageCaseIsCovered() {
        // 45 messages: 43 structs, and the oneofs JobEvent (7 cases) and CheckpointChunk (2 cases).
        #expect(fullMessages.count == 43 + 7 + 2)
        #expect(Set(fullMessages.map(\.name)).count == 45)
    }

    @Test func defaultMessagesEncodeToNothing() throws {
        let empty: [MessageCase] = [
            MessageCase(WireTensor()), MessageCase(TensorChunk()), MessageCase(VideoInfinityParameters()),
            MessageCase(PromptEmbeddings()), MessageCase(JobParameters()), MessageCase(SubmitJobRequest()),
            MessageCase(JobAccepted()), MessageCase(JobPlacement()), MessageCase(JobProgress()),
            MessageCase(JobRecovering()), MessageCase(JobCompleted()), MessageCase(JobFailed()),
            MessageCase(CancelJobRequest()), MessageCase(CancelJobResponse()), MessageCase(GetJobRequest()),
            MessageCase(JobStatus()), MessageCase(ListJobsRequest()), MessageCase(ListJobsResponse()),
            MessageCase(GetJobResultRequest()), MessageCase(WorkerCapacity()), MessageCase(RegisterWorkerRequest()),
            MessageCase(RegisterWorkerResponse()), MessageCase(HeartbeatRequest()), MessageCase(HeartbeatResponse()),
            MessageCase(WorkerInfo()), MessageCase(ListWorkersRequest()), MessageCase(ListWorkersResponse()),
            MessageCase(ClipRoute()), MessageCase(AssignClipsRequest()), MessageCase(AssignClipsResponse()),
            MessageCase(StepRequest()), MessageCase(StepResponse()), MessageCase(AbortJobRequest()),
            MessageCase(AbortJobResponse()), MessageCase(DropJobRequest()), MessageCase(DropJobResponse()),
            MessageCase(GetCheckpointRequest()), MessageCase(CheckpointHeader()), MessageCase(PutCheckpointResponse()),
            MessageCase(ContextKey()), MessageCase(ContextContribution()), MessageCase(PushContextRequest()),
            MessageCase(PushContextResponse()),
        ]
        for message in empty {
            let (equal, byteCount) = try message.roundTrip()
            #expect(equal, "\(message.name)")
            #expect(byteCount == 0, "\(message.name)")
        }
    }

    @Test func absentSubMessagesStayAbsent() throws {
        let parameters = JobParameters(model: "m", frames: 8)
        let decoded = try JobParameters(serializedBytes: parameters.serializedBytes())
        #expect(decoded.embeddings == nil)
        #expect(decoded.videoInfinity == nil)
        #expect(decoded == parameters)

        let contribution = try ContextContribution(serializedBytes: ContextContribution(fromClip: 2).serializedBytes())
        #expect(contribution.key == nil)
        #expect(contribution.tensor == nil)
    }

    @Test func emptySubMessagesStayPresent() throws {
        // VideoInfinityParameters() present means "all zero", absent means "reference defaults".
        let parameters = JobParameters(embeddings: PromptEmbeddings(), videoInfinity: VideoInfinityParameters())
        let bytes = parameters.serializedBytes()
        #expect(bytes == [0x12, 0x00, 0x62, 0x00])
        let decoded = try JobParameters(serializedBytes: bytes)
        #expect(decoded.videoInfinity == VideoInfinityParameters())
        #expect(decoded.embeddings == PromptEmbeddings())
    }

    @Test func repeatedMessagesKeepOrderAndEmptyElements() throws {
        let response = ListJobsResponse(jobs: [JobStatus(), JobStatus(jobID: "b", state: .failed), JobStatus()])
        #expect(try ListJobsResponse(serializedBytes: response.serializedBytes()) == response)
        let request = PushContextRequest(contributions: [
            ContextContribution(key: ContextKey(jobID: "j", epoch: 1, forward: 0, kind: .attention, site: 0), part: .head),
            ContextContribution(fromClip: 1, part: .tail, tensor: WireTensor()),
        ])
        #expect(try PushContextRequest(serializedBytes: request.serializedBytes()) == request)
    }

    @Test func largeBytesSurvive() throws {
        let data = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        let chunk = CheckpointChunk.data(data)
        #expect(try CheckpointChunk(serializedBytes: chunk.serializedBytes()) == chunk)
        let tensor = WireTensor(dtype: .float32, shape: [3, 1 << 18], data: data)
        #expect(try WireTensor(serializedBytes: tensor.serializedBytes()) == tensor)
    }
}
