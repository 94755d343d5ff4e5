import CPUBackend
import Foundation
import Media
import Model
import Parallel
import Tensor

/// `infinity bench ...`: benchmarks that print figures (never pass/fail).
enum BenchCommand {
    static let usage = """
    usage: infinity bench parallel --model DIR [--frames 64,128,256,512,1024] [--clip-frames F]
                                  [--height H] [--width W] [--steps S] [--threads N]
      Clip-parallel generation of videos of each length (in-process, one worker): seconds per
      step, frames/s, the peak of live tensor memory above the weights (in all and per clip),
      and the process's peak resident set.
    usage: infinity bench unet --model DIR [--batch B] [--frames F] [--height H] [--width W]
                              \(BackendOption.usage)
                              [--iterations N] [--warmup N] [--seed K] [--fps N] [--profile] [--profile-shapes]
      Times UNet forwards on random inputs and prints the median and best time;
      --profile adds the time spent in each kind of op, --profile-shapes in each op kind
      and set of operand shapes.
    usage: infinity bench attention [--batch B] [--queries L] [--keys K] [--heads H] [--head-width D]
                                   [--threads N] [--iterations N]
      Times the CPU backend's attention op with each of its kernels (flash, query-lanes) in each
      instruction set this CPU runs (AVX2, AVX-512), interleaved: the median and best time of
      each and the speed-up over the flash kernel in AVX2.
      Defaults: the small benchmark config's spatial self-attention at 16 frames, 32x32.
    usage: infinity bench linear [--rows M] [--in K] [--out N] [--geglu] [--iterations N]
                                \(BackendOption.usage)
      Times the linear op on [M, K] x [N, K]^T and its GFLOP/s; with --geglu, the feed-forward
      projection and GEGLU gate as two ops and as the fused op, side by side.
    usage: infinity bench conv2d [--images N] [--channels C] [--height H] [--width W] [--out-channels O]
                                [--kernel K] [--stride S] [--iterations N] \(BackendOption.usage)
      Times conv2d (padding K/2; on the CPU Winograd for 3x3 stride 1 with 16+ channels, im2col
      otherwise) and its rate in direct-convolution GFLOP/s.
    usage: infinity bench temporal-conv [--batch B] [--channels C] [--frames F] [--height H] [--width W]
                                       [--out-channels O] [--taps K] [--iterations N] \(BackendOption.usage)
      Times a temporal convolution (Conv3d with kernel (K, 1, 1), padding K/2) and its GFLOP/s.
      Defaults: the small benchmark config's 64-channel temporal convolution at 16 frames.
    usage: infinity bench fma [--threads N] [--iterations N]
      The machine's peak arithmetic rate: independent vector FMA chains in each instruction set
      this CPU runs, on 1 thread and on N (default: all cores) at once; the median and best of
      5 runs of N rounds (default 20,000,000) each. The ceiling for the CPU backend's figures.
    """

    static func run(_ arguments: ArraySlice<String>) async throws {
        guard let kind = arguments.first, kind != "--help", kind != "-h" else {
            say(usage)
            return
        }
        if arguments.dropFirst().contains("--help") {
            say(usage)
            return
        }
        switch kind {
        case "unet": try await unet(arguments.dropFirst())
        case "parallel": try await parallel(arguments.dropFirst())
        case "attention": try attention(arguments.dropFirst())
        case "linear": try linear(arguments.dropFirst())
        case "conv2d": try conv2d(arguments.dropFirst())
        case "temporal-conv": try temporalConv(arguments.dropFirst())
        case "fma": try fma(arguments.dropFirst())
        default: throw Arguments.Failure(description: "unknown benchmark '\(kind)'\n\(usage)")
        }
    }

    /// `bench parallel`: frames/s and peak memory of clip-parallel generation as videos grow.
    static func parallel(_ arguments: ArraySlice<String>) async throws {
        let options = try Arguments(arguments, options: [
            "model", "frames", "clip-frames", "height", "width", "steps", "threads",
        ])
        let lengths = try options.ints("frames", default: [64, 128, 256, 512, 1024], range: 1 ... 1_000_000)
        let clipFrames = try options.int("clip-frames", default: 16, range: 1 ... 100_000)
        let height = try options.int("height", default: 32, range: 1 ... 1024)
        let width = try options.int("width", default: 32, range: 1 ... 1024)
        let steps = try options.int("steps", default: 1, range: 1 ... 1000)
        // The CPU backend: its buffer pool is what the peak tensor memory is read from.
        let backend = try BackendOption(options).make()
        let model = try UNet3DConditionModel.load(path: try options.required("model"), backend: backend)
        let dim = model.config.crossAttentionDim
        var generator = TorchGenerator(seed: 1)
        let embeddings = try PromptEmbeddings(
            prompts: HostTensor(shape: [1, 77, dim], values: generator.randn(count: 77 * dim)),
            negative: HostTensor(shape: [77, dim], values: generator.randn(count: 77 * dim)))
        let scheduler = try makeScheduler(config: .textToVideoDefault, kind: .ddim, steps: steps)
        say("clip-parallel generation  backend=\(backend.name)  \(height)x\(width) latents, clips of \(clipFrames) frames, \(steps) step(s), CFG")
        say("frames  clips  s/step  frames/s  peak tensors (MiB)  per clip (MiB)  peak RSS (MiB)")
        for frames in lengths {
            let plan = try ClipPlan(totalFrames: frames, maxClipFrames: min(clipFrames, frames))
            let pipeline = try ClipParallelPipeline(workers: [model], plan: plan, guidance: 7.5)
            resetPeakResident()
            CPUBackend.releaseCachedMemory()
            let weights = CPUBackend.memoryStatistics.tensorBytes
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try await pipeline.generate(embeddings: embeddings, height: height, width: width, seed: 0,
                                            scheduler: scheduler)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(steps)
            let mebibyte = 1_048_576.0
            let activations = Double(CPUBackend.memoryStatistics.peakTensorBytes - weights) / mebibyte
            let resident = Double(residentBytes(field: "VmHWM:")) / mebibyte
            say("\(String(frames).padding(to: 6))  \(String(plan.count).padding(to: 5))  \(fixed(seconds, 2).padding(to: 6))  \(fixed(Double(frames) / seconds, 1).padding(to: 8))  \(fixed(activations, 0).padding(to: 18))  \(fixed(activations / Double(plan.count), 1).padding(to: 14))  \(fixed(resident, 0))")
        }
    }

