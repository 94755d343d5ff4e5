#pragma once

/// Nonzero when the CPU running this process has every instruction set extension the
/// CPUBackend kernels are compiled for (x86-64: AVX2, FMA and F16C). Compiled without
/// those extensions itself, so it is safe to call on any CPU.
int infinity_cpu_supports_kernels(void);

/// A human-readable list of the extensions the kernels need, for error messages.
const char *infinity_cpu_kernel_requirements(void);
