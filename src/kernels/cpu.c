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

/* Dropout multipliers (kernels.h): out of line so that each CPU gets its clone. */
#define DROP_CHUNK 16384

/* Elements j0 .. j0 + n - 1 of the block keyed by s (j0 + n <= 2^30). */
DC_CLONES static void drop_run(float *m, uint64_t s, uint32_t j0, int64_t n, uint32_t thr, float keep, const float *x, float *y) {
    if (!x) {
#pragma omp simd
        for (uint32_t j = 0; j < (uint32_t)n; j++) m[j] = (dc_dropout_hash(s, j0 + j) >> 8) >= thr ? keep : 0.0f;
        return;
    }
#pragma omp simd
    for (uint32_t j = 0; j < (uint32_t)n; j++) {
        const float v = (dc_dropout_hash(s, j0 + j) >> 8) >= thr ? keep : 0.0f;
        m[j] = v;
        y[j] = x[j] * v;
    }
}

/* Elements i0 .. i0 + n - 1 of the stream of seed, block by block (dc_dropout_block_key). */
static void drop_stream(float *m, uint64_t seed, uint64_t i0, int64_t n, uint32_t thr, float keep, const float *x, float *y) {
    while (n > 0) {
        const uint64_t off = i0 & (((uint64_t)1 << DC_DROP_BLOCK_BITS) - 1);
        const int64_t room = (int64_t)(((uint64_t)1 << DC_DROP_BLOCK_BITS) - off), len = n < room ? n : room;
        drop_run(m, dc_dropout_block_key(seed, i0), (uint32_t)off, len, thr, keep, x, x ? y : NULL);
        m += len;
        if (x) x += len, y += len;
        i0 += (uint64_t)len;
        n -= len;
    }
}

DC_CLONES void dc_k_dropout_mask(float *m, int64_t n, uint64_t seed, float rate, const float *x, float *y) {
    const uint32_t thr = (uint32_t)((double)rate * 16777216.0);
    const float keep = 1.0f / (1.0f - rate);
    const int64_t nc = (n + DROP_CHUNK - 1) / DROP_CHUNK;
    DC_PAR_FOR(n > DC_PAR_MIN, c, nc, {
        const int64_t i0 = c * DROP_CHUNK, len = n - i0 < DROP_CHUNK ? n - i0 : DROP_CHUNK;
        drop_stream(m + i0, seed, (uint64_t)i0, len, thr, keep, x ? x + i0 : NULL, x ? y + i0 : NULL);
    });
}

#ifdef DC_HAVE_AVX512_KERNELS
#include "avx512.h"

DC_TARGET_AVX512 uint64_t dc_k_dropout_keep_bits_avx512(uint64_t seed, uint64_t i0, int n, float rate) {
    const uint32_t thr = (uint32_t)((double)rate * 16777216.0);
    const uint64_t low = ((uint64_t)1 << DC_DROP_BLOCK_BITS) - 1;
    uint64_t bits = 0;
    if (n <= 0) return 0;
    if ((i0 >> DC_DROP_BLOCK_BITS) != ((i0 + (uint64_t)n - 1) >> DC_DROP_BLOCK_BITS)) { /* the run crosses two blocks */
        for (int j = 0; j < n; j++) {
            const uint64_t i = i0 + (uint64_t)j;
            if ((dc_dropout_hash(dc_dropout_block_key(seed, i), (uint32_t)(i & low)) >> 8) >= thr) bits |= (uint64_t)1 << j;
        }
        return bits;
    }
    const uint64_t key = dc_dropout_block_key(seed, i0);
    for (int v = 0; v < n; v += 16)
        bits |= (uint64_t)(dc_dropout_keep16_avx512(key, (uint32_t)((i0 & low) + (uint64_t)v), thr) & dc_lanes16(n - v)) << v;
    return bits;
}
#endif

/* Rows g0 .. g0 + rows - 1 of a row-wise dropout are elements g0 * cols .. of one stream. */
void dc_k_dropout_mask_rows(float *m, int64_t rows, int64_t cols, uint64_t seed, uint64_t g0, float rate) {
    const uint32_t thr = (uint32_t)((double)rate * 16777216.0);
    drop_stream(m, seed, g0 * (uint64_t)cols, rows * cols, thr, 1.0f / (1.0f - rate), NULL, NULL);
}
