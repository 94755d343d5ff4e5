import Foundation
import Model
import Testing

/// `generate --prompt` with the bundled model (models/tiny-shapes): its text encoder runs in
/// the CLI, in-process and for a cluster.
@Suite("generate --prompt with the bundled model")
struct PromptTests {
    static let model = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/tiny-shapes").path

    @Test("two prompts over three clips give 3-channel pixel frames")
    func prompts() throws {
        let out = CLITests.temporaryFile("prompt.safetensors")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try CLITests.run(["generate", "--model", Self.model,
                                       "--prompt", "a red circle moving right", "--prompt", "a blue square moving down",
                                       "--frames", "24", "--clip-frames", "8", "--height", "16", "--width", "16",
                                       "--steps", "2", "--local-frames", "2", "--global-frames", "4", "--threads", "2",
                                       "--out", out])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("2 prompts"), "\(result.output)")
        let latents = try SafeTensorsFile(path: out)
        #expect(latents.shape(of: "latents") == [3, 24, 16, 16])
        #expect(try latents.floats("latents").allSatisfy(\.isFinite))
    }

    @Test("prompt errors name the problem before any denoising", arguments: [
        (["--prompt", "a pink circle moving right"], "unknown word \"pink\""),
        (["--prompt", "a red circle moving right", "--embeddings", "x.safetensors"], "give either --prompt TEXT (repeatable) or --embeddings FILE, not both"),
        (["--negative-prompt", "blue"], "missing --prompt TEXT"),
    ])
    func promptErrors(extra: [String], message: String) throws {
        let result = try CLITests.run(["generate", "--model", Self.model, "--frames", "8", "--height", "16", "--width", "16",
                                       "--steps", "1", "--local-frames", "2", "--global-frames", "4",
                                       "--out", CLITests.temporaryFile("x.safetensors")] + extra)
        #expect(result.status == 1)
        #expect(result.error.contains(message), "\(result.error)")
    }
}
