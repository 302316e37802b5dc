/* Element types of files: names, sizes, and conversions with float32. */
#include "dtype.h"

#include <math.h>
#include <string.h>

static const char *const names[] = {"F32", "F64", "F16", "BF16", "I8", "I16", "I32", "I64",
                                    "U8",  "U16", "U32", "U64", "BOOL"};
static const uint8_t sizes[] = {4, 8, 2, 2, 1, 2, 4, 8, 1, 2, 4, 8, 1};
_Static_assert(DC_ARRAY_LEN(names) == DC_DTYPE_COUNT && DC_ARRAY_LEN(sizes) == DC_DTYPE_COUNT, "dtype tables");

const char *dc_dtype_name(dc_dtype t) { return (unsigned)t < DC_DTYPE_COUNT ? names[t] : "unknown"; }
size_t dc_dtype_size(dc_dtype t) { return (unsigned)t < DC_DTYPE_COUNT ? sizes[t] : 0; }

dc_dtype dc_dtype_from_name(const char *name) {
    for (int i = 0; name && i < DC_DTYPE_COUNT; i++)
        if (strcmp(name, names[i]) == 0) return (dc_dtype)i;
    return DC_DTYPE_COUNT;
}

static uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t dc_f32_to_bf16(float f) {
    uint32_t u = f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}
float dc_bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }

uint16_t dc_f32_to_f16(float f) {
    uint32_t u = f2u(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);                        /* rounds to Inf */
    if (a < 0x38800000u) {                                                          /* subnormal or zero */
        if (a < 0x33000000u) return (uint16_t)sign;                                 /* below half the smallest */
        uint32_t m = (a & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(a >> 23); /* 14..24 */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = a - 0x38000000u; /* rebias the exponent 127 -> 15 */
    r = (r + 0xfffu + ((r >> 13) & 1)) >> 13;
    return (uint16_t)(sign | r);
}

float dc_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) return u2f(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
        float v = (float)m * 5.9604644775390625e-8f; /* m * 2^-24 */
        return sign ? -v : v;
    }
    return u2f(sign | ((e + 112) << 23) | (m << 13));
}

/* Reads element i of size sz at src into an unsigned 64-bit pattern, swapping bytes if asked. */
static uint64_t load_bits(const uint8_t *src, int64_t i, size_t sz, bool swap) {
    uint8_t b[8];
    if (sz - 1 >= sizeof b) return 0; /* sizes are 1, 2, 4 or 8 */
    memcpy(b, src + (size_t)i * sz, sz);
    if (swap)
        for (size_t k = 0; k < sz / 2; k++) {
            uint8_t t = b[k];
            b[k] = b[sz - 1 - k];
            b[sz - 1 - k] = t;
        }
    uint64_t v = 0;
    for (size_t k = 0; k < sz; k++) v |= (uint64_t)b[k] << (8 * k);
    return v;
}

dc_status dc_dtype_to_f32(dc_dtype t, const void *srcv, float *dst, int64_t n, bool swap, int64_t *bad) {
    const uint8_t *src = srcv;
    size_t sz = dc_dtype_size(t);
    if (!sz) return DC_ERR_ARG;
    if (t == DC_DTYPE_F32 && !swap) {
        memcpy(dst, src, (size_t)n * 4);
        return DC_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        uint64_t u = load_bits(src, i, sz, swap);
        float f;
        switch (t) {
        case DC_DTYPE_F32: f = u2f((uint32_t)u); break;
        case DC_DTYPE_F16: f = dc_f16_to_f32((uint16_t)u); break;
        case DC_DTYPE_BF16: f = dc_bf16_to_f32((uint16_t)u); break;
        case DC_DTYPE_F64: {
            double d;
            memcpy(&d, &u, 8);
            f = (float)d;
            if (isfinite(d) && !isfinite(f)) goto fail;
            break;
        }
        case DC_DTYPE_BOOL: f = u != 0; break;
        case DC_DTYPE_U8: case DC_DTYPE_U16: case DC_DTYPE_U32: case DC_DTYPE_U64:
            f = (float)u;
            if (u > (1ull << 63) || (uint64_t)(double)f != u) goto fail; /* not exact in float32 */
            break;
        default: { /* signed: sign-extend */
            int64_t v = sz == 8 ? (int64_t)u : (int64_t)(u << (64 - 8 * sz)) >> (64 - 8 * sz);
            f = (float)v;
            if (fabs((double)v) > 9.2e18 || (int64_t)(double)f != v) goto fail;
            break;
        }
        }
        dst[i] = f;
        continue;
    fail:
        if (bad) *bad = i;
        return DC_ERR_NUMERIC;
    }
    return DC_OK;
}

dc_status dc_dtype_from_f32(dc_dtype t, const float *src, void *dstv, int64_t n, int64_t *bad) {
    uint8_t *dst = dstv;
    size_t sz = dc_dtype_size(t);
    if (!sz) return DC_ERR_ARG;
    if (t == DC_DTYPE_F32) {
        memcpy(dst, src, (size_t)n * 4);
        return DC_OK;
    }
    static const double lo[] = {[DC_DTYPE_I8] = -128.0, [DC_DTYPE_I16] = -32768.0, [DC_DTYPE_I32] = -2147483648.0,
                                [DC_DTYPE_I64] = -9223372036854775808.0};
    static const double hi[] = {[DC_DTYPE_I8] = 127.0, [DC_DTYPE_I16] = 32767.0, [DC_DTYPE_I32] = 2147483647.0,
                                [DC_DTYPE_I64] = 9223372036854775807.0, [DC_DTYPE_U8] = 255.0,
                                [DC_DTYPE_U16] = 65535.0, [DC_DTYPE_U32] = 4294967295.0,
                                [DC_DTYPE_U64] = 18446744073709551615.0, [DC_DTYPE_BOOL] = 1.0};
    for (int64_t i = 0; i < n; i++) {
        float f = src[i];
        uint64_t u;
        switch (t) {
        case DC_DTYPE_F16: u = dc_f32_to_f16(f); break;
        case DC_DTYPE_BF16: u = dc_f32_to_bf16(f); break;
        case DC_DTYPE_F64: {
            double d = f;
            memcpy(&u, &d, 8);
            break;
        }
        default: {
            double d = f;
            bool is_signed = t >= DC_DTYPE_I8 && t <= DC_DTYPE_I64;
            /* the top of int64/uint64 is not a float: f == hi rounds up past the range */
            if (!(d == floor(d) && d >= (is_signed ? lo[t] : 0.0) && d <= hi[t]) ||
                ((t == DC_DTYPE_I64 || t == DC_DTYPE_U64) && d >= hi[t])) {
                if (bad) *bad = i;
                return DC_ERR_NUMERIC;
            }
            u = is_signed ? (uint64_t)(int64_t)d : (uint64_t)d;
            break;
        }
        }
        for (size_t k = 0; k < sz; k++) dst[(size_t)i * sz + k] = (uint8_t)(u >> (8 * k));
    }
    return DC_OK;
}
