import ClusterWire
import Foundation
import RPC

/// A worker's side of membership: registers with the coordinator (retrying until it answers),
/// then heartbeats; registers again when the coordinator no longer knows it (it restarted, or
/// declared this worker failed), and drops the jobs the coordinator says it no longer runs here.
public struct WorkerRegistration: Sendable {
    /// The coordinator's address.
    public let coordinator: String
    /// The address peers and the coordinator reach this worker at.
    public let advertisedAddress: String
    /// What the worker offers.
    public let capacity: WorkerCapacity

    /// Membership of the worker at `advertisedAddress` in the cluster at `coordinator`.
    public init(coordinator: String, advertisedAddress: String, capacity: WorkerCapacity) {
        self.coordinator = coordinator
        self.advertisedAddress = advertisedAddress
        self.capacity = capacity
    }

    /// Runs until the task is cancelled; `registered` is called with each new worker id.
    public func run(agent: WorkerAgent, registered: @Sendable (String) -> Void) async {
        guard let channel = try? agent.peers.channel(coordinator) else { return }
        var previousID = ""
        while !Task.isCancelled {
            // Register.
            let request = RegisterWorkerRequest(address: advertisedAddress, modelName: agent.identity.name,
                                                modelHash: agent.identity.hash, capacity: capacity, version: clusterVersion,
                                                previousWorkerID: previousID)
            let response: RegisterWorkerResponse
            do {
                response = try await channel.unary(CoordinatorMethods.registerWorker, request: request,
                                                   responseType: RegisterWorkerResponse.self, options: CallOptions(timeout: .seconds(5)))
            } catch let error where error.code == .failedPrecondition || error.code == .invalidArgument || error.code == .unauthenticated {
                // The coordinator will never accept this worker as it is: say so and stop.
                FileHandle.standardError.write(Data("worker: the coordinator refused registration: \(error)\n".utf8))
                return
            } catch {
                try? await Task.sleep(for: .milliseconds(300))
                continue
            }
            previousID = response.workerID
            await agent.registered(as: response.workerID)
            registered(response.workerID)
            let interval = Duration.milliseconds(max(50, Int(response.heartbeatIntervalMs)))
            // Heartbeat until the coordinator forgets this worker.
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                let beat = HeartbeatRequest(workerID: response.workerID, activeClips: Int32(await agent.activeClips),
                                            jobIDs: await agent.jobIDs)
                do {
                    let answer = try await channel.unary(CoordinatorMethods.heartbeat, request: beat,
                                                         responseType: HeartbeatResponse.self, options: CallOptions(timeout: interval * 4))
                    if !answer.dropJobIDs.isEmpty { await agent.dropJobs(answer.dropJobIDs) }
                } catch let error where error.code == .notFound {
                    break
                } catch {
                    continue
                }
            }
        }
    }
}
