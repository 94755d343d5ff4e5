import Foundation
import Model
import Testing

/// The backend flags from the command line: `--backend vulkan` (on lavapipe in CI) generates what
/// the CPU backend does within rounding, `infinity devices` lists the device (and its cooperative matrices), flags that do not
/// fit the chosen backend are refused by name, and the op benchmarks time the CPU kernel choices.
@Suite("backend flags")
struct BackendOptionTests {
    static func generate(_ backend: [String], out: String) throws -> (status: Int32, output: String, error: String) {
        try CLITests.run(["generate", "--model", PromptTests.model, "--prompt", "a red circle moving right",
                          "--frames", "16", "--clip-frames", "8", "--height", "16", "--width", "16", "--steps", "1",
                          "--local-frames", "2", "--global-frames", "4", "--out", out] + backend)
    }

    @Test("a two-clip generation on Vulkan matches the CPU backend within 1e-3")
    func generateOnVulkan() throws {
        let vulkanOut = CLITests.temporaryFile("vulkan.safetensors"), cpuOut = CLITests.temporaryFile("cpu.safetensors")
        defer { for path in [vulkanOut, cpuOut] { try? FileManager.default.removeItem(atPath: path) } }
        let vulkan = try Self.generate(["--backend", "vulkan"], out: vulkanOut)
        #expect(vulkan.status == 0, "\(vulkan.error)")
        let cpu = try Self.generate(["--backend", "cpu", "--threads", "2"], out: cpuOut)
        #expect(cpu.status == 0, "\(cpu.error)")
        let a = try SafeTensorsFile(path: vulkanOut).floats("latents")
        let b = try SafeTensorsFile(path: cpuOut).floats("latents")
        #expect(a.count == 3 * 16 * 16 * 16 && a.count == b.count)
        let scale = b.reduce(0) { max($0, abs($1)) }
        let difference = zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
        #expect(difference <= 1e-3 * scale, "max difference \(difference), scale \(scale)")
    }

    @Test("infinity devices lists the Vulkan devices and the default")
    func devices() throws {
        let result = try CLITests.run(["devices"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.hasPrefix("0: "), "\(result.output)")
        #expect(result.output.contains("default: device "), "\(result.output)")
        // Each device says whether it runs the cooperative-matrix GEMM, or what it lacks.
        #expect(result.output.contains("; cooperative matrices: ") || result.output.contains("; no cooperative-matrix GEMM: it lacks "),
                "\(result.output)")
    }

    @Test("flags that do not fit the backend are refused by name", arguments: [
        (["--backend", "vulkan", "--threads", "2"], "--threads applies to --backend cpu only"),
        (["--backend", "cpu", "--device", "0"], "--device applies to --backend vulkan only"),
        (["--device", "0"], "--device applies to --backend vulkan only"),
        (["--weight-precision", "f16"], "--weight-precision applies to --backend vulkan only"),
        (["--backend", "vulkan", "--weight-precision", "bf16"], "--weight-precision"),
        (["--backend", "vulkan", "--device", "99"], "--device 99 does not exist"),
        (["--backend", "metal"], "--backend"),
        (["--backend", "vulkan", "--cpu-kernels", "avx2"], "--cpu-kernels applies to --backend cpu only"),
        (["--cpu-kernels", "sse4"], "--cpu-kernels"),
        (["--cooperative-matrix", "on"], "--cooperative-matrix applies to --backend vulkan only"),
        (["--backend", "vulkan", "--cooperative-matrix", "yes"], "--cooperative-matrix"),
    ])
    func badFlags(flags: [String], message: String) throws {
        let result = try Self.generate(flags, out: CLITests.temporaryFile("never.safetensors"))
        #expect(result.status == 1)
        #expect(result.error.contains(message), "\(result.error)")
    }

