import CCPUFeatures
import COpenBLAS
import Foundation

/// Which OpenBLAS kernels this process's GEMMs run on.
///
/// OpenBLAS (a `DYNAMIC_ARCH` build, as Debian ships) picks its kernels from the CPU's model
/// number, and on a CPU newer than its table (0.3.21 on Sapphire or Emerald Rapids, say) it
/// falls back to the generic SSE3 "Prescott" kernels: about 5x slower SGEMM than the AVX-512
/// ones the same CPU runs. When that happened and the user did not choose a core with
/// `OPENBLAS_CORETYPE`, the selection is redone once for the core the CPU's instruction set
/// supports (``infinity_cpu_openblas_core``), through OpenBLAS's own `OPENBLAS_CORETYPE` path.
enum BLASKernels {
    /// The core OpenBLAS runs on after the check; evaluated once, before the first GEMM
    /// (every ``CPUBackend`` reads it in its initialiser).
    static let core: String = selectCore()

    /// The generic fallbacks OpenBLAS picks for a CPU model it does not know.
    static let genericCores: Set<String> = ["Prescott", "Core2", "Nehalem", "Sandybridge", "Unknown"]

    private static func selectCore() -> String {
        let current = currentCore()
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              genericCores.contains(current),
              let suited = infinity_cpu_openblas_core().map({ String(cString: $0) }),
              suited != current else {
            return current
        }
        setenv("OPENBLAS_CORETYPE", suited, 1)
        gotoblas_dynamic_quit()
        gotoblas_dynamic_init()
        // Leave the environment as it was: child processes make their own selection.
        unsetenv("OPENBLAS_CORETYPE")
        return currentCore()
    }

    private static func currentCore() -> String {
        openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }
}
