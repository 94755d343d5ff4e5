import CPUBackend
import Foundation
import Media
import Tensor

// `infinity bench attention|linear|conv2d|temporal-conv`: single ops on random inputs, for the kernel choices
// the backends make (vector width, fusion, convolution algorithm, cooperative matrices). Variants of one op run
// interleaved, after one warm-up call each, so that a change in the machine's load affects them
// alike; each prints its median and best time and its speed-up over the first variant.
extension BenchCommand {
    /// One variant of a timed op: its label and one call.
    struct Variant {
        let label: String
        let run: () throws -> Void

        init(label: String, run: @escaping () throws -> Void) {
            self.label = label
            self.run = run
        }

        /// A call of an op on `backend` timed until the backend has finished it (a device's
        /// backend returns once the op is recorded).
        init(label: String, on backend: any Backend, run op: @escaping () throws -> Void) {
            self.init(label: label) {
                try op()
                try backend.synchronize()
            }
        }
    }

    /// Times `variants` interleaved, `iterations` calls each, and prints a line per variant;
    /// `work` (floating-point operations per call), when given, adds a GFLOP/s column.
    static func timeInterleaved(_ variants: [Variant], iterations: Int, work: Double? = nil) throws {
        var times = Array(repeating: [Double](), count: variants.count)
        for iteration in 0 ... iterations {
            for (index, variant) in variants.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                try variant.run()
                if iteration > 0 { times[index].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
            }
        }
        let medians = times.map { $0.sorted()[$0.count / 2] }
        let width = variants.map(\.label.count).max() ?? 0
        for (index, variant) in variants.enumerated() {
            var line = "  \(variant.label.padding(to: width + 1)) median \(fixed(1000 * medians[index], 2)) ms   "
                + "best \(fixed(1000 * times[index].min()!, 2)) ms"
            if let work { line += "   \(fixed(work / medians[index] / 1e9, 1)) GFLOP/s" }
            if variants.count > 1 { line += "   speed-up \(fixed(medians[0] / medians[index], 2))x" }
            say(line)
        }
    }

    /// `bench attention`: the attention op with each kernel in each instruction set this CPU runs.
    static func attention(_ arguments: ArraySlice<String>) throws {
        let options = try Arguments(arguments, options: ["batch", "queries", "keys", "heads", "head-width", "threads",
                                                         "iterations"])
        let batch = try options.int("batch", default: 32, range: 1 ... 65_536)
        let queries = try options.int("queries", default: 1024, range: 1 ... 1_000_000)
        let keys = try options.int("keys", default: queries, range: 1 ... 1_000_000)
        let heads = try options.int("heads", default: 4, range: 1 ... 1024)
        let headWidth = try options.int("head-width", default: 8, range: 1 ... 1024)
        let threads = try options.int("threads", default: CPUBackend.coreCount, range: 1 ... 1024)
        let iterations = try options.int("iterations", default: 10, range: 1 ... 10_000)
        try CPUBackend.checkSupported()

        var generator = TorchGenerator(seed: 0)
        let width = heads * headWidth
        let query = generator.randn(count: batch * queries * width)
        let key = generator.randn(count: batch * keys * width)
        let value = generator.randn(count: batch * keys * width)
        let kernels = CPUBackend.AttentionKernel.supported
        let variants = try kernels.map { kernel in
            let backend = CPUBackend(threads: threads, instructionSet: kernel.instructionSet)
            let (q, k, v) = (try backend.upload(query, shape: [batch, queries, width]),
                             try backend.upload(key, shape: [batch, keys, width]),
                             try backend.upload(value, shape: [batch, keys, width]))
            return Variant(label: kernel.description) {
                _ = try backend.attention(query: q, key: k, value: v, heads: heads,
                                          scale: 1 / Float(headWidth).squareRoot(), bias: nil, kernel: kernel)
            }
        }
        say("attention  query [\(batch), \(queries), \(width)]  keys \(keys)  heads \(heads) x \(headWidth)  "
            + "\(threads) threads  iterations=\(iterations)")
        try timeInterleaved(variants, iterations: iterations)
    }