    /// A resident-set figure of this process from /proc/self/status (`VmRSS:` now, `VmHWM:`
    /// the peak since the last reset), in bytes; 0 where the file is unavailable.
    static func residentBytes(field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kilobytes * 1024
    }

    /// Resets the peak resident set to the current one (Linux: write 5 to clear_refs).
    static func resetPeakResident() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    /// `bench unet`: one UNet forward's time, optionally per op.
    static func unet(_ arguments: ArraySlice<String>) async throws {
        if arguments.contains("--help") {
            say(usage)
            return
        }
        let options = try Arguments(arguments, flags: ["profile", "profile-shapes"], options: Set([
            "model", "batch", "frames", "height", "width", "iterations", "warmup", "seed", "fps",
        ]).union(BackendOption.optionNames))
        let profileShapes = options.flag("profile-shapes")
        let profiler = options.flag("profile") || profileShapes
            ? ProfilingBackend(try BackendOption(options).make(), separatingShapes: profileShapes) : nil
        let backend = try profiler ?? BackendOption(options).make()
        let model = try UNet3DConditionModel.load(path: try options.required("model"), backend: backend)
        let batch = try options.int("batch", default: 2, range: 1 ... 64)
        let frames = try options.int("frames", default: 16, range: 1 ... 4096)
        let height = try options.int("height", default: 32, range: 1 ... 1024)
        let width = try options.int("width", default: 32, range: 1 ... 1024)
        let iterations = try options.int("iterations", default: 5, range: 1 ... 10_000)
        let warmup = try options.int("warmup", default: 1, range: 0 ... 100)
        let config = model.config

        var generator = TorchGenerator(seed: UInt64(try options.int("seed", default: 0, range: 0 ... Int.max)))
        let shape = [batch, config.inChannels, frames, height, width]
        let sample = try backend.upload(generator.randn(count: shape.reduce(1, *)), shape: shape)
        let tokens = 77
        let context = try backend.upload(generator.randn(count: batch * tokens * config.crossAttentionDim),
                                         shape: [batch, tokens, config.crossAttentionDim])
        let timestep = try backend.upload((0 ..< batch).map { Float(999 - 100 * $0) }, shape: [batch])
        let fps = config.fpsConditioning
            ? try backend.upload(Array(repeating: try options.float("fps", default: 24, range: 0 ... 1000), count: batch),
                                 shape: [batch])
            : nil

        var times: [Double] = []
        for iteration in 0 ..< warmup + iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try backend.download(await model(sample: sample, timestep: timestep, encoderHiddenStates: context, fps: fps))
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if iteration >= warmup { times.append(seconds) } else { profiler?.reset() }
        }
        times.sort()
        let median = times[times.count / 2]
        say("unet forward  backend=\(backend.name)  shape=\(shape)  iterations=\(iterations)")
        if let profiler {
            let total = profiler.report.reduce(0) { $0 + $1.seconds }
            for entry in profiler.report {
                let share = fixed(100 * entry.seconds / total, 1)
                var line = "  \(entry.op.padding(to: 24)) \(fixed(entry.seconds / Double(iterations), 4)) s/forward  "
                    + "\(share)%  \(entry.calls / iterations) calls"
                if entry.flops > 0 { line += "  \(fixed(entry.flops / entry.seconds / 1e9, 1)) GFLOP/s" }
                say(line)
            }
            // The arithmetic a forward cannot avoid, by the textbook count (direct convolutions,
            // no Winograd savings), and the rate the forward ran it at.
            let flops = profiler.report.reduce(0) { $0 + $1.flops } / Double(iterations)
            say("arithmetic \(fixed(flops / 1e9, 2)) GFLOP/forward (linear, convolution and attention multiply-adds x2)  "
                + "\(fixed(flops / (total / Double(iterations)) / 1e9, 1)) GFLOP/s over the profiled ops")
        }
        say("median \(fixed(median, 4)) s   best \(fixed(times[0], 4)) s   frames/s \(fixed(Double(batch * frames) / median, 1))")
    }
}