    @Test("bench attention times both kernels in every instruction set this CPU runs, AVX2 first")
    func benchAttention() throws {
        let result = try CLITests.run(["bench", "attention", "--batch", "2", "--queries", "30", "--keys", "40",
                                       "--heads", "2", "--head-width", "8", "--threads", "2", "--iterations", "2"])
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("attention  query [2, 30, 16]  keys 40  heads 2 x 8") == true, "\(result.output)")
        let labels = lines.dropFirst().map { $0.components(separatedBy: " median ").first!.trimmingCharacters(in: .whitespaces) }
        let kernels = ["flash AVX2", "query-lanes AVX2", "flash AVX-512", "query-lanes AVX-512"]
        // Without AVX-512, only the AVX2 kernels.
        #expect(labels == kernels || labels == Array(kernels.prefix(2)), "\(result.output)")
        #expect(lines.dropFirst().allSatisfy { $0.contains(" ms   best ") && $0.hasSuffix("x") }, "\(result.output)")
    }

    @Test("bench linear, conv2d and temporal-conv print their variants' times and rates", arguments: [
        (["linear", "--rows", "300", "--in", "16", "--out", "64", "--geglu"], ["two ops", "fused"]),
        (["linear", "--rows", "30", "--in", "16", "--out", "8"], ["linear"]),
        (["conv2d", "--images", "2", "--channels", "16", "--height", "9", "--width", "7"], ["conv2d"]),
        (["conv2d", "--images", "1", "--channels", "4", "--height", "8", "--width", "8", "--stride", "2"], ["conv2d"]),
        // Both CPU kernels, the backend's choice first.
        (["temporal-conv", "--channels", "8", "--frames", "5", "--height", "4", "--width", "6"],
         ["planes (chosen)", "tapGEMMs"]),
        (["temporal-conv", "--channels", "130", "--frames", "3", "--height", "2", "--width", "2"],
         ["tapGEMMs (chosen)", "planes"]),
    ])
    func benchOps(arguments: [String], variants: [String]) throws {
        let result = try CLITests.run(["bench"] + arguments + ["--threads", "2", "--iterations", "2"])
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix(arguments[0]) == true, "\(result.output)")
        #expect(lines.count == variants.count + 1
                && zip(lines.dropFirst(), variants).allSatisfy { $0.hasPrefix("  \($1) ") }, "\(result.output)")
        #expect(lines.dropFirst().allSatisfy { $0.contains(" GFLOP/s") }, "\(result.output)")
    }

    @Test("bench linear, conv2d and temporal-conv time the Vulkan backend's kernels too", arguments: [
        (["linear", "--rows", "130", "--in", "40", "--out", "64", "--geglu", "--weight-precision", "f16"], ["two ops", "fused"]),
        (["conv2d", "--images", "1", "--channels", "8", "--height", "9", "--width", "7"], ["conv2d"]),
        (["temporal-conv", "--channels", "8", "--frames", "4", "--height", "4", "--width", "4"], ["temporalConv"]),
    ])
    func benchOpsOnVulkan(arguments: [String], variants: [String]) throws {
        let result = try CLITests.run(["bench"] + arguments + ["--backend", "vulkan", "--iterations", "1"])
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.contains("  vulkan: ") == true, "\(result.output)")
        #expect(lines.count == variants.count + 1
                && zip(lines.dropFirst(), variants).allSatisfy { $0.hasPrefix("  \($1) ") && $0.contains(" GFLOP/s") },
                "\(result.output)")
        let refused = try CLITests.run(["bench"] + arguments + ["--backend", "vulkan", "--threads", "2"])
        #expect(refused.status == 1 && refused.error.contains("--threads applies to --backend cpu only"), "\(refused.error)")
    }

    @Test("bench unet --profile gives the rate of each op with arithmetic, and the forward's arithmetic")
    func benchUNetProfileRates() throws {
        let result = try CLITests.run(["bench", "unet", "--model", "\(CLITests.fixtures)/unet-tiny/unet",
                                       "--frames", "2", "--height", "8", "--width", "8", "--threads", "2",
                                       "--iterations", "1", "--warmup", "0", "--profile"])
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("  conv2d 3x3 ") && $0.hasSuffix(" GFLOP/s") }, "\(result.output)")
        #expect(lines.contains { $0.hasPrefix("  add ") && $0.hasSuffix(" calls") }, "\(result.output)")
        let arithmetic = lines.first { $0.hasPrefix("arithmetic ") }
        let gflop = arithmetic.flatMap { Double($0.split(separator: " ")[1]) }
        #expect(gflop.map { $0 > 0 } == true, "\(result.output)")
    }

    @Test("bench fma gives the FMA rate of each instruction set on 1 thread and on all")
    func benchFMA() throws {
        let result = try CLITests.run(["bench", "fma", "--threads", "2", "--iterations", "1000"])
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("fma  ") == true, "\(result.output)")
        // Without AVX-512, the AVX2 lines only.
        let rates = lines.dropFirst()
        #expect((rates.count == 4 || rates.count == 2)
                && rates.allSatisfy { $0.contains(" threads  median ") && $0.hasSuffix(" GFLOP/s") }, "\(result.output)")
        #expect(rates.first?.hasPrefix("  AVX2     1 threads") == true, "\(result.output)")
    }

    @Test("bench unet --profile-shapes keeps each op kind's operand shapes apart")
    func benchUNetProfileShapes() throws {
        let result = try CLITests.run(["bench", "unet", "--model", "\(CLITests.fixtures)/unet-tiny/unet",
                                       "--frames", "2", "--height", "8", "--width", "8", "--threads", "2",
                                       "--iterations", "1", "--warmup", "0", "--profile-shapes"])
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n").map(String.init)
        // The input convolution: batch 2 x 2 frames of 8x8 latents.
        #expect(lines.contains { $0.hasPrefix("  conv2d 3x3 [4, 4, 8, 8] [") }, "\(result.output)")
        let linearShapes = Set(lines.filter { $0.hasPrefix("  linear [") }.map { $0.split(separator: "]")[0] })
        #expect(linearShapes.count > 1, "\(result.output)")
        #expect(lines.last?.hasPrefix("median ") == true, "\(result.output)")
    }

    @Test func benchLinearRefusesAnOddGEGLUProjection() throws {
        let result = try CLITests.run(["bench", "linear", "--out", "7", "--geglu"])
        #expect(result.status == 1)
        #expect(result.error.contains("--out must be even with --geglu"), "\(result.error)")
    }
}
