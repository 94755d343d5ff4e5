import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs the Python side of the interop and bad-input tests (scripts/interop) from Swift tests:
/// finds the venv `scripts/interop/setup-venv.sh` makes, starts the grpcio server, runs the
/// client drivers and reads their one-line-per-check reports.
enum Interop {
    /// The package's root directory (this file is Tests/RPCTests/InteropHarness.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The venv's interpreter.
    static let python = root.appendingPathComponent(".venv-interop/bin/python").path

    /// The shared cluster-style token both sides use in these tests.
    static let token = "interop-token-\(UInt32.random(in: 0 ... .max))"

    /// Whether the venv exists. The tests needing it are disabled, with this reason, without it:
    /// a missing venv must read as "not run", never as a pass.
    static let isAvailable = FileManager.default.isExecutableFile(atPath: python)
    static let unavailableReason: Comment =
        "needs .venv-interop with grpcio (run scripts/interop/setup-venv.sh; .ci/run does)"

    /// The path of a script in scripts/interop.
    static func script(_ name: String) -> String {
        root.appendingPathComponent("scripts/interop/\(name)").path
    }
}

/// A child process whose output goes to a temporary file (never a pipe: a chatty child could
/// fill a pipe nobody reads and stall).
final class ChildProcess: @unchecked Sendable {
    // @unchecked: Process is not Sendable; every use after start() is a read of its state or
    // terminate(), which Foundation allows from any thread.
    private let process = Process()
    private let outputURL: URL

    /// Starts `executable` with `arguments`; the environment is this process's plus `environment`.
    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        outputURL = FileManager.default.temporaryDirectory
            .appendingPathComponent("infinity-interop-\(UUID().uuidString).log")
        guard FileManager.default.createFile(atPath: outputURL.path, contents: nil) else {
            throw InteropFailure("cannot create the log file \(outputURL.path)")
        }
        let output = try FileHandle(forWritingTo: outputURL)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try output.close()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: outputURL)
    }

    /// Everything the process wrote so far.
    var output: String {
        (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
    }

    /// Waits until the process exits (killing it after `timeout`); returns its exit status, or
    /// nil if it had to be killed.
    func wait(timeout: Duration) async -> Int32? {
        if await exited(within: timeout) { return process.terminationStatus }
        // SIGKILL: the child may have SIGTERM blocked (a spawn from a libdispatch thread passes
        // that thread's signal mask on). Polling, not waitUntilExit(), which spins a run loop
        // on Linux.
        kill(process.processIdentifier, SIGKILL)
        _ = await exited(within: .seconds(10))
        return nil
    }

    /// Polls until the process has exited or `timeout` passed; true if it exited.
    private func exited(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// Waits for a line `LISTENING <port>` and returns the port; throws with the process's output
    /// if it exits or takes longer than `timeout`.
    func listeningPort(timeout: Duration = .seconds(30)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            for line in output.split(separator: "\n") where line.hasPrefix("LISTENING ") {
                if let port = Int(line.dropFirst("LISTENING ".count)) { return port }
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw InteropFailure("the server did not report a port within \(timeout):\n\(output)")
    }

    /// Stops the process (SIGTERM, then SIGKILL after 10 s) and waits for it.
    func stop() async {
        if process.isRunning { process.terminate() }
        _ = await wait(timeout: .seconds(10))
    }
}

/// An interop run that could not take place (a server that did not start, a driver that hung).
struct InteropFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The report of echo_client.py or bad_input.py: `PASS name (...)`, `FAIL name: why` (possibly
/// followed by a traceback), `SKIP name: why`, then a summary line.
struct CheckReport {
    var passed: [String] = []
    var failed: [(name: String, detail: String)] = []
    var skipped: [String] = []

    init(_ output: String) {
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("PASS ") {
                passed.append(String(line.dropFirst(5).prefix { $0 != " " }))
            } else if line.hasPrefix("FAIL ") {
                let rest = line.dropFirst(5)
                let name = String(rest.prefix { $0 != ":" })
                failed.append((name, String(rest.dropFirst(name.count))))
            } else if line.hasPrefix("SKIP ") {
                skipped.append(String(line.dropFirst(5).prefix { $0 != ":" }))
            } else if !failed.isEmpty, line.hasPrefix(" ") || line.hasPrefix("Traceback") {
                failed[failed.count - 1].detail += "\n" + line
            }
        }
    }

    /// Runs `script` of scripts/interop against `target` and parses its report. Fails the test
    /// (not just the check) when the driver hangs or exits without a report.
    static func run(_ script: String, target: String, arguments: [String] = [], token: String? = Interop.token,
                    timeout: Duration = .seconds(300)) async throws -> (report: CheckReport, output: String, status: Int32) {
        let driver = try ChildProcess(Interop.python, ["-u", Interop.script(script), target] + arguments,
                                      environment: token.map { ["INTEROP_TOKEN": $0] } ?? [:])
        guard let status = await driver.wait(timeout: timeout) else {
            throw InteropFailure("\(script) did not finish within \(timeout):\n\(driver.output)")
        }
        return (CheckReport(driver.output), driver.output, status)
    }

    /// Records one test issue per failed check, and one if the checks that passed are not
    /// exactly `expected`.
    func expectAllPassed(_ expected: [String], output: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for failure in failed {
            Issue.record("\(failure.name)\(failure.detail)", sourceLocation: sourceLocation)
        }
        #expect(passed.sorted() == expected.sorted(), "checks that passed; full report:\n\(output)",
                sourceLocation: sourceLocation)
    }
}