    /// `bench linear`: the linear op, or the feed-forward projection + GEGLU as two ops and fused,
    /// on the CPU or a Vulkan device (`BackendOption`; each call waits for the device).
    static func linear(_ arguments: ArraySlice<String>) throws {
        let options = try Arguments(arguments, flags: ["geglu"],
                                    options: Set(["rows", "in", "out", "iterations"]).union(BackendOption.optionNames))
        let rows = try options.int("rows", default: 32768, range: 1 ... 100_000_000)
        let inputs = try options.int("in", default: 32, range: 1 ... 1_000_000)
        let outputs = try options.int("out", default: 256, range: 1 ... 1_000_000)
        let iterations = try options.int("iterations", default: 10, range: 1 ... 10_000)
        let geglu = options.flag("geglu")
        if geglu, outputs % 2 != 0 {
            throw Arguments.Failure(description: "--out must be even with --geglu (the projection's two halves), got \(outputs)")
        }
        let backend = try BackendOption(options).make()
        var generator = TorchGenerator(seed: 0)
        let x = try backend.upload(generator.randn(count: rows * inputs), shape: [rows, inputs])
        let weight = try backend.uploadOperatorWeight(generator.randn(count: outputs * inputs), shape: [outputs, inputs])
        let bias = try backend.upload(generator.randn(count: outputs), shape: [outputs])
        say("linear  [\(rows), \(inputs)] x [\(outputs), \(inputs)]^T\(geglu ? " + GEGLU" : "")  "
            + "\(backend.name)  iterations=\(iterations)")
        let work = 2 * Double(rows) * Double(inputs) * Double(outputs)
        if geglu {
            try timeInterleaved([
                Variant(label: "two ops", on: backend) { _ = try backend.geglu(backend.linear(x, weight: weight, bias: bias)) },
                Variant(label: "fused", on: backend) { _ = try backend.linearGEGLU(x, weight: weight, bias: bias) },
            ], iterations: iterations, work: work)
        } else {
            try timeInterleaved([Variant(label: "linear", on: backend) { _ = try backend.linear(x, weight: weight, bias: bias) }],
                                iterations: iterations, work: work)
        }
    }

    /// `bench conv2d`: one convolution, with its rate counted as a direct convolution's, on the
    /// CPU or a Vulkan device (`BackendOption`; each call waits for the device).
    static func conv2d(_ arguments: ArraySlice<String>) throws {
        let options = try Arguments(arguments, options: Set([
            "images", "channels", "height", "width", "out-channels", "kernel", "stride", "iterations",
        ]).union(BackendOption.optionNames))
        let images = try options.int("images", default: 32, range: 1 ... 1_000_000)
        let channels = try options.int("channels", default: 64, range: 1 ... 65_536)
        let height = try options.int("height", default: 32, range: 1 ... 65_536)
        let width = try options.int("width", default: 32, range: 1 ... 65_536)
        let outChannels = try options.int("out-channels", default: channels, range: 1 ... 65_536)
        let kernel = try options.int("kernel", default: 3, range: 1 ... 15)
        let stride = try options.int("stride", default: 1, range: 1 ... 16)
        let iterations = try options.int("iterations", default: 10, range: 1 ... 10_000)
        let backend = try BackendOption(options).make()
        var generator = TorchGenerator(seed: 0)
        let x = try backend.upload(generator.randn(count: images * channels * height * width),
                                   shape: [images, channels, height, width])
        let weight = try backend.uploadOperatorWeight(generator.randn(count: outChannels * channels * kernel * kernel),
                                                      shape: [outChannels, channels, kernel, kernel])
        let bias = try backend.upload(generator.randn(count: outChannels), shape: [outChannels])
        let outShape = try Shape.conv2d(x.shape, weight: weight.shape, bias: bias.shape, stride: stride, padding: kernel / 2)
        say("conv2d  \(x.shape) -> \(outShape)  kernel \(kernel) stride \(stride)  \(backend.name)  "
            + "iterations=\(iterations)")
        let work = 2 * Double(outShape.reduce(1, *)) * Double(channels * kernel * kernel)
        try timeInterleaved([Variant(label: "conv2d", on: backend) {
            _ = try backend.conv2d(x, weight: weight, bias: bias, stride: stride, padding: kernel / 2)
        }], iterations: iterations, work: work)
    }

