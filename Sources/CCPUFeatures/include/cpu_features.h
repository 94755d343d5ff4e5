#pragma once

/// Nonzero when the CPU running this process has every instruction set extension the
/// CPUBackend kernels are compiled for (x86-64: AVX2, FMA and F16C). Compiled without
/// those extensions itself, so it is safe to call on any CPU.
int infinity_cpu_supports_kernels(void);

/// Nonzero when the CPU also has AVX-512 F, DQ, BW and VL, which the wider variants of the
/// kernels (module CPUKernelsAVX512) are compiled for. Safe to call on any CPU.
int infinity_cpu_supports_avx512_kernels(void);

/// A human-readable list of the extensions the kernels need, for error messages.
const char *infinity_cpu_kernel_requirements(void);

/// The OpenBLAS core type (an `OPENBLAS_CORETYPE` value) whose kernels suit this CPU's
/// instruction set: "SkylakeX" with AVX-512 (F, DQ, BW, VL, CD), "Haswell" with AVX2 and FMA,
/// NULL otherwise. Decided from the extensions the CPU and OS report, never from its model.
const char *infinity_cpu_openblas_core(void);
