import Glibc
import NetworkAddress

extension ClusterConfiguration {
    /// Reads and validates the cluster.toml at `path`; relative paths in it are resolved against
    /// the file's folder (itself resolved against the current directory).
    /// - Throws: ``ClusterConfigurationError`` naming `file:line:column` and the key path.
    public init(contentsOfFile path: String) throws(ClusterConfigurationError) {
        let document: TOMLDocument
        do {
            document = try TOMLDocument(contentsOfFile: path)
        } catch {
            throw ClusterConfigurationError(source: error.source, position: error.position, keyPath: "", message: error.message)
        }
        try self.init(document, baseDirectory: Self.folder(of: path, in: Self.currentDirectory()))
    }

    /// Validates a parsed document; `baseDirectory` (absolute) anchors its relative paths.
    /// - Throws: ``ClusterConfigurationError`` naming `file:line:column` and the key path.
    public init(_ document: TOMLDocument, baseDirectory: String) throws(ClusterConfigurationError) {
        let source = document.source
        let root = try TableReader(document.root, path: "", at: TOMLPosition(line: 1, column: 1), source: source,
                                   known: ["coordinator", "model", "workers", "generation", "video_infinity"])
        func resolve(_ path: String) -> String { Self.absolute(path, in: baseDirectory) }

        // [coordinator]
        guard let (coordinatorTable, coordinatorPosition) = try root.table("coordinator") else {
            throw root.missing("coordinator")
        }
        let coordinatorReader = try TableReader(
            coordinatorTable, path: "coordinator", at: coordinatorPosition, source: source,
            known: ["address", "advertise_address", "token_file", "checkpoint_interval", "checkpoint_dir",
                    "heartbeat_interval_ms", "heartbeat_timeout_ms", "executable"])
        guard let address = try coordinatorReader.endpoint("address") else { throw coordinatorReader.missing("address") }
        let advertised = try coordinatorReader.endpoint("advertise_address")
        if let advertised, advertised.isWildcard {
            throw coordinatorReader.failure("advertise_address", "must be an address others can dial, not the wildcard \(advertised.host)")
        }
        if address.isWildcard && advertised == nil {
            throw coordinatorReader.failure("address", "listens on every interface (\(address.host)): set coordinator.advertise_address to the HOST:PORT workers dial")
        }
        let tokenFile = try coordinatorReader.string("token_file")
        if tokenFile == "" { throw coordinatorReader.failure("token_file", "must name a file (or leave the key out)") }
        let checkpointDirectory = try coordinatorReader.string("checkpoint_dir")
        let executable = try coordinatorReader.string("executable")
        if executable == "" { throw coordinatorReader.failure("executable", "must name a program (or leave the key out)") }
        let heartbeatInterval = try coordinatorReader.integer("heartbeat_interval_ms", in: 10 ... 600_000) ?? 500
        let heartbeatTimeout = try coordinatorReader.integer("heartbeat_timeout_ms", in: 10 ... 3_600_000) ?? 3000
        guard heartbeatTimeout > heartbeatInterval else {
            throw coordinatorReader.failure(
                coordinatorTable["heartbeat_timeout_ms"] != nil ? "heartbeat_timeout_ms" : "heartbeat_interval_ms",
                "the heartbeat timeout (\(heartbeatTimeout) ms) must exceed the heartbeat interval (\(heartbeatInterval) ms)")
        }
        coordinator = Coordinator(
            address: address, advertiseAddress: advertised ?? address, tokenFile: tokenFile.map(resolve),
            checkpointInterval: try coordinatorReader.integer("checkpoint_interval", in: 1 ... 1_000_000) ?? 2,
            checkpointDirectory: checkpointDirectory.flatMap { $0.isEmpty ? nil : resolve($0) },
            heartbeatIntervalMilliseconds: heartbeatInterval, heartbeatTimeoutMilliseconds: heartbeatTimeout,
            executable: executable.map(resolve))

        // [model]
        guard let (modelTable, modelPosition) = try root.table("model") else { throw root.missing("model") }
        let modelReader = try TableReader(modelTable, path: "model", at: modelPosition, source: source, known: ["path"])
        let modelPath = try modelReader.requiredString("path")
        if modelPath.isEmpty { throw modelReader.failure("path", "must name the model folder") }
        model = Model(path: resolve(modelPath))

        // [[workers]]
        guard let workerTables = try root.tables("workers") else { throw root.missing("workers") }
        guard !workerTables.isEmpty else { throw root.failure("workers", "needs at least one [[workers]] table") }
        var workers: [Worker] = []
        var taken: [Endpoint: String] = [address: "coordinator.address"]
        for (index, (table, position)) in workerTables.enumerated() {
            let worker = try Self.worker(table, index: index, at: position, source: source, resolve: resolve)
            if let owner = taken[worker.address] {
                throw ClusterConfigurationError(source: source, position: table["port"]?.position ?? position,
                                                keyPath: "workers[\(index)].port",
                                                message: "\(worker.address) is already \(owner)'s address")
            }
            taken[worker.address] = "workers[\(index)]"
            workers.append(worker)
        }
        self.workers = workers

        if tokenFile == nil {
            let exposed = ([("coordinator.address", address)] + workers.enumerated().map { ("workers[\($0.offset)]", $0.element.address) })
                .first { !$0.1.isLoopback }
            if let (name, endpoint) = exposed {
                throw coordinatorReader.failure("token_file", "is required because \(name) (\(endpoint)) is not a loopback address",
                                                at: coordinatorPosition)
            }
        }

        generation = try Self.generation(root, source: source)
        videoInfinity = try Self.videoInfinity(root, source: source)
        self.source = source
    }

