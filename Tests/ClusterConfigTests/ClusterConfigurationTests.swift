@testable import ClusterConfig
import Foundation
import NetworkAddress
import Testing

/// cluster.toml read into ``ClusterConfiguration``: the shipped example, defaults, and one
/// error per kind of mistake, each naming file:line:column and the key path.
@Suite("cluster.toml")
struct ClusterConfigurationTests {
    /// The repository's top-level example.
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("cluster.toml").path

    /// The smallest valid file; cases below append to it or replace a line of it.
    static let minimal = """
        [coordinator]
        address = "127.0.0.1:50051"

        [model]
        path = "models/unet"

        [[workers]]
        host = "127.0.0.1"
        port = 50061

        """

    static func read(_ text: String) throws(ClusterConfigurationError) -> ClusterConfiguration {
        let document: TOMLDocument
        do {
            document = try TOMLDocument(string: text, sourceName: "c.toml")
        } catch {
            throw ClusterConfigurationError(source: error.source, position: error.position, keyPath: "", message: error.message)
        }
        return try ClusterConfiguration(document, baseDirectory: "/srv/cluster")
    }

    @Test("the example cluster.toml describes a local 2-worker cluster on the bundled model")
    func example() throws {
        let configuration = try ClusterConfiguration(contentsOfFile: Self.example)
        let root = URL(fileURLWithPath: Self.example).deletingLastPathComponent().path
        #expect(configuration.coordinator.address == Endpoint(host: "127.0.0.1", port: 50051))
        #expect(configuration.coordinator.tokenFile == nil)
        #expect(configuration.coordinator.checkpointDirectory == nil)
        #expect(configuration.model.path == root + "/models/tiny-shapes")
        #expect(FileManager.default.fileExists(atPath: configuration.model.path + "/unet"))
        #expect(configuration.workers.map(\.address) == [Endpoint(host: "127.0.0.1", port: 50061),
                                                          Endpoint(host: "127.0.0.1", port: 50062)])
        #expect(configuration.workers.allSatisfy { $0.backend == .cpu(threads: 1) && $0.ssh == nil && $0.maxClips == 64 })
        #expect(configuration.generation.frames == 256 && configuration.generation.clipFrames == 8)
        #expect(configuration.generation.height == 16 && configuration.generation.width == 16 && configuration.generation.steps == 16)
        #expect(configuration.videoInfinity.localFrames == 2 && configuration.videoInfinity.globalFrames == 4)
    }

    @Test("absent optional keys take their documented defaults; paths resolve against the file's folder")
    func defaults() throws {
        let configuration = try Self.read(Self.minimal)
        #expect(configuration.coordinator == ClusterConfiguration.Coordinator(
            address: Endpoint(host: "127.0.0.1", port: 50051), advertiseAddress: Endpoint(host: "127.0.0.1", port: 50051),
            tokenFile: nil, checkpointInterval: 2, checkpointDirectory: nil, heartbeatIntervalMilliseconds: 500,
            heartbeatTimeoutMilliseconds: 3000, executable: nil))
        #expect(configuration.model.path == "/srv/cluster/models/unet")
        #expect(configuration.workers == [ClusterConfiguration.Worker(
            address: Endpoint(host: "127.0.0.1", port: 50061), backend: .cpu(threads: nil), maxClips: 4, ssh: nil, executable: nil)])
        #expect(configuration.generation == ClusterConfiguration.Generation())
        #expect(configuration.videoInfinity == ClusterConfiguration.VideoInfinity())
    }

    @Test("every key read")
    func everyKey() throws {
        let configuration = try Self.read("""
            [coordinator]
            address = "0.0.0.0:7000"
            advertise_address = "[fd00::5]:7000"
            token_file = "./secrets/token"
            checkpoint_interval = 5
            checkpoint_dir = "/var/ckpt"
            heartbeat_interval_ms = 100
            heartbeat_timeout_ms = 1000
            executable = "bin/infinity"
            [model]
            path = "/models/zeroscope"
            [[workers]]
            host = "gpu1.lan"
            port = 7001
            backend = "vulkan"
            device = 1
            max_clips = 2
            ssh = "me@gpu1.lan"
            executable = "infinity-dev"
            [generation]
            frames = 64
            clip_frames = 16
            height = 40
            width = 72
            steps = 25
            guidance = 9
            seed = 42
            scheduler = "dpm++"
            fps = 12.5
            [video_infinity]
            local_frames = 4
            global_frames = 8
            phase_t = 500
            local_bias = -2.5
            global_bias = 3
            sync_groupnorm = true
            reference_padding = true
            reference_global_sampling = true
            token_count_scale = true
            """)
        #expect(configuration.coordinator == ClusterConfiguration.Coordinator(
            address: Endpoint(host: "0.0.0.0", port: 7000), advertiseAddress: Endpoint(host: "fd00::5", port: 7000),
            tokenFile: "/srv/cluster/secrets/token", checkpointInterval: 5, checkpointDirectory: "/var/ckpt",
            heartbeatIntervalMilliseconds: 100, heartbeatTimeoutMilliseconds: 1000, executable: "/srv/cluster/bin/infinity"))
        #expect(configuration.model.path == "/models/zeroscope")
        #expect(configuration.workers == [ClusterConfiguration.Worker(
            address: Endpoint(host: "gpu1.lan", port: 7001), backend: .vulkan(device: 1), maxClips: 2, ssh: "me@gpu1.lan",
            executable: "infinity-dev")])
        var generation = ClusterConfiguration.Generation()
        (generation.frames, generation.clipFrames, generation.height, generation.width) = (64, 16, 40, 72)
        (generation.steps, generation.guidance, generation.seed, generation.scheduler, generation.fps) = (25, 9, 42, .dpmSolverPlusPlus, 12.5)
        #expect(configuration.generation == generation)
        #expect(configuration.videoInfinity == ClusterConfiguration.VideoInfinity(
            localFrames: 4, globalFrames: 8, phaseTimestep: 500, localBias: -2.5, globalBias: 3, syncGroupNorm: true,
            referencePadding: true, referenceGlobalSampling: true, tokenCountScale: true))
        #expect(configuration.coordinator.advertiseAddress.description == "[fd00::5]:7000")
    }

    @Test("each mistake is rejected naming file:line:column and the key path", arguments: [
        // A TOML syntax error: toml++'s own message and position.
        (minimal + "port = 1\n", "c.toml:10:8: Error while parsing key-value pair: cannot redefine existing integer 'port'"),
        // Wrong type.
        (minimal.replacingOccurrences(of: "port = 50061", with: "port = \"50061\""),
         "c.toml:9:8: workers[0].port: must be an integer, got string"),
        (minimal + "[generation]\nsteps = 2.5\n", "c.toml:11:9: generation.steps: must be an integer, got float"),
        (minimal + "[video_infinity]\nsync_groupnorm = 1\n", "c.toml:11:18: video_infinity.sync_groupnorm: must be a boolean, got integer"),
        ("video_infinity = 3\n" + minimal, "c.toml:1:18: video_infinity: must be a table, got integer"),
        (minimal + "[generation]\nguidance = \"high\"\n", "c.toml:11:12: generation.guidance: must be a number, got string"),
        // Out of range.
        (minimal.replacingOccurrences(of: "port = 50061", with: "port = 70000"),
         "c.toml:9:8: workers[0].port: must be in 1...65535, got 70000"),
        (minimal + "threads = 0\n", "c.toml:10:11: workers[0].threads: must be in 1...1024, got 0"),
        (minimal + "[generation]\nguidance = 101.5\n", "c.toml:11:12: generation.guidance: must be a number in 0.0...100.0, got 101.5"),
        (minimal + "[video_infinity]\nlocal_bias = nan\n", "c.toml:11:14: video_infinity.local_bias: must be a number in -10000.0...10000.0, got nan"),
        (minimal + "[generation]\nframes = 8\nclip_frames = 9\n", "c.toml:12:15: generation.clip_frames: must be in 1...8, got 9"),
        (minimal.replacingOccurrences(of: "address = \"127.0.0.1:50051\"", with: "address = \"127.0.0.1\""),
         "c.toml:2:11: coordinator.address: must be HOST:PORT (IPv6 as [ADDRESS]:PORT) with a port in 1...65535, got \"127.0.0.1\""),
        (minimal.replacingOccurrences(of: "address = \"127.0.0.1:50051\"", with: "address = \"127.0.0.1:50051\"\nheartbeat_interval_ms = 5000"),
         "c.toml:3:25: coordinator.heartbeat_interval_ms: the heartbeat timeout (3000 ms) must exceed the heartbeat interval (5000 ms)"),
        (minimal + "backend = \"metal\"\n", "c.toml:10:11: workers[0].backend: must be one of \"cpu\", \"vulkan\", got \"metal\""),
        (minimal + "backend = \"vulkan\"\nthreads = 2\n", "c.toml:11:11: workers[0].threads: applies to backend \"cpu\" only (this worker's backend is \"vulkan\")"),
        (minimal + "device = 0\n", "c.toml:10:10: workers[0].device: applies to backend \"vulkan\" only (this worker's backend is \"cpu\")"),
        (minimal + "weight_precision = \"f16\"\n", "c.toml:10:20: workers[0].weight_precision: applies to backend \"vulkan\" only (this worker's backend is \"cpu\")"),
        (minimal + "backend = \"vulkan\"\nweight_precision = \"f8\"\n", "c.toml:11:20: workers[0].weight_precision: must be one of \"f32\", \"f16\", got \"f8\""),
        (minimal + "cooperative_matrix = \"on\"\n", "c.toml:10:22: workers[0].cooperative_matrix: applies to backend \"vulkan\" only (this worker's backend is \"cpu\")"),
        (minimal + "backend = \"vulkan\"\ncooperative_matrix = \"yes\"\n", "c.toml:11:22: workers[0].cooperative_matrix: must be one of \"auto\", \"on\", \"off\", got \"yes\""),
        (minimal + "ssh = \"-oProxyCommand=x\"\n", "c.toml:10:7: workers[0].ssh: must be a destination such as \"user@host\" (no spaces, no leading '-'), got \"-oProxyCommand=x\""),
        // Unknown keys, at every level.
        (minimal.replacingOccurrences(of: "address =", with: "adress ="),
         "c.toml:2:1: coordinator.adress: unknown key (known: address, advertise_address, token_file, checkpoint_interval, checkpoint_dir, heartbeat_interval_ms, heartbeat_timeout_ms, executable)"),
        (minimal + "[[workers]]\nhost = \"127.0.0.1\"\nport = 50062\ngpu = 1\n",
         "c.toml:13:1: workers[1].gpu: unknown key (known: host, port, backend, threads, device, weight_precision, cooperative_matrix, max_clips, ssh, executable)"),
        ("title = \"x\"\n" + minimal, "c.toml:1:1: title: unknown key (known: coordinator, model, workers, generation, video_infinity)"),
        // Missing required keys: the position is the table that lacks them.
        (minimal.replacingOccurrences(of: "path = \"models/unet\"", with: ""), "c.toml:4:1: model.path: missing required key"),
        (minimal.replacingOccurrences(of: "port = 50061", with: ""), "c.toml:7:1: workers[0].port: missing required key"),
        (minimal.replacingOccurrences(of: "[[workers]]\nhost = \"127.0.0.1\"\nport = 50061", with: ""), "c.toml:1:1: workers: missing required key"),
        ("[model]\npath = \"m\"\n", "c.toml:1:1: coordinator: missing required key"),
        // Duplicate addresses.
        (minimal + "[[workers]]\nhost = \"127.0.0.1\"\nport = 50061\n", "c.toml:12:8: workers[1].port: 127.0.0.1:50061 is already workers[0]'s address"),
        (minimal.replacingOccurrences(of: "port = 50061", with: "port = 50051"), "c.toml:9:8: workers[0].port: 127.0.0.1:50051 is already coordinator.address's address"),
        // Security: a non-loopback address needs a token.
        (minimal.replacingOccurrences(of: "host = \"127.0.0.1\"", with: "host = \"10.0.0.7\""),
         "c.toml:1:1: coordinator.token_file: is required because workers[0] (10.0.0.7:50061) is not a loopback address"),
        (minimal.replacingOccurrences(of: "address = \"127.0.0.1:50051\"", with: "address = \"0.0.0.0:50051\"\ntoken_file = \"t\""),
         "c.toml:2:11: coordinator.address: listens on every interface (0.0.0.0): set coordinator.advertise_address to the HOST:PORT workers dial"),
    ])
    func mistakes(text: String, message: String) {
        do {
            let configuration = try Self.read(text)
            Issue.record("accepted: \(configuration)")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error)")
            #expect(error.position.line > 0 && error.position.column > 0)
        }
    }

    @Test("relative paths resolve against the file's folder")
    func paths() {
        #expect(ClusterConfiguration.absolute("models/unet", in: "/srv/c") == "/srv/c/models/unet")
        #expect(ClusterConfiguration.absolute("./a//b/./c", in: "/srv/c/") == "/srv/c/a/b/c")
        #expect(ClusterConfiguration.absolute("/abs/x", in: "/srv/c") == "/abs/x")
        #expect(ClusterConfiguration.folder(of: "cluster.toml", in: "/work/main") == "/work/main")
        #expect(ClusterConfiguration.folder(of: "conf/cluster.toml", in: "/work") == "/work/conf")
        #expect(ClusterConfiguration.folder(of: "/cluster.toml", in: "/work") == "/")
    }

    @Test("endpoints parse HOST:PORT and [IPv6]:PORT")
    func endpoints() {
        #expect(Endpoint(parsing: "127.0.0.1:50051") == Endpoint(host: "127.0.0.1", port: 50051))
        #expect(Endpoint(parsing: "[::1]:8080") == Endpoint(host: "::1", port: 8080))
        #expect(Endpoint(parsing: "::1:8080") == nil)
        #expect(Endpoint(parsing: "host:0") == nil)
        #expect(Endpoint(parsing: "host:65536") == nil)
        #expect(Endpoint(parsing: ":80") == nil)
        #expect(Endpoint(host: "::1", port: 1).isLoopback && Endpoint(host: "localhost", port: 1).isLoopback)
        #expect(!Endpoint(host: "10.1.2.3", port: 1).isLoopback)
    }
}
