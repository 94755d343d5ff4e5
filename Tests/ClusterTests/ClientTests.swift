import Checksums
import Client
import ClusterWire
import Foundation
import Model
import Parallel
import RPC
import Synchronization
import Testing

/// The client library against a fake coordinator: an RPC server on loopback whose
/// `infinity.v1.Coordinator` service plays scripted events, so every update, check and error
/// of the client is pinned down without workers.
@Suite(.timeLimit(.minutes(1)))
struct ClientTests {
    // MARK: SubmitJob

    @Test func submitYieldsTheScriptedUpdatesAndAssemblesTheResultBitExactly() async throws {
        let request = try Self.request()
        let latents = Self.latents(for: request)
        let script: [JobEvent] = [
            .accepted(JobAccepted(jobID: "j1", clipFrames: [5, 4], queuePosition: 3)),
            .placement(JobPlacement(workerIDs: ["w1", "w2"], epoch: 1)),
            .progress(JobProgress(step: 1, steps: 4, clips: 2, elapsedMs: 120, exchangeFraction: 0.25)),
            .progress(JobProgress(step: 2, steps: 4, clips: 2, elapsedMs: 250, exchangeFraction: 0.5)),
            .recovering(JobRecovering(failedWorkerIDs: ["w2"], reason: "heartbeat timeout after 3000 ms", resumeStep: 2)),
            .placement(JobPlacement(workerIDs: ["w1", "w3"], epoch: 2)),
            .progress(JobProgress(step: 3, steps: 4, clips: 2, elapsedMs: 4000, exchangeFraction: 0.125)),
            .progress(JobProgress(step: 4, steps: 4, clips: 2, elapsedMs: 4100, exchangeFraction: 0)),
        ] + Self.chunks(of: latents, pieceBytes: 100).map { .resultChunk($0) }
            + [.completed(JobCompleted(shape: latents.shape.map { Int64($0) }, crc32: Self.crc(latents)))]
        let fake = try FakeCoordinator(script: script)
        let client = try fake.client()

        let job = try await client.submit(request, label: "sunset", checkpointInterval: 2)
        #expect(job.jobID == "j1")
        #expect(job.clipFrames == [5, 4])
        #expect(job.queuePosition == 3)
        var updates: [JobUpdate] = []
        for try await update in job.updates { updates.append(update) }

        #expect(updates.count == 8)
        #expect(Array(updates.prefix(7)) == [
            .placed(workerIDs: ["w1", "w2"], epoch: 1),
            .progress(step: 1, steps: 4, clips: 2, elapsed: .milliseconds(120), exchangeFraction: 0.25),
            .progress(step: 2, steps: 4, clips: 2, elapsed: .milliseconds(250), exchangeFraction: 0.5),
            .recovering(failedWorkerIDs: ["w2"], reason: "heartbeat timeout after 3000 ms", resumeStep: 2),
            .placed(workerIDs: ["w1", "w3"], epoch: 2),
            .progress(step: 3, steps: 4, clips: 2, elapsed: .milliseconds(4000), exchangeFraction: 0.125),
            .progress(step: 4, steps: 4, clips: 2, elapsed: .milliseconds(4100), exchangeFraction: 0),
        ])
        guard case .completed(let result) = updates.last else {
            Issue.record("the last update is \(String(describing: updates.last)), not completed")
            return
        }
        #expect(result.latents.shape == [4, 9, 5, 6])
        // Bit patterns, not values: NaN payloads, -0 and subnormals must survive the trip.
        #expect(result.latents.values.map(\.bitPattern) == latents.values.map(\.bitPattern))

        // The coordinator got the validated request in its wire form.
        let received = try #require(fake.state.submitted.first)
        #expect(received == SubmitJobRequest(parameters: try request.validated().parameters, label: "sunset", checkpointInterval: 2))
        #expect(fake.state.submitted.count == 1)
        await fake.stop(client)
    }

    @Test func resultReadsTheUpdatesToTheEnd() async throws {
        let request = try Self.request()
        let latents = Self.latents(for: request)
        let fake = try FakeCoordinator(script: Self.successScript(latents))
        let client = try fake.client()
        let result = try await client.submit(request).result()
        #expect(result.latents.values.map(\.bitPattern) == latents.values.map(\.bitPattern))
        await fake.stop(client)
    }

    @Test func aResultFailingItsCRCIsDataLoss() async throws {
        let request = try Self.request()
        let latents = Self.latents(for: request)
        let crc = Self.crc(latents)
        var script = Self.successScript(latents)
        script[script.count - 1] = .completed(JobCompleted(shape: [4, 9, 5, 6], crc32: crc ^ 1))
        let fake = try FakeCoordinator(script: script)
        let client = try fake.client()
        let job = try await client.submit(request)
        var updates: [JobUpdate] = []
        let error = await #expect(throws: RPCError.self) {
            for try await update in job.updates { updates.append(update) }
        }
        #expect(error == RPCError(code: .dataLoss, message: "job j1: the result's CRC-32 is \(Self.hex(crc)), JobCompleted says \(Self.hex(crc ^ 1))"))
        #expect(updates == [.placed(workerIDs: ["w1"], epoch: 1)])
        await fake.stop(client)
    }

    @Test func aResultOfAnotherShapeIsDataLoss() async throws {
        let request = try Self.request()
        let latents = Self.latents(for: request)
        var script = Self.successScript(latents)
        script[script.count - 1] = .completed(JobCompleted(shape: [4, 9, 6, 5], crc32: Self.crc(latents)))
        let fake = try FakeCoordinator(script: script)
        let client = try fake.client()
        let error = await #expect(throws: RPCError.self) { _ = try await client.submit(request).result() }
        #expect(error == RPCError(code: .dataLoss, message: "job j1: the result chunks describe shape [4, 9, 5, 6], JobCompleted says [4, 9, 6, 5]"))
        await fake.stop(client)
    }

    @Test func aTruncatedResultIsRejected() async throws {
        let request = try Self.request()
        let latents = Self.latents(for: request)
        let chunks = Self.chunks(of: latents, pieceBytes: 100)
        let script: [JobEvent] = [.accepted(JobAccepted(jobID: "j1", clipFrames: [5, 4]))]
            + chunks.dropLast().map { .resultChunk($0) }
            + [.completed(JobCompleted(shape: [4, 9, 5, 6], crc32: Self.crc(latents)))]
        let fake = try FakeCoordinator(script: script)
        let client = try fake.client()
        let error = await #expect(throws: RPCError.self) { _ = try await client.submit(request).result() }
        // 4 x 9 x 5 x 6 floats are 4320 bytes: 44 chunks, the last of 20 bytes.
        #expect(chunks.count == 44)
        #expect(error == RPCError(code: .invalidArgument, message: "job j1: result: incomplete: 4300 of 4320 bytes received"))
        await fake.stop(client)
    }

    @Test func aFailedEventEndsTheUpdatesAndResultThrowsItsCodeAndMessage() async throws {
        let request = try Self.request()
        let script: [JobEvent] = [
            .accepted(JobAccepted(jobID: "j7", clipFrames: [5, 4])),
            .placement(JobPlacement(workerIDs: ["w1", "w2"], epoch: 1)),
            .failed(JobFailed(code: Int32(StatusCode.unavailable.rawValue), message: "no worker left holding model tiny")),
        ]
        let fake = try FakeCoordinator(script: script)
        let client = try fake.client()

        var updates: [JobUpdate] = []
        for try await update in try await client.submit(request).updates { updates.append(update) }
        #expect(updates == [.placed(workerIDs: ["w1", "w2"], epoch: 1),
                            .failed(code: .unavailable, message: "no worker left holding model tiny")])

        let error = await #expect(throws: RPCError.self) { _ = try await client.submit(request).result() }
        #expect(error == RPCError(code: .unavailable, message: "job j7 failed: no worker left holding model tiny"))
        await fake.stop(client)
    }

    @Test func aStreamEndingBeforeTheFinalEventIsAnError() async throws {
        let request = try Self.request()
        let fake = try FakeCoordinator(script: [
            .accepted(JobAccepted(jobID: "j1", clipFrames: [5, 4])),
            .placement(JobPlacement(workerIDs: ["w1"], epoch: 1)),
        ])
        let client = try fake.client()
        let error = await #expect(throws: RPCError.self) { _ = try await client.submit(request).result() }
        #expect(error == RPCError(code: .internalError,
                                  message: "job j1: the coordinator's SubmitJob stream ended without JobCompleted or JobFailed"))
        await fake.stop(client)
    }

    @Test func eventsOutOfOrderAreRejected() async throws {
        let request = try Self.request()
        let latents = Self.latents(for: request)
        let firstChunk = Self.chunks(of: latents, pieceBytes: 100)[0]
        let cases: [([JobEvent], String)] = [
            ([.resultChunk(firstChunk), .progress(JobProgress(step: 1, steps: 4, clips: 2))],
             "job j1: the coordinator's SubmitJob stream sent progress after the result began"),
            ([.accepted(JobAccepted(jobID: "j2"))], "job j1: the coordinator's SubmitJob stream sent a second JobAccepted"),
            ([.failed(JobFailed(code: 1, message: "cancelled")), .placement(JobPlacement(workerIDs: ["w1"], epoch: 1))],
             "job j1: the coordinator's SubmitJob stream sent an event after the job's final event"),
        ]
        for (events, message) in cases {
            let fake = try FakeCoordinator(script: [.accepted(JobAccepted(jobID: "j1", clipFrames: [5, 4]))] + events)
            let client = try fake.client()
            let error = await #expect(throws: RPCError.self) {
                for try await _ in try await client.submit(request).updates {}
            }
            #expect(error == RPCError(code: .internalError, message: message))
            await fake.stop(client)
        }
    }

    @Test func aStreamNotStartingWithAcceptedOrPlanningOtherClipsIsRejected() async throws {
        let request = try Self.request()
        let cases: [([JobEvent], String)] = [
            ([.placement(JobPlacement(workerIDs: ["w1"], epoch: 1))],
             "the coordinator's SubmitJob stream began with placement, not JobAccepted"),
            ([], "the coordinator's SubmitJob stream ended before JobAccepted"),
            ([.accepted(JobAccepted(jobID: "j1", clipFrames: [9]))],
             "job j1: the coordinator planned clips of [9] frames, the request's plan is [5, 4]"),
        ]
        for (script, message) in cases {
            let fake = try FakeCoordinator(script: script)
            let client = try fake.client()
            let error = await #expect(throws: RPCError.self) { _ = try await client.submit(request) }
            #expect(error == RPCError(code: .internalError, message: message))
            await fake.stop(client)
        }
    }

    @Test func coordinatorErrorsReachTheCaller() async throws {
        let fake = try FakeCoordinator(script: [], submitError: RPCError(code: .notFound, message: "no worker holds model 'tiny'"))
        let client = try fake.client()
        let error = await #expect(throws: RPCError.self) { _ = try await client.submit(try Self.request()) }
        #expect(error == RPCError(code: .notFound, message: "no worker holds model 'tiny'"))
        await fake.stop(client)
    }

    // MARK: Local validation

    @Test func invalidRequestsFailLocallyWithTheCoordinatorsErrors() async throws {
        let fake = try FakeCoordinator(script: [.accepted(JobAccepted(jobID: "j1", clipFrames: [5, 4]))])
        let client = try fake.client()
        let valid = try Self.request()
        var cases: [(GenerationRequest, String)] = []
        var request = valid
        request.frames = 0
        cases.append((request, "frames: must be in 1...1000000, got 0"))
        request = valid
        request.clipFrames = 10
        cases.append((request, "clip_frames: must be in 1...frames (9), got 10"))
        request = valid
        request.clipFrames = 3
        cases.append((request, "video_infinity: clips need at least 4 frames (the temporal convolutions' context); the shortest has 3"))
        request = valid
        request.steps = 1001
        cases.append((request, "steps: must be in 1...1000, got 1001"))
        request = valid
        request.height = 1 << 40
        cases.append((request, "height: 1099511627776 is out of range (it does not fit in int32)"))
        request = valid
        request.model = ""
        cases.append((request, "model: empty; name the model (a worker's model name or hash)"))
        request = valid
        request.scheduler = .unspecified
        cases.append((request, "scheduler: not set (DDIM or DPM_SOLVER_MULTISTEP)"))
        for (request, message) in cases {
            let error = await #expect(throws: RPCError.self) { _ = try await client.submit(request) }
            #expect(error == RPCError(code: .invalidArgument, message: message))
        }
        let interval = await #expect(throws: RPCError.self) { _ = try await client.submit(valid, checkpointInterval: -1) }
        #expect(interval == RPCError(code: .invalidArgument, message: "checkpoint_interval: must be in 0...2147483647, got -1"))
        // Nothing reached the coordinator; a valid request still does.
        #expect(fake.state.submitted.isEmpty)
        _ = try await client.submit(valid)
        #expect(fake.state.submitted.count == 1)
        await fake.stop(client)
    }

    // MARK: Cancellation

    @Test func cancellingTheConsumingTaskCancelsTheCall() async throws {
        let request = try Self.request()
        let fake = try FakeCoordinator(script: [
            .accepted(JobAccepted(jobID: "j1", clipFrames: [5, 4])),
            .placement(JobPlacement(workerIDs: ["w1", "w2"], epoch: 1)),
        ], hangAfterScript: true)
        let client = try fake.client()
        let placed = Mutex(false)
        let consumer = Task {
            let job = try await client.submit(request)
            for try await update in job.updates {
                if case .placed = update { placed.withLock { $0 = true } }
            }
        }
        #expect(await Self.wait { placed.withLock { $0 } && fake.state.hanging == 1 })
        consumer.cancel()
        let outcome = await consumer.result
        #expect(throws: RPCError(code: .cancelled, message: "the calling task was cancelled")) { try outcome.get() }
        // The server saw the RST: its handler was cancelled.
        #expect(await Self.wait { fake.state.handlerCancellations == 1 })
        await fake.stop(client)
    }

    @Test func cancelCallsCancelJob() async throws {
        let fake = try FakeCoordinator(script: [
            .accepted(JobAccepted(jobID: "j9", clipFrames: [5, 4])),
            .failed(JobFailed(code: Int32(StatusCode.cancelled.rawValue), message: "cancelled by CancelJob")),
        ])
        let client = try fake.client()
        let job = try await client.submit(try Self.request())
        #expect(try await job.cancel() == .cancelled)
        #expect(fake.state.cancelled == ["j9"])
        let error = await #expect(throws: RPCError.self) { _ = try await job.result() }
        #expect(error == RPCError(code: .cancelled, message: "job j9 failed: cancelled by CancelJob"))
        await fake.stop(client)
    }

    // MARK: Authentication

    @Test func theTokenIsSentAndRequired() async throws {
        let fake = try FakeCoordinator(script: [.accepted(JobAccepted(jobID: "j1", clipFrames: [5, 4]))], token: "s3cret")
        let request = try Self.request()
        for token in [nil, "wrong"] as [String?] {
            let client = try fake.client(token: token)
            let submit = await #expect(throws: RPCError.self) { _ = try await client.submit(request) }
            #expect(submit?.code == .unauthenticated)
            let list = await #expect(throws: RPCError.self) { _ = try await client.jobs() }
            #expect(list?.code == .unauthenticated)
            await client.close()
        }
        #expect(fake.state.submitted.isEmpty)
        let client = try fake.client(token: "s3cret")
        #expect(try await client.submit(request).jobID == "j1")
        #expect(try await client.jobs().map(\.jobID) == ["j1", "j0"])
        await fake.stop(client)
    }

    // MARK: Unary calls and GetJobResult

    @Test func statusJobsWorkersCancelAndResult() async throws {
        let latents = Self.latents(for: try Self.request())
        let fake = try FakeCoordinator(script: [], storedResult: latents)
        let client = try fake.client()
        #expect(try await client.status(jobID: "j1") == JobStatus(jobID: "j1", label: "sunset", state: .running, step: 3, steps: 4))
        let missing = await #expect(throws: RPCError.self) { _ = try await client.status(jobID: "nope") }
        #expect(missing == RPCError(code: .notFound, message: "unknown job 'nope'"))
        #expect(try await client.jobs().map(\.state) == [.running, .completed])
        #expect(try await client.workers() == [WorkerInfo(workerID: "w1", address: "127.0.0.1:7001", modelName: "tiny", state: .ready)])
        #expect(try await client.cancel(jobID: "j0") == .cancelled)
        #expect(fake.state.cancelled == ["j0"])

        let result = try await client.result(jobID: "j0")
        #expect(result.latents.shape == latents.shape)
        #expect(result.latents.values.map(\.bitPattern) == latents.values.map(\.bitPattern))
        let pending = await #expect(throws: RPCError.self) { _ = try await client.result(jobID: "j1") }
        #expect(pending == RPCError(code: .failedPrecondition, message: "job 'j1' has not completed"))
        await fake.stop(client)
    }

    @Test func anUnreachableCoordinatorIsUnavailable() async throws {
        // A port just released by a server: nothing listens there.
        let server = RPCServer(configuration: ServerConfiguration(host: "127.0.0.1"), services: [])
        let port = try server.start()
        await server.shutdown(grace: .zero)
        let client = try InfinityClient(address: "127.0.0.1:\(port)", token: nil)
        let error = await #expect(throws: RPCError.self) { _ = try await client.workers() }
        #expect(error?.code == .unavailable)
        await client.close()
    }

    @Test func addressesAreCheckedBeforeConnecting() throws {
        let address = try CoordinatorAddress("[::1]:50051")
        #expect(address.host == "::1" && address.port == 50051 && address.description == "[::1]:50051")
        #expect(try CoordinatorAddress("node-3.cluster:7000").description == "node-3.cluster:7000")
        let cases = [
            ("localhost", "coordinator address 'localhost' is not HOST:PORT"),
            (":50051", "coordinator address ':50051' has no host"),
            ("host:0", "coordinator address 'host:0' needs a port in 1...65535"),
            ("host:http", "coordinator address 'host:http' needs a port in 1...65535"),
        ]
        for (text, message) in cases {
            #expect(throws: RPCError(code: .invalidArgument, message: message)) { _ = try InfinityClient(address: text, token: nil) }
        }
        #expect(throws: RPCError(code: .invalidArgument, message: "token: must be non-empty and on one line")) {
            _ = try InfinityClient(address: "127.0.0.1:1", token: "")
        }
    }

    // MARK: infinity generate --coordinator

    @Test func generateThroughACoordinatorShowsProgressAndRecoveryAndWritesTheResult() async throws {
        let request = try Self.request()
        let latents = Self.latents(for: request)
        let script: [JobEvent] = [
            .accepted(JobAccepted(jobID: "j1", clipFrames: [5, 4], queuePosition: 3)),
            .placement(JobPlacement(workerIDs: ["w1", "w2"], epoch: 1)),
            .progress(JobProgress(step: 1, steps: 4, clips: 2, elapsedMs: 100, exchangeFraction: 0.25)),
            .progress(JobProgress(step: 2, steps: 4, clips: 2, elapsedMs: 200, exchangeFraction: 0.5)),
            .recovering(JobRecovering(failedWorkerIDs: ["w2"], reason: "heartbeat timeout after 3000 ms", resumeStep: 2)),
            .placement(JobPlacement(workerIDs: ["w1", "w3"], epoch: 2)),
            .progress(JobProgress(step: 3, steps: 4, clips: 2, elapsedMs: 3000, exchangeFraction: 0.125)),
            .progress(JobProgress(step: 4, steps: 4, clips: 2, elapsedMs: 4000, exchangeFraction: 0)),
        ] + Self.chunks(of: latents, pieceBytes: 1000).map { .resultChunk($0) }
            + [.completed(JobCompleted(shape: latents.shape.map { Int64($0) }, crc32: Self.crc(latents)))]
        let fake = try FakeCoordinator(script: script, token: "t0ken")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("client-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: out) }

        // The model given as a folder path names the workers' model by its last component.
        let run = try await Self.infinity(Self.generateArguments(port: fake.port, out: out, model: "/models/tiny/"),
                                          environment: ["INFINITY_CLUSTER_TOKEN": "t0ken"])
        #expect(run.status == 0, "\(run.error)")
        let lines = run.output.split(separator: "\n").map(String.init)
        #expect(lines == [
            "submitted job j1 to 127.0.0.1:\(fake.port): 9 frames as 2 clips of 5 frames or fewer, model tiny, 1 prompt; queued at position 3",
            "running on 2 workers (clip by clip: w1, w2)",
            "step 1/4 x 2 clips  elapsed 0.1 s  eta 0.3 s  exchange 25%",
            "step 2/4 x 2 clips  elapsed 0.2 s  eta 0.2 s  exchange 50%",
            "recovering: lost w2 (heartbeat timeout after 3000 ms); resuming from step 2",
            "resumed on 2 workers (clip by clip: w1, w3)",
            "step 3/4 x 2 clips  elapsed 3.0 s  eta 1.0 s  exchange 13%",
            "step 4/4 x 2 clips  elapsed 4.0 s  eta 0.0 s  exchange 0%",
            "wrote \(out): latents [4, 9, 5, 6]",
        ])
        let written = try SafeTensorsFile(path: out)
        #expect(written.shape(of: "latents") == [4, 9, 5, 6])
        #expect(try written.floats("latents").map(\.bitPattern) == latents.values.map(\.bitPattern))

        let submitted = try #require(fake.state.submitted.first?.parameters)
        #expect(submitted.model == "tiny")
        #expect((submitted.frames, submitted.clipFrames, submitted.height, submitted.width, submitted.steps) == (9, 5, 5, 6, 4))
        #expect(submitted.videoInfinity?.localFrames == 2)
        #expect(submitted.embeddings?.prompts?.shape.count == 3)
        await fake.stop(try fake.client())
    }

    @Test func generateThroughACoordinatorReportsAFailedJobAndAMissingToken() async throws {
        let fake = try FakeCoordinator(script: [
            .accepted(JobAccepted(jobID: "j7", clipFrames: [5, 4])),
            .failed(JobFailed(code: Int32(StatusCode.unavailable.rawValue), message: "no worker left holding model tiny")),
        ], token: "t0ken")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("client-\(UUID().uuidString).safetensors").path
        let tokenFile = out + ".token"
        try "t0ken\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }

        let failed = try await Self.infinity(Self.generateArguments(port: fake.port, out: out, model: "tiny") + ["--token-file", tokenFile])
        #expect(failed.status == 1)
        #expect(failed.error == "infinity: UNAVAILABLE: job j7 failed: no worker left holding model tiny\n")
        #expect(!FileManager.default.fileExists(atPath: out))

        let unauthenticated = try await Self.infinity(Self.generateArguments(port: fake.port, out: out, model: "tiny"))
        #expect(unauthenticated.status == 1)
        #expect(unauthenticated.error.hasPrefix("infinity: UNAUTHENTICATED: "))
        #expect(unauthenticated.error.hasSuffix(" (pass --token-file FILE or set INFINITY_CLUSTER_TOKEN)\n"))
        #expect(fake.state.submitted.count == 1)
        await fake.stop(try fake.client())
    }

    /// `generate --coordinator` for ``request()``'s job, with the fixture embeddings.
    static func generateArguments(port: Int, out: String, model: String) -> [String] {
        ["generate", "--coordinator", "127.0.0.1:\(port)", "--model", model, "--embeddings", "\(fixtures)/unet-tiny/embeddings.safetensors",
         "--frames", "9", "--clip-frames", "5", "--local-frames", "2", "--global-frames", "3", "--height", "5", "--width", "6",
         "--steps", "4", "--out", out]
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelTests/Fixtures").path

    /// Runs the built `infinity` with `arguments` (and only `environment`), off the test's
    /// thread: the fake coordinator answers it from this process.
    static func infinity(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String, error: String) {
        var directory = Bundle.main.bundleURL
        while directory.path != "/", !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("infinity").path) {
            directory.deleteLastPathComponent()
        }
        let process = Process()
        process.executableURL = directory.appendingPathComponent("infinity")
        process.arguments = arguments
        process.environment = environment
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: error)
            }
        }
        let text = { (pipe: Pipe) in String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        return (process.terminationStatus, text(output), text(error))
    }

    // MARK: Fixtures

    /// 9 frames as clips of [5, 4], 5 x 6 latents, one prompt of 2 tokens x 4.
    static func request() throws -> GenerationRequest {
        var config = VideoInfinityConfig()
        config.localFrames = 2
        config.globalFrames = 3
        let embeddings = try Parallel.PromptEmbeddings(
            prompts: HostTensor(shape: [1, 2, 4], values: (0 ..< 8).map { Float($0) / 8 }),
            negative: HostTensor(shape: [2, 4], values: (0 ..< 8).map { -Float($0) / 8 }))
        return GenerationRequest(model: "tiny", embeddings: embeddings, frames: 9, clipFrames: 5, height: 5, width: 6, steps: 4,
                                 videoInfinity: config)
    }

    /// `[4, frames, height, width]` latents including NaN payloads, -0, infinities and subnormals.
    static func latents(for request: GenerationRequest) -> HostTensor {
        let shape = [4, request.frames, request.height, request.width]
        let specials: [Float] = [-0.0, .infinity, -.infinity, Float(bitPattern: 0x7FC0_1234), Float(bitPattern: 0x0000_0001),
                                 .leastNormalMagnitude, .greatestFiniteMagnitude]
        let values = (0 ..< shape.reduce(1, *)).map { index in
            index % 17 < specials.count ? specials[index % 17] : Float(index) * 0.37 - 50
        }
        return HostTensor(shape: shape, values: values)
    }

    /// `tensor` as chunks of `pieceBytes` (TensorChunking's 1 MiB would make one chunk here).
    static func chunks(of tensor: HostTensor, pieceBytes: Int) -> [TensorChunk] {
        let bytes = tensor.values.withUnsafeBytes { [UInt8]($0) }
        return stride(from: 0, to: bytes.count, by: pieceBytes).map { offset in
            var chunk = TensorChunk(offset: UInt64(offset), data: Array(bytes[offset ..< min(offset + pieceBytes, bytes.count)]))
            if offset == 0 {
                chunk.dtype = .float32
                chunk.shape = tensor.shape.map { Int64($0) }
                chunk.totalBytes = UInt64(bytes.count)
            }
            return chunk
        }
    }

    static func crc(_ tensor: HostTensor) -> UInt32 {
        tensor.values.withUnsafeBytes { CRC32.checksum($0) }
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// accepted, one placement, the result and completed.
    static func successScript(_ latents: HostTensor) -> [JobEvent] {
        [.accepted(JobAccepted(jobID: "j1", clipFrames: [5, 4])), .placement(JobPlacement(workerIDs: ["w1"], epoch: 1))]
            + chunks(of: latents, pieceBytes: 100).map { .resultChunk($0) }
            + [.completed(JobCompleted(shape: latents.shape.map { Int64($0) }, crc32: crc(latents)))]
    }

    /// Polls `condition` for up to 5 s.
    static func wait(_ condition: () -> Bool) async -> Bool {
        let end = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < end {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition()
    }
}

/// What the fake coordinator saw.
final class FakeCoordinatorState: Sendable {
    private let store = Mutex<(submitted: [SubmitJobRequest], cancelled: [String], hanging: Int, handlerCancellations: Int)>(([], [], 0, 0))

    var submitted: [SubmitJobRequest] { store.withLock { $0.submitted } }
    var cancelled: [String] { store.withLock { $0.cancelled } }
    /// SubmitJob handlers waiting after their script.
    var hanging: Int { store.withLock { $0.hanging } }
    /// SubmitJob handlers that observed their call's cancellation.
    var handlerCancellations: Int { store.withLock { $0.handlerCancellations } }

    func record(submitted request: SubmitJobRequest) { store.withLock { $0.submitted.append(request) } }
    func record(cancelled jobID: String) { store.withLock { $0.cancelled.append(jobID) } }
    func startedHanging() { store.withLock { $0.hanging += 1 } }
    func sawCancellation() { store.withLock { $0.handlerCancellations += 1 } }
}

/// `infinity.v1.Coordinator` playing a script: SubmitJob writes `script` (then waits for its
/// cancellation when `hangAfterScript`); the other methods answer for two jobs, `j1` running and
/// `j0` completed with `storedResult`.
struct FakeCoordinatorService: RPCService {
    let script: [JobEvent]
    let hangAfterScript: Bool
    let submitError: RPCError?
    let storedResult: HostTensor?
    let state: FakeCoordinatorState

    var serviceName: String { "infinity.v1.Coordinator" }

    var methods: [ServerMethod] {
        let service = self
        let running = JobStatus(jobID: "j1", label: "sunset", state: .running, step: 3, steps: 4)
        let completed = JobStatus(jobID: "j0", state: .completed, step: 4, steps: 4)
        return [
            .serverStreaming("SubmitJob") { (request: SubmitJobRequest, writer: ResponseWriter<JobEvent>, _: ServerCallContext) in
                service.state.record(submitted: request)
                if let error = service.submitError { throw error }
                for event in service.script { try await writer.write(event) }
                guard service.hangAfterScript else { return }
                service.state.startedHanging()
                do {
                    try await Task.sleep(for: .seconds(60))
                } catch {
                    service.state.sawCancellation()
                    throw error
                }
            },
            .unary("CancelJob") { (request: CancelJobRequest, _: ServerCallContext) in
                service.state.record(cancelled: request.jobID)
                return CancelJobResponse(state: .cancelled)
            },
            .unary("GetJob") { (request: GetJobRequest, _: ServerCallContext) in
                guard request.jobID == "j1" else { throw RPCError(code: .notFound, message: "unknown job '\(request.jobID)'") }
                return running
            },
            .unary("ListJobs") { (_: ListJobsRequest, _: ServerCallContext) in
                ListJobsResponse(jobs: [running, completed])
            },
            .serverStreaming("GetJobResult") { (request: GetJobResultRequest, writer: ResponseWriter<TensorChunk>, _: ServerCallContext) in
                guard request.jobID == "j0", let result = service.storedResult else {
                    throw RPCError(code: .failedPrecondition, message: "job '\(request.jobID)' has not completed")
                }
                for chunk in ClientTests.chunks(of: result, pieceBytes: 64) { try await writer.write(chunk) }
            },
            .unary("ListWorkers") { (_: ListWorkersRequest, _: ServerCallContext) in
                ListWorkersResponse(workers: [WorkerInfo(workerID: "w1", address: "127.0.0.1:7001", modelName: "tiny", state: .ready)])
            },
        ]
    }
}

/// A loopback server with a ``FakeCoordinatorService``.
struct FakeCoordinator {
    let server: RPCServer
    let port: Int
    let state = FakeCoordinatorState()

    init(script: [JobEvent], hangAfterScript: Bool = false, submitError: RPCError? = nil, storedResult: HostTensor? = nil,
         token: String? = nil) throws {
        let service = FakeCoordinatorService(script: script, hangAfterScript: hangAfterScript, submitError: submitError,
                                             storedResult: storedResult, state: state)
        server = RPCServer(configuration: ServerConfiguration(host: "127.0.0.1", authToken: token), services: [service])
        port = try server.start()
    }

    /// A client of this server.
    func client(token: String? = nil) throws -> InfinityClient {
        try InfinityClient(address: "127.0.0.1:\(port)", token: token)
    }

    func stop(_ client: InfinityClient) async {
        await client.close()
        await server.shutdown(grace: .seconds(1))
    }
}
