import Foundation
import Model
import Tensor

/// `infinity bench ...`: benchmarks that print figures (never pass/fail).
enum BenchCommand {
    static let usage = """
    usage: infinity bench unet --model DIR [--batch B] [--frames F] [--height H] [--width W]
                              [--backend cpu] [--threads N] [--iterations N] [--warmup N]
                              [--seed K] [--fps N] [--profile]
      Times UNet forwards on random inputs and prints the median and best time;
      --profile adds the time spent in each kind of op.
    """

    static func run(_ arguments: ArraySlice<String>) async throws {
        guard let kind = arguments.first, kind != "--help", kind != "-h" else {
            print(usage)
            return
        }
        guard kind == "unet" else {
            throw Arguments.Failure(description: "unknown benchmark '\(kind)'\n\(usage)")
        }
        if arguments.dropFirst().contains("--help") {
            print(usage)
            return
        }
        let options = try Arguments(arguments.dropFirst(), flags: ["profile"], options: [
            "model", "batch", "frames", "height", "width", "backend", "threads", "iterations", "warmup", "seed", "fps",
        ])
        let profiler = options.flag("profile") ? ProfilingBackend(try makeBackend(options)) : nil
        let backend = try profiler ?? makeBackend(options)
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
        print("unet forward  backend=\(backend.name)  shape=\(shape)  iterations=\(iterations)")
        if let profiler {
            let total = profiler.report.reduce(0) { $0 + $1.seconds }
            for entry in profiler.report {
                let share = fixed(100 * entry.seconds / total, 1)
                print("  \(entry.op.padding(to: 24)) \(fixed(entry.seconds / Double(iterations), 4)) s/forward  \(share)%  \(entry.calls / iterations) calls")
            }
        }
        print("median \(fixed(median, 4)) s   best \(fixed(times[0], 4)) s   frames/s \(fixed(Double(batch * frames) / median, 1))")
    }
}
