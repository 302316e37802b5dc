/* What the CPU runs, asked once: the explicit AVX-512 kernels are compiled on every x86-64 build
 * and called only where this says so, so one binary runs on any x86-64. */
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

bool dc_k_avx512_usable(void) {
#if defined(DC_HAVE_AVX512_KERNELS)
    static int state = -1; /* -1 undecided, else the answer */
    int s = __atomic_load_n(&state, __ATOMIC_RELAXED);
    if (s < 0) {
        /* libgcc's (and compiler-rt's) feature bits include the OS's XCR0 check: a feature whose
         * registers the OS does not save is reported absent */
        __builtin_cpu_init();
        s = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512dq");
        /* DEEPC_AVX512=off: the portable loops everywhere, as on a CPU without AVX-512 (tests
         * run both paths on one machine) */
        const char *e = getenv("DEEPC_AVX512");
        if (e && (!strcmp(e, "off") || !strcmp(e, "0"))) s = 0;
        __atomic_store_n(&state, s, __ATOMIC_RELAXED);
    }
    return s == 1;
#else
    return false;
#endif
}

/* Dropout multipliers (kernels.h): out of line so that each CPU gets its clone (the hash's 64-bit
 * multiplies are one instruction per 8 lanes with AVX-512). */
DC_CLONES void dc_k_dropout_mask(float *m, int64_t n, uint64_t seed, float rate, const float *x, float *y) {
    const uint64_t thr = (uint64_t)((double)rate * 16777216.0);
    const float keep = 1.0f / (1.0f - rate);
    if (!x) {
        DC_FOR(i, n, m[i] = (dc_mix64(seed + (uint64_t)i * 0x9e3779b97f4a7c15ull) >> 40) >= thr ? keep : 0.0f;);
        return;
    }
    DC_FOR(i, n, {
        const float v = (dc_mix64(seed + (uint64_t)i * 0x9e3779b97f4a7c15ull) >> 40) >= thr ? keep : 0.0f;
        m[i] = v;
        y[i] = x[i] * v;
    });
}

/* Dropout multipliers of rows g0 .. g0 + rows - 1, cols each, into m[rows, cols] (kernels.h). */
DC_CLONES void dc_k_dropout_mask_rows(float *m, int64_t rows, int64_t cols, uint64_t seed, uint64_t g0, float rate) {
    const uint64_t thr = (uint64_t)((double)rate * 16777216.0);
    const float keep = 1.0f / (1.0f - rate);
    for (int64_t r = 0; r < rows; r++) {
        const uint64_t sr = dc_dropout_row_seed(seed, g0 + (uint64_t)r);
        float *mr = m + r * cols;
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) mr[j] = (dc_mix64(sr + (uint64_t)j * 0x9e3779b97f4a7c15ull) >> 40) >= thr ? keep : 0.0f;
    }
}
