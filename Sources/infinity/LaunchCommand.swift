import ClusterConfig
import CProcessSpawn
import Dispatch
import Foundation
import NetworkAddress
import RPC
import Synchronization

/// `infinity launch [cluster.toml]`: starts the coordinator and the workers the file names
/// (local processes, or over ssh), waits until each serves `grpc.health.v1.Health`, prints
/// where everything is, and on SIGINT/SIGTERM stops them all (SIGTERM, then SIGKILL after a
/// grace period). Children run in their own process groups and die with launch, even when
/// launch is SIGKILLed (see Sources/CProcessSpawn).
enum LaunchCommand {
    static func run(_ arguments: ArraySlice<String>) async throws {
        // `launch [cluster.toml] [options] -- generate ARGS`: run one generation on the cluster
        // once it is up, then stop it.
        var rest = arguments
        var command: ArraySlice<String>?
        if let separator = arguments.firstIndex(of: "--") {
            rest = arguments[..<separator]
            command = arguments[(separator + 1)...]
            guard command?.first == "generate" else {
                throw Arguments.Failure(description: "launch runs `-- generate ARGS` on the cluster it starts; got '-- \(command?.joined(separator: " ") ?? "")'")
            }
        }
        var path = "cluster.toml"
        if let first = rest.first, !first.hasPrefix("-") {
            path = first
            rest = rest.dropFirst()
        }
        let options = try Arguments(rest, options: ["grace", "startup-timeout"])
        let grace = try options.int("grace", default: 10, range: 0 ... 3600)
        let startupTimeout = try options.int("startup-timeout", default: 60, range: 1 ... 3600)
        let configuration: ClusterConfiguration
        do {
            configuration = try ClusterConfiguration(contentsOfFile: path)
        } catch {
            throw Arguments.Failure(description: error.description)
        }
        let plan = LaunchPlan(configuration, executable: try currentExecutable())

        let supervisor = Supervisor(grace: .seconds(grace))
        supervisor.watchSignals()
        do {
            let deadline = ContinuousClock.now + .seconds(startupTimeout)
            try supervisor.start(plan.coordinator)
            try await supervisor.waitUntilServing([plan.coordinator], until: deadline, timeout: startupTimeout)
            for worker in plan.workers { try supervisor.start(worker) }
            try await supervisor.waitUntilServing(Array(plan.workers),
                                                  until: ContinuousClock.now + .seconds(startupTimeout), timeout: startupTimeout)
        } catch let interruption as Interruption {
            say("launch: \(interruption), stopping")
            await supervisor.stopAll()
            return
        } catch {
            say("launch: the cluster did not come up; stopping what was started")
            await supervisor.stopAll()
            throw error
        }

        printTable(plan, supervisor: supervisor, source: path)
        if let command {
            try await runOnCluster(Array(command.dropFirst()) + ["--cluster", path], supervisor: supervisor)
            return
        }
        let ending = await supervisor.supervise()
        say("launch: \(ending), stopping the cluster")
        await supervisor.stopAll()
        if case .coordinatorExited = ending { throw Arguments.Failure(description: "the cluster stopped: \(ending)") }
    }