    private static func worker(_ table: TOMLTable, index: Int, at position: TOMLPosition, source: String,
                               resolve: (String) -> String) throws(ClusterConfigurationError) -> Worker {
        let reader = try TableReader(table, path: "workers[\(index)]", at: position, source: source,
                                     known: ["host", "port", "backend", "threads", "device", "weight_precision",
                                             "cooperative_matrix", "max_clips", "ssh", "executable"])
        let host = try reader.requiredString("host")
        guard let address = Endpoint(parsing: host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:1" : "\(host):1"),
              !address.isWildcard else {
            throw reader.failure("host", "must be a host name or address others can dial, got \"\(host)\"")
        }
        guard let port = try reader.integer("port", in: 1 ... 65535) else { throw reader.missing("port") }
        let backendName = try reader.choice("backend", from: ["cpu", "vulkan"]) ?? "cpu"
        let threads = try reader.integer("threads", in: 1 ... 1024)
        let device = try reader.integer("device", in: 0 ... 255)
        let precision = try reader.choice("weight_precision", from: ["f32", "f16"])
        let matrices = try reader.choice("cooperative_matrix", from: Worker.Backend.MatrixUse.allCases.map(\.rawValue))
        let backend: Worker.Backend
        if backendName == "cpu" {
            for (key, value) in [("device", device as Any?), ("weight_precision", precision),
                                 ("cooperative_matrix", matrices)] where value != nil {
                throw reader.failure(key, "applies to backend \"vulkan\" only (this worker's backend is \"cpu\")")
            }
            backend = .cpu(threads: threads)
        } else {
            if threads != nil { throw reader.failure("threads", "applies to backend \"cpu\" only (this worker's backend is \"vulkan\")") }
            backend = .vulkan(device: device ?? 0, weights: precision.flatMap(Worker.Backend.WeightPrecision.init) ?? .f32,
                              matrices: matrices.flatMap(Worker.Backend.MatrixUse.init) ?? .auto)
        }
        let ssh = try reader.string("ssh")
        if let ssh, !ssh.isEmpty, ssh.hasPrefix("-") || ssh.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            throw reader.failure("ssh", "must be a destination such as \"user@host\" (no spaces, no leading '-'), got \"\(ssh)\"")
        }
        let executable = try reader.string("executable")
        if executable == "" { throw reader.failure("executable", "must name a program (or leave the key out)") }
        let remote = ssh.map { !$0.isEmpty } ?? false
        return Worker(address: Endpoint(host: address.host, port: port), backend: backend,
                      maxClips: try reader.integer("max_clips", in: 1 ... 1024) ?? 4,
                      ssh: remote ? ssh : nil,
                      // A remote `executable` names a program on that host: a bare name stays for its PATH.
                      executable: executable.map { remote && !$0.contains("/") ? $0 : resolve($0) })
    }

