import Checksums
import Cluster
import ClusterWire
import CPUBackend
import Foundation
import Model
import Parallel
import RPC
import TestSupport
import Testing

/// A real cluster on loopback for tests: an `infinity coordinator` process and `infinity
/// worker` processes, each a separate OS process talking gRPC, as users run them.
final class ClusterHarness: @unchecked Sendable {
    // @unchecked: used from one test task at a time.
    static var binary: URL { infinityBinary }
    static var fixtures: String { DiffusersFixtures.root }
    static let model = "\(fixtures)/unet-tiny"

    let token = "test-token-\(UUID().uuidString)"
    let tokenFile: String
    private(set) var coordinator: Process?
    private(set) var coordinatorAddress = ""
    private(set) var workers: [Process] = []
    let channel: RPCChannel

    /// Starts a coordinator and `workers` workers holding up to `maxClips` clips each.
    init(workers count: Int, maxClips: Int, checkpointInterval: Int = 2) async throws {
        tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("infinity-token-\(UUID().uuidString)").path
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let (process, line) = try Self.start(["coordinator", "--listen", "127.0.0.1:0", "--token-file", tokenFile,
                                              "--checkpoint-interval", String(checkpointInterval),
                                              "--heartbeat-interval-ms", "100", "--heartbeat-timeout-ms", "3000", "--grace", "1"],
                                             until: "coordinator listening on ")
        coordinator = process
        coordinatorAddress = String(line.split(separator: " ")[3])
        let (host, port) = try parseAddress(coordinatorAddress)
        channel = RPCChannel(host: host, port: port, configuration: ChannelConfiguration(maxReceiveMessageBytes: 1 << 30, authToken: token))
        for _ in 0 ..< count { try await addWorker(maxClips: maxClips) }
    }