    /// Runs `generate arguments` against the cluster, racing the cluster's own ending (a
    /// signal, or the coordinator exiting); stops the cluster either way.
    private static func runOnCluster(_ arguments: [String], supervisor: Supervisor) async throws {
        let outcome: Result<Void, any Error> = await withTaskGroup(of: Result<Void, any Error>?.self) { group in
            group.addTask {
                do {
                    try await GenerateCommand.run(arguments[...])
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                let ending = await supervisor.supervise()
                return Task.isCancelled ? nil : .failure(Arguments.Failure(description: "the cluster stopped before the generation ended: \(ending)"))
            }
            var first: Result<Void, any Error>?
            while first == nil, let next = await group.next() { first = next }
            group.cancelAll()
            return first ?? .success(())
        }
        say("launch: stopping the cluster")
        await supervisor.stopAll()
        try outcome.get()
    }

    private static func printTable(_ plan: LaunchPlan, supervisor: Supervisor, source: String) {
        let rows = plan.processes.map { process in
            [process.name, "pid \(supervisor.pid(of: process.name).map(String.init) ?? "?")",
             process.healthAddress.description, "serving", process.summary]
        }
        let widths = (0 ..< 4).map { column in rows.map { $0[column].count }.max() ?? 0 }
        say("launch: cluster up (\(source)):")
        for row in rows {
            say("  " + (0 ..< 4).map { row[$0].padding(to: widths[$0]) }.joined(separator: "  ") + "  " + row[4])
        }
        say("launch: Ctrl-C or SIGTERM (pid \(getpid())) stops them all")
    }

    /// This binary's absolute path, for the local processes.
    static func currentExecutable() throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { throw Arguments.Failure(description: "cannot find this program's path (/proc/self/exe)") }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `program` as a path to execute: itself when it holds a `/`, else the first match on PATH.
    static func resolve(_ program: String) throws -> String {
        if program.contains("/") { return program }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(program)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw Arguments.Failure(description: "cannot find '\(program)' on PATH")
    }
}

/// launch was asked to stop (SIGINT or SIGTERM).
private struct Interruption: Error, CustomStringConvertible {
    let signal: Int32
    var description: String { signal == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)" }
}

/// Why launch stops a running cluster.
private enum Ending: CustomStringConvertible {
    case signal(Interruption)
    case coordinatorExited(String)
    /// The supervising task was cancelled (the command run on the cluster ended).
    case cancelled

    var description: String {
        switch self {
        case .signal(let interruption): "\(interruption)"
        case .coordinatorExited(let how): "the coordinator \(how)"
        case .cancelled: "supervision ended"
        }
    }
}

/// The children launch started: starts them, records their exits and launch's signals, checks
/// their health and stops them. State sits behind a mutex: reaper threads and signal handlers
/// write to it, the launch task polls it.
private final class Supervisor: Sendable {
    private struct Child {
        let process: LaunchPlan.Process
        let pid: pid_t
        var exit: Int32?
    }

    private struct State {
        var children: [Child] = []
        /// Child exits not yet reported, by child index.
        var unreported: [Int] = []
        var signal: Int32?
    }

    private let state = Mutex(State())
    private let grace: Duration
    /// SIGINT and SIGTERM, for launch's lifetime. nonisolated(unsafe): set up once by
    /// `watchSignals` before any other use; their handlers run on their own serial queue.
    private nonisolated(unsafe) let signalSources: [any DispatchSourceSignal]