    private static func generation(_ root: TableReader, source: String) throws(ClusterConfigurationError) -> Generation {
        var generation = Generation()
        guard let (table, position) = try root.table("generation") else { return generation }
        let reader = try TableReader(table, path: "generation", at: position, source: source,
                                     known: ["frames", "clip_frames", "height", "width", "steps", "guidance", "seed",
                                             "scheduler", "fps"])
        generation.frames = try reader.integer("frames", in: 1 ... 1_000_000)
        generation.clipFrames = try reader.integer("clip_frames", in: 1 ... (generation.frames ?? 1_000_000))
        generation.height = try reader.integer("height", in: 1 ... 4096)
        generation.width = try reader.integer("width", in: 1 ... 4096)
        generation.steps = try reader.integer("steps", in: 1 ... 1000) ?? generation.steps
        generation.guidance = try reader.number("guidance", in: 0 ... 100) ?? generation.guidance
        generation.seed = try reader.integer("seed", in: 0 ... Int.max) ?? generation.seed
        if let scheduler = try reader.choice("scheduler", from: Generation.Scheduler.allCases.map(\.rawValue)) {
            generation.scheduler = Generation.Scheduler(rawValue: scheduler)!
        }
        generation.fps = try reader.number("fps", in: 0 ... 1000) ?? generation.fps
        return generation
    }

    private static func videoInfinity(_ root: TableReader, source: String) throws(ClusterConfigurationError) -> VideoInfinity {
        var settings = VideoInfinity()
        guard let (table, position) = try root.table("video_infinity") else { return settings }
        let reader = try TableReader(table, path: "video_infinity", at: position, source: source,
                                     known: ["local_frames", "global_frames", "phase_t", "local_bias", "global_bias",
                                             "sync_groupnorm", "reference_padding", "reference_global_sampling",
                                             "token_count_scale"])
        settings.localFrames = try reader.integer("local_frames", in: 0 ... 10_000) ?? settings.localFrames
        settings.globalFrames = try reader.integer("global_frames", in: 0 ... 10_000) ?? settings.globalFrames
        settings.phaseTimestep = try reader.integer("phase_t", in: 0 ... 100_000) ?? settings.phaseTimestep
        settings.localBias = try reader.number("local_bias", in: -1e4 ... 1e4) ?? settings.localBias
        settings.globalBias = try reader.number("global_bias", in: -1e4 ... 1e4) ?? settings.globalBias
        settings.syncGroupNorm = try reader.boolean("sync_groupnorm") ?? settings.syncGroupNorm
        settings.referencePadding = try reader.boolean("reference_padding") ?? settings.referencePadding
        settings.referenceGlobalSampling = try reader.boolean("reference_global_sampling") ?? settings.referenceGlobalSampling
        settings.tokenCountScale = try reader.boolean("token_count_scale") ?? settings.tokenCountScale
        return settings
    }

    // MARK: Paths (plain string work: this module does without Foundation)

    /// `path` made absolute against `directory`, with `.` components and doubled slashes removed.
    static func absolute(_ path: String, in directory: String) -> String {
        let joined = path.hasPrefix("/") ? path : directory + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") where part != "." {
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The absolute folder holding `file`.
    static func folder(of file: String, in directory: String) -> String {
        let path = absolute(file, in: directory)
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    static func currentDirectory() -> String {
        guard let pointer = getcwd(nil, 0) else { return "." }
        defer { free(pointer) }
        return String(cString: pointer)
    }
}
