/* Helpers shared by the explicit AVX-512 kernels (names ending in _avx512, compiled with
 * DC_TARGET_AVX512 and called only where dc_k_avx512_usable()). Include inside
 * #if defined(DC_HAVE_AVX512_KERNELS). */
#ifndef DC_KERNELS_AVX512_H
#define DC_KERNELS_AVX512_H

#include <immintrin.h>
#include <stdint.h>

/* The mask of the first n of 16 lanes (all of them for n >= 16, none for n <= 0): the tail of a
 * row under a masked load or store. */
static inline __mmask16 dc_lanes16(int64_t n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

#endif
