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

/* Transposes a 16x16 block of 32-bit values: on return r[c] holds what was column c. */
DC_TARGET_AVX512 static inline void dc_transpose16_avx512(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    /* u[4g + j], lane L: rows 4g .. 4g+3 of column 4L + j */
    for (int g = 0; g < 16; g += 4) {
        u[g] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
        u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xee);
        u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xee);
    }
    for (int j = 0; j < 4; j++) {
        __m512 v = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88), w = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);
        __m512 x = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88), y = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);
        r[j] = _mm512_shuffle_f32x4(v, x, 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(v, x, 0xdd);
        r[4 + j] = _mm512_shuffle_f32x4(w, y, 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(w, y, 0xdd);
    }
}

/* Which of elements j0 .. j0 + 15 of the dropout block keyed by key are kept: dc_dropout_hash
 * on 16 lanes, kept when its top 24 bits are at least thr (kernels.h). */
DC_TARGET_AVX512 static inline __mmask16 dc_dropout_keep16_avx512(uint64_t key, uint32_t j0, uint32_t thr) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i j = _mm512_add_epi32(_mm512_set1_epi32((int)j0), lane);
    __m512i x = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)key), _mm512_mullo_epi32(j, _mm512_set1_epi32((int)0x9E3779B9u)));
    x = _mm512_xor_si512(x, _mm512_set1_epi32((int)(uint32_t)(key >> 32)));
    x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 16));
    x = _mm512_mullo_epi32(x, _mm512_set1_epi32(0x7feb352d));
    x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 15));
    x = _mm512_mullo_epi32(x, _mm512_set1_epi32((int)0x846ca68bu));
    x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 16));
    return _mm512_cmpge_epu32_mask(_mm512_srli_epi32(x, 8), _mm512_set1_epi32((int)thr));
}

#endif
