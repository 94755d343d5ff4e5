#include "cpu_features.h"

int infinity_cpu_supports_kernels(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return 1;
#endif
}

const char *infinity_cpu_kernel_requirements(void) {
#if defined(__x86_64__)
    return "x86-64 with AVX2, FMA and F16C (Intel Haswell / AMD Excavator or newer)";
#else
    return "none";
#endif
}

int infinity_cpu_supports_avx512_kernels(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return infinity_cpu_supports_kernels() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

const char *infinity_cpu_openblas_core(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (infinity_cpu_supports_avx512_kernels() && __builtin_cpu_supports("avx512cd")) {
        return "SkylakeX";
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        return "Haswell";
    }
#endif
    return 0;
}
