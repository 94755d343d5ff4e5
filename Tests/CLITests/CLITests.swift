import Foundation
import Model
import TestSupport
import Testing

/// The `infinity` executable, run as a separate process.
@Suite("infinity command line")
struct CLITests {
    /// The binary SwiftPM built beside the test bundle.
    static var binary: URL { infinityBinary }

    /// The ModelTests fixtures.
    static var fixtures: String { DiffusersFixtures.root }

    /// Runs `infinity arguments...`; returns the exit status, stdout and stderr.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        let errData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    static func temporaryFile(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("infinity-cli-\(UUID().uuidString)-\(name)").path
    }

    @Test("forward reproduces diffusers' output for the fixture inputs")
    func forward() throws {
        let out = Self.temporaryFile("forward.safetensors")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try Self.run(["forward", "--model", "\(Self.fixtures)/unet-tiny",
                                   "--inputs", "\(Self.fixtures)/unet-tiny/forward-inputs.safetensors",
                                   "--out", out, "--threads", "2"])
        #expect(result.status == 0, "\(result.error)")
        let produced = try SafeTensorsFile(path: out)
        let expected = try SafeTensorsFile(path: "\(Self.fixtures)/unet-tiny/forward-output.safetensors")
        #expect(produced.shape(of: "sample") == expected.shape(of: "sample"))
        let difference = zip(try produced.floats("sample"), try expected.floats("sample")).map { abs($0 - $1) }.max()!
        #expect(difference <= 1e-4)
    }

    @Test("generate writes latents of the requested size")
    func generate() throws {
        let out = Self.temporaryFile("latents.safetensors")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try Self.run(["generate", "--model", "\(Self.fixtures)/unet-tiny",
                                   "--embeddings", "\(Self.fixtures)/unet-tiny/embeddings.safetensors",
                                   "--frames", "12", "--clip-frames", "4", "--workers", "in-process:2",
                                   "--local-frames", "2", "--global-frames", "4", "--sync-groupnorm",
                                   "--height", "4", "--width", "6", "--steps", "2", "--seed", "5",
                                   "--scheduler", "dpm++", "--out", out])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("as 3 clips of 4 frames or fewer on 2 in-process workers"))
        #expect(result.output.contains("step 2/2 x 3 clips"))
        #expect(try SafeTensorsFile(path: out).shape(of: "latents") == [4, 12, 4, 6])
    }

    @Test("bad flags fail with a message naming the flag", arguments: [
        (["generate", "--model", "m", "--embeddings", "e", "--out", "o", "--frames", "0"],
         "infinity: --frames must be an integer in 1...1000000, got '0'"),
        (["forward", "--model"], "infinity: --model needs a value"),
        (["forward", "--inputs", "x", "--out", "y"], "infinity: missing required option --model"),
        (["forward", "--threads", "x"], "infinity: --threads must be an integer in 1...1024, got 'x'"),
        (["forward", "--model", "m", "--seed", "1"], "infinity: unknown option '--seed'"),
        (["frobnicate"], "infinity: unknown command 'frobnicate'"),
        (["generate", "--model", "m", "--embeddings", "e", "--out", "o", "--frames", "8", "--height", "4",
          "--width", "4", "--workers", "cluster:2"], "infinity: --workers must be in-process:N with N in 1...256, got 'cluster:2'"),
        (["generate", "--model", "m", "--embeddings", "e", "--out", "o", "--frames", "8", "--clip-frames", "9",
          "--height", "4", "--width", "4"], "infinity: clip frames (9) cannot exceed the video's frames (8)"),
        (["generate", "--model", "m", "--embeddings", "e", "--out", "o", "--frames", "16", "--clip-frames", "4",
          "--height", "4", "--width", "4"], "infinity: local frames (8) cannot exceed the shortest clip (4 frames)"),
        (["forward", "--model", "/no/such/dir", "--inputs", "x", "--out", "y"], "infinity: model folder '/no/such/dir' does not exist"),
    ])
    func badFlags(arguments: [String], message: String) throws {
        let result = try Self.run(arguments)
        #expect(result.status == 1)
        #expect(result.error.hasPrefix(message), "\(result.error)")
    }
}