    /// Starts one more worker (on one CPU thread unless `backend` says otherwise) and waits
    /// until it is registered.
    func addWorker(maxClips: Int, backend: [String] = ["--threads", "1"]) async throws {
        let before = try await readyWorkers().count
        let (process, _) = try Self.start(["worker", "--listen", "127.0.0.1:0", "--coordinator", coordinatorAddress,
                                           "--model", Self.model, "--token-file", tokenFile] + backend
                                              + ["--max-clips", String(maxClips), "--grace", "1"],
                                          until: "worker listening on ")
        workers.append(process)
        let deadline = ContinuousClock.now + .seconds(30)
        while try await readyWorkers().count < before + 1 {
            guard ContinuousClock.now < deadline else { throw ParallelError("worker did not register within 30 s") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func readyWorkers() async throws -> [WorkerInfo] {
        try await channel.unary(CoordinatorMethods.listWorkers, request: ListWorkersRequest(), responseType: ListWorkersResponse.self)
            .workers.filter { $0.state == .ready }
    }

    /// SIGKILLs worker `index`.
    func kill(worker index: Int) {
        Foundation.kill(workers[index].processIdentifier, SIGKILL)
        workers[index].waitUntilExit()
    }

    /// Stops every process (SIGTERM, then SIGKILL after 5 s).
    func stop() async {
        await channel.close()
        let all = workers + [coordinator].compactMap { $0 }
        for process in all where process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(5)
        for process in all {
            while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        }
        try? FileManager.default.removeItem(atPath: tokenFile)
    }

    /// Submits `parameters` and collects the job's events until the stream ends; `onEvent`
    /// sees each event as it arrives.
    func run(_ parameters: JobParameters, checkpointInterval: Int = 0,
             onEvent: (JobEvent) async -> Void = { _ in }) async throws -> (events: [JobEvent], result: HostTensor?) {
        let stream = try await channel.serverStreaming(CoordinatorMethods.submitJob,
                                                       request: SubmitJobRequest(parameters: parameters, checkpointInterval: Int32(checkpointInterval)),
                                                       responseType: JobEvent.self)
        var events: [JobEvent] = []
        var assembler = TensorAssembler(name: "result")
        var result: HostTensor?
        for try await event in stream {
            events.append(event)
            await onEvent(event)
            switch event {
            case .resultChunk(let chunk): try assembler.add(chunk)
            case .completed(let completed):
                let tensor = try assembler.finish()
                let crc = tensor.values.withUnsafeBytes { CRC32.checksum($0) }
                #expect(crc == completed.crc32)
                #expect(tensor.shape.map { Int64($0) } == completed.shape)
                result = tensor
            default: break
            }
        }
        return (events, result)
    }

    /// Starts `infinity arguments` and returns once a stdout line starts with `prefix`.
    private static func start(_ arguments: [String], until prefix: String) throws -> (Process, String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var buffer = Data()
        let handle = output.fileHandleForReading
        while true {
            let chunk = handle.availableData
            guard !chunk.isEmpty else { throw ParallelError("infinity \(arguments[0]) exited before printing '\(prefix)'") }
            buffer.append(chunk)
            let text = String(decoding: buffer, as: UTF8.self)
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                // Keep draining its output so the process never blocks on a full pipe.
                Thread.detachNewThread { while !handle.availableData.isEmpty {} }
                return (process, String(line))
            }
        }
    }
}

/// A job on the tiny fixture model and its in-process reference result.
enum ClusterJobs {
    static func embeddings() throws -> Parallel.PromptEmbeddings {
        let file = try SafeTensorsFile(path: "\(ClusterHarness.model)/embeddings.safetensors")
        let cond = try file.floats("cond")
        let uncond = try file.floats("uncond")
        // Two prompts: the fixture's and its negation, so clips differ in conditioning.
        return try Parallel.PromptEmbeddings(prompts: HostTensor(shape: [2, 7, 16], values: cond + cond.map { -$0 }),
                                             negative: HostTensor(shape: [7, 16], values: uncond))
    }

    /// `clips` clips of 4 frames at 8x8, `steps` steps.
    static func parameters(clips: Int, steps: Int, scheduler: ClusterWire.SchedulerKind = .dpmSolverMultistep) throws -> JobParameters {
        let embeddings = try embeddings()
        var config = VideoInfinityParameters(localFrames: 2, globalFrames: 4, phaseTimestep: 800, localBias: 10, globalBias: 10)
        config.syncGroupNorm = true
        return JobParameters(model: "unet-tiny",
                             embeddings: ClusterWire.PromptEmbeddings(prompts: WireTensor(embeddings.prompts), negative: WireTensor(embeddings.negative)),
                             frames: Int32(4 * clips), clipFrames: 4, height: 8, width: 8, steps: Int32(steps), guidance: 7.5, seed: 42,
                             scheduler: scheduler, fps: 24, videoInfinity: config)
    }

    /// The same job run by the in-process ClipParallelPipeline (one worker, one thread),
    /// computed once per parameters.
    static func reference(_ parameters: JobParameters) async throws -> HostTensor {
        try await ReferenceCache.shared.result(for: parameters) { try await computeReference(parameters) }
    }

    private static func computeReference(_ parameters: JobParameters) async throws -> HostTensor {
        let spec = try JobSpec(parameters)
        let model = try UNet3DConditionModel.load(path: ClusterHarness.model, backend: CPUBackend(threads: 1))
        let pipeline = try ClipParallelPipeline(workers: [model], plan: spec.plan, config: spec.videoInfinity, guidance: spec.guidance)
        // The scheduler config the workers read from the model folder.
        let folder = try ModelFolder(path: ClusterHarness.model)
        let config = try folder.schedulerConfigPath.map { try SchedulerConfig(contentsOfFile: $0) } ?? .textToVideoDefault
        let scheduler = try makeScheduler(config: config, kind: spec.scheduler == .ddim ? .ddim : .dpmSolverMultistep,
                                          steps: spec.steps)
        let latents = try await pipeline.generate(embeddings: spec.embeddings, height: spec.height, width: spec.width, seed: spec.seed,
                                                  scheduler: scheduler, fps: spec.fps)
        return HostTensor(shape: [model.config.inChannels, spec.plan.totalFrames, spec.height, spec.width], values: latents)
    }
}

/// In-process results already computed in this test run.
actor ReferenceCache {
    static let shared = ReferenceCache()
    private var results: [JobParameters: HostTensor] = [:]

    func result(for parameters: JobParameters, compute: () async throws -> HostTensor) async rethrows -> HostTensor {
        if let result = results[parameters] { return result }
        let result = try await compute()
        results[parameters] = result
        return result
    }
}
