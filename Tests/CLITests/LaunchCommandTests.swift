import Foundation
import Model
import Testing

/// `infinity launch` as a process: brings a cluster up, stops it on SIGTERM, and never leaves a
/// child behind (SIGTERM, SIGKILL of launch, failed startups).
///
/// The lifecycle tests run a stand-in for the coordinator and the workers (the `executable`
/// key): a script that execs `infinity coordinator --listen <its --listen>`, which serves health
/// like the real processes. The last test runs the repository's cluster.toml with the real
/// `infinity worker` once the binary has that command.
@Suite("infinity launch", .serialized)
struct LaunchCommandTests {
    /// A cluster in a fresh folder: a cluster.toml whose processes are the stand-in (or
    /// `workerExecutable` for the workers), on ports no other test uses.
    struct Cluster {
        let folder: String
        let config: String
        let ports: [Int]

        init(workers: Int = 2, workerExecutable: String = "stand-in.sh") throws {
            folder = CLITests.temporaryFile("launch")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let script = """
                #!/bin/sh
                # Stands in for `infinity coordinator` / `infinity worker`: serves health on --listen.
                listen=""; previous=""
                for argument in "$@"; do [ "$previous" = "--listen" ] && listen="$argument"; previous="$argument"; done
                exec '\(CLITests.binary.path)' coordinator --listen "$listen"
                """
            try script.write(toFile: folder + "/stand-in.sh", atomically: true, encoding: .utf8)
            try "#!/bin/sh\nexec sleep 60\n".write(toFile: folder + "/silent.sh", atomically: true, encoding: .utf8)
            for name in ["stand-in.sh", "silent.sh"] { chmod(folder + "/" + name, 0o755) }
            let base = Int.random(in: 20_000 ... 60_000)
            ports = Array(base ... base + workers)
            var text = "[coordinator]\naddress = \"127.0.0.1:\(ports[0])\"\nexecutable = \"stand-in.sh\"\n[model]\npath = \"model\"\n"
            for port in ports.dropFirst() {
                text += "[[workers]]\nhost = \"127.0.0.1\"\nport = \(port)\nthreads = 1\nexecutable = \"\(workerExecutable)\"\n"
            }
            config = folder + "/cluster.toml"
            try text.write(toFile: config, atomically: true, encoding: .utf8)
        }

        func remove() { try? FileManager.default.removeItem(atPath: folder) }
    }

    /// A running `infinity launch` and what it printed so far.
    final class Launch {
        let process = Process()
        let output = Pipe()
        var text = ""

        init(_ arguments: [String]) throws {
            process.executableURL = CLITests.binary
            process.arguments = ["launch"] + arguments
            process.standardOutput = output
            process.standardError = output
            try process.run()
        }

        /// Reads output until it contains `marker`; false at end of output.
        func read(until marker: String) -> Bool {
            while !text.contains(marker) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { return false }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return true
        }

        /// Reads the rest of the output and waits for the exit.
        func finish() -> Int32 {
            text += String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return process.terminationStatus
        }

        /// The pids of the children launch reported starting, by name.
        var children: [String: pid_t] {
            var found: [String: pid_t] = [:]
            for line in text.split(separator: "\n") where line.hasPrefix("launch: started ") {
                let name = line.dropFirst("launch: started ".count).prefix { $0 != "(" }.dropLast()
                let pid = line.split(separator: "(pid ").dropFirst().first?.prefix { $0.isNumber }
                if let pid, let number = pid_t(pid) { found[String(name)] = number }
            }
            return found
        }
    }