    /// `bench temporal-conv`: one temporal convolution (a `Conv3d` with kernel `(K, 1, 1)`, as in
    /// the UNet's temporal layers), with its rate in GFLOP/s.
    static func temporalConv(_ arguments: ArraySlice<String>) throws {
        let options = try Arguments(arguments, options: Set([
            "batch", "channels", "frames", "height", "width", "out-channels", "taps", "iterations",
        ]).union(BackendOption.optionNames))
        let batch = try options.int("batch", default: 2, range: 1 ... 1_000_000)
        let channels = try options.int("channels", default: 64, range: 1 ... 65_536)
        let frames = try options.int("frames", default: 16, range: 1 ... 65_536)
        let height = try options.int("height", default: 16, range: 1 ... 65_536)
        let width = try options.int("width", default: 16, range: 1 ... 65_536)
        let outChannels = try options.int("out-channels", default: channels, range: 1 ... 65_536)
        let taps = try options.int("taps", default: 3, range: 1 ... 15)
        let iterations = try options.int("iterations", default: 10, range: 1 ... 10_000)
        let backend = try BackendOption(options).make()
        var generator = TorchGenerator(seed: 0)
        let x = try backend.upload(generator.randn(count: batch * channels * frames * height * width),
                                   shape: [batch, channels, frames, height, width])
        let weight = try backend.uploadOperatorWeight(generator.randn(count: outChannels * channels * taps),
                                                      shape: [outChannels, channels, taps, 1, 1])
        let bias = try backend.upload(generator.randn(count: outChannels), shape: [outChannels])
        let outShape = try Shape.temporalConv(x.shape, weight: weight.shape, bias: bias.shape, padding: taps / 2)
        say("temporal-conv  \(x.shape) -> \(outShape)  taps \(taps)  \(backend.name)  iterations=\(iterations)")
        let work = 2 * Double(outShape.reduce(1, *)) * Double(channels * taps)
        // On the CPU, each of its kernels, the backend's choice first.
        let variants: [Variant]
        if let cpu = backend as? CPUBackend {
            let chosen = cpu.temporalConvKernel(channels: channels, taps: taps, outChannels: outChannels)
            let kernels = [chosen] + CPUBackend.TemporalConvKernel.allCases.filter { $0 != chosen }
            variants = kernels.map { kernel in
                Variant(label: "\(kernel)\(kernel == chosen ? " (chosen)" : "")") {
                    _ = try cpu.temporalConv(x, weight: weight, bias: bias, padding: taps / 2, kernel: kernel)
                }
            }
        } else {
            variants = [Variant(label: "temporalConv", on: backend) {
                _ = try backend.temporalConv(x, weight: weight, bias: bias, padding: taps / 2)
            }]
        }
        try timeInterleaved(variants, iterations: iterations, work: work)
    }

    /// `bench fma`: the rate of independent vector FMA chains, the ceiling of the CPU kernels.
    static func fma(_ arguments: ArraySlice<String>) throws {
        let options = try Arguments(arguments, options: ["threads", "iterations"])
        let cores = CPUBackend.coreCount
        let threads = try options.int("threads", default: cores, range: 1 ... 4096)
        let iterations = try options.int("iterations", default: 20_000_000, range: 1 ... 1_000_000_000)
        say("fma  independent vector FMA chains  \(cores) cores  iterations=\(iterations)")
        for instructionSet in CPUBackend.InstructionSet.supported {
            for count in Set([1, threads]).sorted() {
                let rates = (0 ..< 5).map { _ in instructionSet.peakFMARate(threads: count, iterations: iterations) }.sorted()
                say("  \(instructionSet.description.padding(to: 8)) \(count) threads  median \(fixed(rates[2] / 1e9, 1)) GFLOP/s   "
                    + "best \(fixed(rates[4] / 1e9, 1)) GFLOP/s")
            }
        }
    }
}
