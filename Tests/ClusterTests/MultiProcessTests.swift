import Cluster
import ClusterWire
import Foundation
import Parallel
import RPC
import Testing

/// Coordinator and workers as real processes on loopback.
@Suite("cluster processes", .serialized)
struct MultiProcessTests {
    @Test("3 workers, 6 clips: the result equals the in-process pipeline's bit for bit", .timeLimit(.minutes(3)))
    func multiProcessEqualsInProcess() async throws {
        let cluster = try await ClusterHarness(workers: 3, maxClips: 2)
        defer { Task { await cluster.stop() } }
        let parameters = try ClusterJobs.parameters(clips: 6, steps: 4)
        let (events, result) = try await cluster.run(parameters)
        let expected = try await ClusterJobs.reference(parameters)
        let produced = try #require(result, "events: \(events)")
        #expect(produced.shape == expected.shape)
        #expect(produced.values == expected.values)
        // Every clip ran on a worker of its own pair: 3 workers, 2 clips each.
        let placements = events.compactMap { if case .placement(let p) = $0 { p } else { nil } }
        #expect(placements.count == 1)
        #expect(Set(placements[0].workerIDs).count == 3)
        let progress = events.compactMap { if case .progress(let p) = $0 { p.step } else { nil } }
        #expect(progress == [1, 2, 3, 4])
    }

    @Test("a CPU worker and a Vulkan worker share a job; the result matches the CPU pipeline within 1e-3",
          .timeLimit(.minutes(3)))
    func mixedBackends() async throws {
        let cluster = try await ClusterHarness(workers: 1, maxClips: 2)
        defer { Task { await cluster.stop() } }
        try await cluster.addWorker(maxClips: 2, backend: ["--backend", "vulkan"])
        #expect(Set(try await cluster.readyWorkers().compactMap(\.capacity?.backend)) == ["cpu", "vulkan"])
        let parameters = try ClusterJobs.parameters(clips: 4, steps: 2)
        let (events, result) = try await cluster.run(parameters)
        let produced = try #require(result, "events: \(events)")
        let expected = try await ClusterJobs.reference(parameters)
        #expect(produced.shape == expected.shape)
        let scale = expected.values.reduce(0) { max($0, abs($1)) }
        let difference = zip(produced.values, expected.values).reduce(0) { max($0, abs($1.0 - $1.1)) }
        #expect(difference <= 1e-3 * scale, "max difference \(difference), scale \(scale)")
        // Both workers ran clips (the Vulkan one's rounding differs from the CPU's).
        #expect(difference > 0)
        let placements = events.compactMap { if case .placement(let p) = $0 { p } else { nil } }
        #expect(Set(placements.first?.workerIDs ?? []).count == 2)
    }

    @Test("kill -9 of a worker mid-job: the job recovers from a checkpoint, bit-identically",
          .timeLimit(.minutes(5)), arguments: [(victim: 0, afterStep: 1), (victim: 2, afterStep: 2), (victim: 1, afterStep: 3)])
    func recoversFromKilledWorker(victim: Int, afterStep: Int) async throws {
        // Checkpoints every 2 steps: a kill after step 1 or 3 also rolls back a step.
        let cluster = try await ClusterHarness(workers: 3, maxClips: 6, checkpointInterval: 2)
        defer { Task { await cluster.stop() } }
        let parameters = try ClusterJobs.parameters(clips: 6, steps: 4)
        let (events, result) = try await cluster.run(parameters) { event in
            if case .progress(let progress) = event, progress.step == afterStep { cluster.kill(worker: victim) }
        }
        let produced = try #require(result, "events: \(events)")
        #expect(produced.values == (try await ClusterJobs.reference(parameters)).values)
        let recoveries = events.compactMap { if case .recovering(let r) = $0 { r } else { nil } }
        #expect(recoveries.count == 1)
        #expect(recoveries.first?.resumeStep == Int32(afterStep / 2 * 2))
        let placements = events.compactMap { if case .placement(let p) = $0 { p } else { nil } }
        #expect(placements.count == 2)
        #expect(placements.last?.epoch == 2)
        #expect(Set(placements.last?.workerIDs ?? []).count == 2)
    }

    @Test("a worker that joins takes over the clips of a failed one", .timeLimit(.minutes(3)))
    func joiningWorkerTakesOver() async throws {
        let cluster = try await ClusterHarness(workers: 2, maxClips: 2, checkpointInterval: 1)
        defer { Task { await cluster.stop() } }
        let parameters = try ClusterJobs.parameters(clips: 4, steps: 4)
        let (events, result) = try await cluster.run(parameters) { event in
            if case .progress(let progress) = event, progress.step == 2 {
                cluster.kill(worker: 1)
                // The survivor holds at most 2 clips: the job waits for the newcomer.
                Task { try await cluster.addWorker(maxClips: 2) }
            }
        }
        let produced = try #require(result, "events: \(events)")
        #expect(produced.values == (try await ClusterJobs.reference(parameters)).values)
        let placements = events.compactMap { if case .placement(let p) = $0 { p } else { nil } }
        #expect(placements.last?.workerIDs.contains("w3") == true)
    }