    /// `/proc/<pid>/stat`'s state and process group; nil once the process is gone (a zombie counts as gone).
    static func status(_ pid: pid_t) -> (state: Character, group: pid_t)? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let state = fields[0].first, state != "Z", let group = pid_t(fields[2]) else { return nil }
        return (state, group)
    }

    /// Live processes whose command line names one of `ports` on loopback.
    static func processes(using ports: [Int]) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(pid_t.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), status(pid) != nil else { return false }
            let line = String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
            return ports.contains { line.contains("127.0.0.1:\($0) ") || line.hasSuffix("127.0.0.1:\($0)") }
        }
    }

    /// Waits up to `seconds` for `pids` to be gone; returns those still alive.
    static func survivors(_ pids: [pid_t], within seconds: Double) -> [pid_t] {
        let deadline = Date().addingTimeInterval(seconds)
        var alive = pids.filter { status($0) != nil }
        while !alive.isEmpty && Date() < deadline {
            usleep(50_000)
            alive = alive.filter { status($0) != nil }
        }
        return alive
    }

    @Test("brings every process up in its own process group and leaves none behind after SIGTERM", .timeLimit(.minutes(1)))
    func upAndDown() throws {
        let cluster = try Cluster()
        defer { cluster.remove() }
        let launch = try Launch([cluster.config, "--grace", "5"])
        #expect(launch.read(until: "stops them all"), "\(launch.text)")
        let children = launch.children
        #expect(children.keys.sorted() == ["coordinator", "worker 0", "worker 1"], "\(launch.text)")
        for (name, port) in zip(["coordinator", "worker 0", "worker 1"], cluster.ports) {
            #expect(launch.text.contains("127.0.0.1:\(port)  serving"), "\(launch.text)")
            let pid = try #require(children[name])
            #expect(Self.status(pid)?.group == pid, "\(name) is not the leader of its own process group")
        }
        #expect(Set(Self.processes(using: cluster.ports)) == Set(children.values))

        kill(launch.process.processIdentifier, SIGTERM)
        #expect(launch.finish() == 0, "\(launch.text)")
        #expect(launch.text.contains("launch: terminated (SIGTERM), stopping the cluster"))
        #expect(launch.text.contains("launch: stopped 3 processes"))
        #expect(Self.survivors(Array(children.values), within: 0).isEmpty)
        #expect(Self.processes(using: cluster.ports).isEmpty)
    }

    @Test("children die with launch even when launch is SIGKILLed", .timeLimit(.minutes(1)))
    func killedLaunch() throws {
        let cluster = try Cluster(workers: 1)
        defer { cluster.remove() }
        let launch = try Launch([cluster.config])
        #expect(launch.read(until: "stops them all"), "\(launch.text)")
        let children = Array(launch.children.values)
        #expect(children.count == 2)
        kill(launch.process.processIdentifier, SIGKILL)
        _ = launch.finish()
        #expect(Self.survivors(children, within: 15).isEmpty, "children outlived launch")
        #expect(Self.processes(using: cluster.ports).isEmpty)
    }

    @Test("a worker that exits while starting stops the cluster, naming the worker", .timeLimit(.minutes(1)))
    func workerExits() throws {
        let cluster = try Cluster(workers: 1, workerExecutable: "/bin/false")
        defer { cluster.remove() }
        let launch = try Launch([cluster.config])
        #expect(launch.finish() == 1)
        #expect(launch.text.contains("infinity: worker 0 (127.0.0.1:\(cluster.ports[1])) exited with status 1 before it was serving"),
                "\(launch.text)")
        #expect(Self.survivors(Array(launch.children.values), within: 0).isEmpty)
    }

    @Test("a worker that never serves fails the startup after the timeout, naming the worker", .timeLimit(.minutes(1)))
    func workerSilent() throws {
        let cluster = try Cluster(workers: 2, workerExecutable: "silent.sh")
        defer { cluster.remove() }
        let launch = try Launch([cluster.config, "--startup-timeout", "2", "--grace", "1"])
        #expect(launch.finish() == 1)
        #expect(launch.text.contains("infinity: worker 0 (127.0.0.1:\(cluster.ports[1])), worker 1 (127.0.0.1:\(cluster.ports[2])) are not serving health after 2 s"),
                "\(launch.text)")
        let children = Array(launch.children.values)
        #expect(children.count == 3)
        #expect(Self.survivors(children, within: 0).isEmpty)
    }

    @Test("a bad cluster.toml fails naming file:line:column and the key")
    func badConfig() throws {
        let cluster = try Cluster(workers: 1)
        defer { cluster.remove() }
        try "[coordinator]\naddress = \"127.0.0.1:1\"\n[model]\npath = \"m\"\n[[workers]]\nhost = \"127.0.0.1\"\nport = 0\n"
            .write(toFile: cluster.config, atomically: true, encoding: .utf8)
        let result = try CLITests.run(["launch", cluster.config])
        #expect(result.status == 1)
        #expect(result.error == "infinity: \(cluster.config):7:8: workers[0].port: must be in 1...65535, got 0\n")
        let missing = try CLITests.run(["launch", cluster.folder + "/none.toml"])
        #expect(missing.status == 1)
        #expect(missing.error.hasPrefix("infinity: \(cluster.folder)/none.toml:"), "\(missing.error)")
    }

    @Test("the repository's cluster.toml comes up with real workers and leaves nothing behind after SIGTERM",
          .timeLimit(.minutes(2)))
    func repositoryCluster() throws {
        let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("cluster.toml").path
        let launch = try Launch([config, "--startup-timeout", "60"])
        #expect(launch.read(until: "stops them all"), "\(launch.text)")
        let children = launch.children
        #expect(children.keys.sorted() == ["coordinator", "worker 0", "worker 1"], "\(launch.text)")
        kill(launch.process.processIdentifier, SIGTERM)
        #expect(launch.finish() == 0, "\(launch.text)")
        #expect(Self.survivors(Array(children.values), within: 0).isEmpty)
        #expect(Self.processes(using: [50051, 50061, 50062]).isEmpty)
    }

    @Test("launch FILE -- generate runs one job on the cluster it starts, then stops it", .timeLimit(.minutes(3)))
    func launchAndGenerate() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("infinity-launch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let config = folder + "/cluster.toml"
        try """
            [coordinator]
            address = "127.0.0.1:50151"
            checkpoint_interval = 1
            [model]
            path = "\(CLITests.fixtures)/unet-tiny"
            [[workers]]
            host = "127.0.0.1"
            port = 50161
            threads = 1
            [[workers]]
            host = "127.0.0.1"
            port = 50162
            threads = 1
            [generation]
            frames = 12
            clip_frames = 4
            height = 4
            width = 6
            steps = 3
            [video_infinity]
            local_frames = 2
            global_frames = 4
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let out = folder + "/out.safetensors"
        let result = try CLITests.run(["launch", config, "--", "generate",
                                       "--embeddings", "\(CLITests.fixtures)/unet-tiny/embeddings.safetensors", "--out", out])
        #expect(result.status == 0, "\(result.output)\n\(result.error)")
        #expect(result.output.contains("step 3/3 x 3 clips"), "\(result.output)")
        #expect(result.output.contains("launch: stopped 3 processes"), "\(result.output)")
        let file = try SafeTensorsFile(path: out)
        #expect(file.shape(of: "latents") == [4, 12, 4, 6])
        #expect(Self.processes(using: [50151, 50161, 50162]).isEmpty)

        // The same job in-process gives the same latents.
        let local = folder + "/local.safetensors"
        let inProcess = try CLITests.run(["generate", "--model", "\(CLITests.fixtures)/unet-tiny", "--embeddings",
                                          "\(CLITests.fixtures)/unet-tiny/embeddings.safetensors", "--frames", "12",
                                          "--clip-frames", "4", "--height", "4", "--width", "6", "--steps", "3",
                                          "--local-frames", "2", "--global-frames", "4", "--threads", "1", "--out", local])
        #expect(inProcess.status == 0, "\(inProcess.error)")
        #expect(try SafeTensorsFile(path: local).floats("latents") == (try file.floats("latents")))
    }
}
