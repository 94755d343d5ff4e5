/// What `infinity launch` starts for a ``ClusterConfiguration``: the coordinator, then one
/// process per worker, each with its full command line and the address to check its health.
///
/// A local process runs the infinity binary directly; a remote worker runs
/// `ssh -o BatchMode=yes -tt user@host exec infinity worker ...`. The `-tt` gives the remote
/// worker a terminal, so that when the local ssh ends (launch stops it, or launch dies) sshd
/// hangs up the remote session and the worker goes with it. Children inherit launch's
/// environment; the cluster token travels only as `--token-file`, never on a command line.
import NetworkAddress
public struct LaunchPlan: Sendable, Hashable {
    /// One process to start.
    public struct Process: Sendable, Hashable {
        /// What the process is in the cluster.
        public enum Role: Sendable, Hashable {
            /// The coordinator.
            case coordinator
            /// Worker `index` (its position in `[[workers]]`).
            case worker(Int)
        }

        /// Its role.
        public var role: Role
        /// `coordinator` or `worker N`, for messages.
        public var name: String
        /// The command line: `arguments[0]` is the program (a path, or a name found on PATH).
        public var arguments: [String]
        /// The ssh destination when it runs remotely; nil for a local process.
        public var sshDestination: String?
        /// Where its `grpc.health.v1.Health` answers.
        public var healthAddress: Endpoint
        /// What it runs on, for the table launch prints: `local, cpu 4 threads`, `ssh gpu1, vulkan device 0`.
        public var summary: String
    }

    /// The processes in start order: the coordinator first, then the workers in file order.
    public var processes: [Process]

    /// The coordinator's process.
    public var coordinator: Process { processes[0] }

    /// The workers' processes.
    public var workers: ArraySlice<Process> { processes.dropFirst() }

    /// Plans `configuration`; `executable` is the infinity binary for local processes that name none.
    public init(_ configuration: ClusterConfiguration, executable: String) {
        let coordinator = configuration.coordinator
        var coordinatorArguments = [coordinator.executable ?? executable, "coordinator",
                                    "--listen", coordinator.address.description]
        if let tokenFile = coordinator.tokenFile { coordinatorArguments += ["--token-file", tokenFile] }
        coordinatorArguments += ["--checkpoint-interval", String(coordinator.checkpointInterval)]
        if let directory = coordinator.checkpointDirectory { coordinatorArguments += ["--checkpoint-dir", directory] }
        coordinatorArguments += ["--heartbeat-interval-ms", String(coordinator.heartbeatIntervalMilliseconds),
                                 "--heartbeat-timeout-ms", String(coordinator.heartbeatTimeoutMilliseconds)]
        processes = [Process(role: .coordinator, name: "coordinator", arguments: coordinatorArguments, sshDestination: nil,
                             healthAddress: coordinator.address.isWildcard ? coordinator.advertiseAddress : coordinator.address,
                             summary: "local")]

        for (index, worker) in configuration.workers.enumerated() {
            var arguments = ["worker", "--listen", worker.address.description,
                             "--coordinator", coordinator.advertiseAddress.description,
                             "--model", configuration.model.path]
            if let tokenFile = coordinator.tokenFile { arguments += ["--token-file", tokenFile] }
            arguments += ["--backend", worker.backend.name]
            let resources: String
            switch worker.backend {
            case .cpu(let threads?):
                arguments += ["--threads", String(threads)]
                resources = "cpu \(threads) thread\(threads == 1 ? "" : "s")"
            case .cpu(nil):
                resources = "cpu all cores"
            case .vulkan(let device, let weights, let matrices):
                arguments += ["--device", String(device)]
                if weights != .f32 { arguments += ["--weight-precision", weights.rawValue] }
                if matrices != .auto { arguments += ["--cooperative-matrix", matrices.rawValue] }
                resources = "vulkan device \(device)\(weights == .f32 ? "" : ", \(weights.rawValue) weights")"
                    + (matrices == .auto ? "" : ", cooperative matrices \(matrices.rawValue)")
            }
            arguments += ["--max-clips", String(worker.maxClips)]
            let process: Process
            if let destination = worker.ssh {
                let remote = ([worker.executable ?? "infinity"] + arguments).map(Self.shellQuoted).joined(separator: " ")
                process = Process(role: .worker(index), name: "worker \(index)",
                                  arguments: ["ssh", "-o", "BatchMode=yes", "-tt", destination, "exec " + remote],
                                  sshDestination: destination, healthAddress: worker.address,
                                  summary: "ssh \(destination), \(resources)")
            } else {
                process = Process(role: .worker(index), name: "worker \(index)",
                                  arguments: [worker.executable ?? executable] + arguments, sshDestination: nil,
                                  healthAddress: worker.address, summary: "local, \(resources)")
            }
            processes.append(process)
        }
    }

    /// `text` as one word for a POSIX shell (the remote side of ssh): single-quoted unless plain.
    static func shellQuoted(_ text: String) -> String {
        let plain = !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_./:=@+,".contains($0)) }
        return plain ? text : "'" + text.replacing("'", with: "'\\''") + "'"
    }
}