    @Test("bad requests get clear errors; the coordinator keeps serving", .timeLimit(.minutes(3)))
    func badRequests() async throws {
        let cluster = try await ClusterHarness(workers: 1, maxClips: 4)
        defer { Task { await cluster.stop() } }
        // A job runs while the bad requests come in; it must not notice them.
        let running = try ClusterJobs.parameters(clips: 2, steps: 6)
        let background = Task { try await cluster.run(running).result }
        func expectRejected(_ mutate: (inout JobParameters) -> Void, _ code: StatusCode, _ fragment: String) async throws {
            var parameters = try ClusterJobs.parameters(clips: 2, steps: 2)
            mutate(&parameters)
            do {
                _ = try await cluster.run(parameters)
                Issue.record("expected \(code) containing '\(fragment)'")
            } catch let error as RPCError {
                #expect(error.code == code, "\(error)")
                #expect(error.message.contains(fragment), "\(error.message)")
            }
        }
        try await expectRejected({ $0.frames = 0 }, .invalidArgument, "frames: must be in 1...1000000, got 0")
        try await expectRejected({ $0.steps = -3 }, .invalidArgument, "steps: must be in 1...1000, got -3")
        try await expectRejected({ $0.clipFrames = 20 }, .invalidArgument, "clip_frames: must be in 1...frames (8), got 20")
        try await expectRejected({ $0.model = "no-such-model" }, .notFound, "no registered worker holds model 'no-such-model'")
        try await expectRejected({ $0.frames = 100_000; $0.clipFrames = 16; $0.height = 4096; $0.width = 4096 }, .invalidArgument,
                                 "exceeds the limit")
        try await expectRejected({ $0.embeddings = nil }, .invalidArgument, "embeddings: missing")

        // Wrong token.
        let (host, port) = try parseAddress(cluster.coordinatorAddress)
        let intruder = RPCChannel(host: host, port: port, configuration: ChannelConfiguration(authToken: "wrong"))
        await #expect(throws: RPCError.self) {
            _ = try await intruder.unary(CoordinatorMethods.listWorkers, request: ListWorkersRequest(), responseType: ListWorkersResponse.self)
        }
        do {
            _ = try await intruder.unary(CoordinatorMethods.listWorkers, request: ListWorkersRequest(), responseType: ListWorkersResponse.self)
        } catch {
            #expect(error.code == .unauthenticated)
        }
        await intruder.close()

        // Still serving; the running job completed exactly, and a new one does too.
        #expect(try await cluster.readyWorkers().count == 1)
        #expect(try #require(try await background.value).values == (try await ClusterJobs.reference(running)).values)
        let parameters = try ClusterJobs.parameters(clips: 2, steps: 2)
        let (_, result) = try await cluster.run(parameters)
        #expect(try #require(result).values == (try await ClusterJobs.reference(parameters)).values)
    }

    @Test("two jobs run at once on shared workers, each exactly", .timeLimit(.minutes(3)))
    func concurrentJobs() async throws {
        let cluster = try await ClusterHarness(workers: 2, maxClips: 4)
        defer { Task { await cluster.stop() } }
        let first = try ClusterJobs.parameters(clips: 2, steps: 3)
        var second = try ClusterJobs.parameters(clips: 2, steps: 3, scheduler: .ddim)
        second.seed = 7
        async let a = cluster.run(first)
        async let b = cluster.run(second)
        let (runA, runB) = try await (a, b)
        let (resultA, resultB) = (runA.result, runB.result)
        #expect(try #require(resultA).values == (try await ClusterJobs.reference(first)).values)
        #expect(try #require(resultB).values == (try await ClusterJobs.reference(second)).values)
        let jobs = try await cluster.channel.unary(CoordinatorMethods.listJobs, request: ListJobsRequest(),
                                                   responseType: ListJobsResponse.self).jobs
        #expect(jobs.count == 2 && jobs.allSatisfy { $0.state == .completed })
    }

    @Test("a job fails with a clear error only when no worker is left", .timeLimit(.minutes(3)))
    func noWorkerLeft() async throws {
        let cluster = try await ClusterHarness(workers: 1, maxClips: 4)
        defer { Task { await cluster.stop() } }
        let parameters = try ClusterJobs.parameters(clips: 2, steps: 4)
        let (events, result) = try await cluster.run(parameters) { event in
            if case .progress(let progress) = event, progress.step == 1 { cluster.kill(worker: 0) }
        }
        #expect(result == nil)
        let failure = events.compactMap { if case .failed(let failed) = $0 { failed } else { nil } }.first
        #expect(failure?.code == Int32(StatusCode.unavailable.rawValue))
        #expect(failure?.message.contains("no worker left") == true, "\(String(describing: failure))")
        // The coordinator still serves, and takes a job again once a worker joins.
        try await cluster.addWorker(maxClips: 4)
        let (_, again) = try await cluster.run(parameters)
        #expect(try #require(again).values == (try await ClusterJobs.reference(parameters)).values)
    }
}