    init(grace: Duration) {
        self.grace = grace
        let queue = DispatchQueue(label: "infinity.launch.signals")
        signalSources = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: queue) }
    }

    /// Catches SIGINT and SIGTERM from now on (instead of dying of them).
    func watchSignals() {
        for source in signalSources {
            signal(Int32(source.handle), SIG_IGN)
            let number = Int32(source.handle)
            source.setEventHandler { [self] in
                state.withLock { if $0.signal == nil { $0.signal = number } }
            }
            source.resume()
        }
    }

    /// Starts `process` (its own process group; SIGTERM when launch dies) and a thread that reaps it.
    func start(_ process: LaunchPlan.Process) throws {
        let program = try LaunchCommand.resolve(process.arguments[0])
        let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let pid = try withCStrings(process.arguments) { argv in
            try withCStrings(environment) { envp in
                var pid: pid_t = 0
                let error = process_spawn(program, argv, envp, SIGTERM, &pid)
                guard error == 0 else {
                    throw Arguments.Failure(description: "cannot start \(process.name) (\(program)): \(String(cString: strerror(error)))")
                }
                return pid
            }
        }
        let index = state.withLock { state in
            state.children.append(Child(process: process, pid: pid))
            return state.children.count - 1
        }
        say("launch: started \(process.name) (pid \(pid)): \(process.arguments.joined(separator: " "))")
        Thread.detachNewThread { [self] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            state.withLock { state in
                state.children[index].exit = status
                state.unreported.append(index)
            }
        }
    }

    /// The pid of the child named `name`.
    func pid(of name: String) -> pid_t? {
        state.withLock { $0.children.first { $0.process.name == name }?.pid }
    }

    /// Waits until every one of `processes` serves health; throws when one exits first, when
    /// `deadline` passes (naming those not serving), or on SIGINT/SIGTERM.
    func waitUntilServing(_ processes: [LaunchPlan.Process], until deadline: ContinuousClock.Instant, timeout: Int) async throws {
        var waiting = processes
        while !waiting.isEmpty {
            try checkDuringStartup()
            var still: [LaunchPlan.Process] = []
            for process in waiting where !(await Self.isServing(process.healthAddress)) {
                still.append(process)
            }
            waiting = still
            if waiting.isEmpty { break }
            try checkDuringStartup()
            if ContinuousClock.now >= deadline {
                let names = waiting.map { "\($0.name) (\($0.healthAddress))" }.joined(separator: ", ")
                throw Arguments.Failure(description: "\(names) \(waiting.count == 1 ? "is" : "are") not serving health after \(timeout) s")
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Throws on a signal or on any child's exit while the cluster is starting.
    private func checkDuringStartup() throws {
        let (signal, exited) = state.withLock { state in
            (state.signal, state.unreported.first.map { state.children[$0] })
        }
        if let signal { throw Interruption(signal: signal) }
        if let exited {
            throw Arguments.Failure(description: "\(exited.process.name) (\(exited.process.healthAddress)) \(Self.describe(exited.exit!)) before it was serving")
        }
    }

    /// Runs until a signal, the coordinator's exit or the task's cancellation; reports workers
    /// that exit on the way.
    func supervise() async -> Ending {
        while true {
            if Task.isCancelled { return .cancelled }
            let (signal, exits) = state.withLock { state in
                defer { state.unreported.removeAll() }
                return (state.signal, state.unreported.map { state.children[$0] })
            }
            for child in exits {
                if case .coordinator = child.process.role { return .coordinatorExited(Self.describe(child.exit!)) }
                say("launch: \(child.process.name) (\(child.process.healthAddress)) \(Self.describe(child.exit!)); the others keep running")
            }
            if let signal { return .signal(Interruption(signal: signal)) }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Stops every child still running: the workers first, then the coordinator; each group
    /// gets SIGTERM, and SIGKILL for whatever still runs after the grace period.
    func stopAll() async {
        await stop { if case .worker = $0 { true } else { false } }
        await stop { $0 == .coordinator }
        let count = state.withLock { $0.children.count }
        say("launch: stopped \(count) process\(count == 1 ? "" : "es")")
    }

    private func stop(_ selected: (LaunchPlan.Process.Role) -> Bool) async {
        func running() -> [pid_t] {
            state.withLock { $0.children.filter { $0.exit == nil && selected($0.process.role) }.map(\.pid) }
        }
        for pid in running() { kill(-pid, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while !running().isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let stubborn = running()
        for pid in stubborn {
            say("launch: pid \(pid) still runs after the \(grace) grace period: SIGKILL")
            kill(-pid, SIGKILL)
        }
        while !running().isEmpty {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Whether `endpoint`'s health Check answers SERVING.
    static func isServing(_ endpoint: Endpoint) async -> Bool {
        let channel = RPCChannel(host: endpoint.host, port: endpoint.port,
                                 configuration: ChannelConfiguration(connectTimeout: .seconds(1)))
        let serving: Bool
        do {
            let response: HealthCheckResponse = try await channel.unary(
                HealthService.check, request: HealthCheckRequest(), options: CallOptions(timeout: .seconds(1)))
            serving = response.status == .serving
        } catch {
            serving = false
        }
        await channel.close()
        return serving
    }

    /// A wait status in words: `exited with status 1`, `was killed by signal 9`.
    static func describe(_ status: Int32) -> String {
        let signal = status & 0x7f
        return signal == 0 ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(signal)"
    }
}

/// Calls `body` with `strings` as a NULL-terminated C array (alive for the call only).
private func withCStrings<Result>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) throws -> Result) rethrows -> Result {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return try body(pointers)
}
