import Cluster
import ClusterWire
import CPUBackend
import Foundation
import Model
import NetworkAddress
import RPC

/// `infinity worker`: the per-node agent. Loads the model once, serves the Worker service
/// (clip steps, checkpoints, peer context exchange) and health, registers with the coordinator
/// and heartbeats, until SIGINT or SIGTERM.
enum WorkerCommand {
    static func run(_ arguments: ArraySlice<String>) async throws {
        let options = try Arguments(arguments, options: Set(["listen", "coordinator", "model", "token-file", "max-clips",
                                                         "advertise", "grace"]).union(BackendOption.optionNames))
        let (host, port) = try ListenAddress.parse(options.string("listen") ?? "127.0.0.1:0", flag: "listen")
        let coordinator = try options.required("coordinator")
        _ = try ListenAddress.parse(coordinator, flag: "coordinator")
        let modelPath = try options.required("model")
        let backendOption = try BackendOption(options)
        let maxClips = try options.int("max-clips", default: 4, range: 1 ... 4096)
        let grace = try options.int("grace", default: 5, range: 0 ... 3600)
        let token = try CoordinatorCommand.clusterToken(file: options.string("token-file"))
        if token == nil && !ListenAddress.isLoopback(host) {
            throw Arguments.Failure(description: "listening on \(host) needs a cluster token: pass --token-file FILE or set \(CoordinatorCommand.tokenVariable)")
        }
        let advertise = options.string("advertise")
        if let advertise { _ = try ListenAddress.parse(advertise, flag: "advertise") }
        if advertise == nil && (host == "0.0.0.0" || host == "::") {
            throw Arguments.Failure(description: "--listen \(host) needs --advertise HOST:PORT: the address peers reach this worker at")
        }
        let folder = try ModelFolder(path: modelPath)
        let backend = try backendOption.make()
        let model = try UNet3DConditionModel.load(folder: folder, backend: backend)
        let identity = try ModelIdentity(folder: folder, path: modelPath)
        let schedulerConfig = try folder.schedulerConfigPath.map { try SchedulerConfig(contentsOfFile: $0) } ?? .textToVideoDefault
        let agent = WorkerAgent(model: model, identity: identity, schedulerConfig: schedulerConfig, maxClips: maxClips,
                                peers: PeerChannels(token: token))
        let health = HealthService(serving: ["", WorkerMethods.service])
        let server = RPCServer(configuration: ServerConfiguration(host: host, port: port, maxReceiveMessageBytes: clusterMessageLimit,
                                                                  authToken: token),
                               services: [health, WorkerService(agent: agent)])
        let bound = try server.start()
        let address = advertise ?? (host.contains(":") ? "[\(host)]:\(bound)" : "\(host):\(bound)")
        say("worker listening on \(host):\(bound) (model \(identity.name) \(identity.hash.prefix(12)), \(maxClips) clips, \(backend.name))")

        let registration = WorkerRegistration(coordinator: coordinator, advertisedAddress: address,
                                              capacity: WorkerCapacity(maxClips: Int32(maxClips), backend: backendOption.name,
                                                                                     threads: Int32(backendOption.threads)))
        let membership = Task {
            await registration.run(agent: agent) { id in say("worker registered as \(id) with the coordinator at \(coordinator)") }
        }
        await CoordinatorCommand.waitForTermination()
        say("worker shutting down")
        membership.cancel()
        health.enterNotServing()
        await server.shutdown(grace: .seconds(grace))
        await agent.peers.closeAll()
        say("worker stopped")
    }
}
