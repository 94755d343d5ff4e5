import CPUKernelsAVX2
import CPUKernelsAVX512
import Dispatch

extension CPUBackend.InstructionSet {
    /// The rate of independent vector FMA chains in this instruction set on `threads` threads at
    /// once (`CPUKernels/FMAPeak.swift`), in floating-point operations per second: each thread
    /// runs `iterations` rounds and the slowest sets the time. The ceiling for the backend's
    /// arithmetic on this machine (OpenBLAS's kernels included), for `infinity bench fma`.
    package func peakFMARate(threads: Int, iterations: Int) -> Double {
        let run: @Sendable (Int, Float) -> Float, flops: Double
        switch self {
        case .avx2: (run, flops) = (AVX2.fmaPeak, AVX2.fmaPeakFlops(iterations: iterations))
        case .avx512: (run, flops) = (AVX512.fmaPeak, AVX512.fmaPeakFlops(iterations: iterations))
        }
        let start = DispatchTime.now().uptimeNanoseconds
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            // The result depends on every chain; a nonzero seed keeps it from being constant.
            precondition(run(iterations, Float(thread + 1)).isFinite, "FMA chains overflowed")
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Double(threads) * flops / seconds
    }
}
