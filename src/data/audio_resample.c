/* Resampling a mono signal: torchaudio.functional.resample's windowed sinc, or linear
 * interpolation.
 *
 * With g = gcd(from, to), o = from / g and p = to / g, output j = q p + k (0 <= k < p) lies at
 * input position j o / p = q o + k o / p; torchaudio's kernel gives input sample m = q o + r the
 * weight
 *     w(k, r) = sinc(pi t) cos^2(pi t / 12) * b / o,   t = (r / o - k / p) b, |t| <= 6,
 * with b = 0.99 min(o, p) (a low-pass at 0.99 of the lower Nyquist frequency, 6 zero crossings
 * on each side) and samples outside the signal taken as 0. The weights depend only on the
 * phase k, so for each phase the taps r in [floor(k o / p) - W, floor(k o / p) + W + 1],
 * W = ceil(6 o / b), are tabulated once, unless the table would pass 2^22 values (two nearly
 * coprime rates) or there are fewer outputs than phases (a short signal), when each output
 * computes its own. torchaudio evaluates the same
 * kernel in float32 and convolves; here the weights are computed in double and the sums kept
 * in double, which agrees with it to float precision.
 */
#include "audio.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#define SINC_ZEROS 6      /* torchaudio's lowpass_filter_width */
#define SINC_ROLLOFF 0.99 /* torchaudio's rolloff */
#define SINC_MAX_TABLE ((int64_t)1 << 22)
/* pi as a double: the value of C's M_PI and Python's math.pi */
#define PI 3.14159265358979323846

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The kernel's weight of offset r (input samples from the block start q o) for phase k. */
static double sinc_weight(int64_t r, int64_t k, int64_t o, int64_t p, double base) {
    double t = ((double)r / (double)o - (double)k / (double)p) * base;
    if (t <= -SINC_ZEROS || t >= SINC_ZEROS) return 0;
    const double win = cos(t * PI / SINC_ZEROS / 2);
    const double sinc = t == 0 ? 1.0 : sin(PI * t) / (PI * t);
    return sinc * win * win * base / (double)o;
}

/* Output j = q p + k from taps w[0..T) for offsets r = lo .. lo + T - 1. */
static float sinc_apply(const float *x, int64_t n, int64_t q, int64_t o, int64_t lo, int64_t T, const double *w) {
    const int64_t m0 = q * o + lo;
    int64_t a = 0, b = T;
    if (m0 + a < 0) a = -m0;
    if (m0 + b > n) b = n - m0;
    double sum = 0;
    for (int64_t i = a; i < b; i++) sum += w[i] * x[m0 + i];
    return (float)sum;
}

dc_status dc_audio_resample_raw(const float *x, int64_t n, int64_t from, int64_t to, dc_resample_mode mode,
                                const char *name, float **out, int64_t *out_n) {
    *out = NULL;
    *out_n = 0;
    const int64_t g = gcd64(from, to), o = from / g, p = to / g;
    /* n <= 2^31 and p <= 768000: the product fits */
    const int64_t m = (p * n + o - 1) / o;
    if (m > DC_AUDIO_MAX_FRAMES || m < 1)
        return dc_error(DC_ERR_SHAPE, "%s: %lld frames at %lld Hz would be %lld frames at %lld Hz, over 2^31", name,
                        (long long)n, (long long)from, (long long)m, (long long)to);
    float *y = dc_alloc((size_t)m * sizeof(float));
    if (!y) return DC_ERR_NOMEM;
    if (mode == DC_RESAMPLE_LINEAR) {
#pragma omp parallel for num_threads(dc_threads()) schedule(static) if (m > 65536)
        for (int64_t j = 0; j < m; j++) {
            /* position j o / p, exactly: j o < p n <= 768000 * 2^31 */
            const int64_t num = j * o, i = num / p;
            const double f = (double)(num % p) / (double)p;
            const float a = x[i], b = x[i + 1 < n ? i + 1 : n - 1];
            y[j] = (float)(a + f * ((double)b - a));
        }
        *out = y;
        *out_n = m;
        return DC_OK;
    }
    const double base = (double)DC_MIN(o, p) * SINC_ROLLOFF;
    const int64_t W = (int64_t)ceil(SINC_ZEROS * (double)o / base), T = 2 * W + 2;
    /* a table of every phase pays when there are at least as many outputs as phases */
    const bool table = p * T <= SINC_MAX_TABLE && p <= m;
    double *w = dc_alloc((size_t)(table ? p * T : T * DC_MAX(dc_threads(), 1)) * sizeof(double));
    if (!w) {
        dc_free(y);
        return DC_ERR_NOMEM;
    }
    if (table)
        for (int64_t k = 0; k < p; k++) {
            const int64_t lo = k * o / p - W;
            for (int64_t i = 0; i < T; i++) w[k * T + i] = sinc_weight(lo + i, k, o, p, base);
        }
    const int nt = DC_MAX(dc_threads(), 1);
#pragma omp parallel num_threads(nt) if (m > 16384)
    {
        double *mine = w + (table ? 0 : T * omp_get_thread_num());
#pragma omp for schedule(static)
        for (int64_t j = 0; j < m; j++) {
            const int64_t q = j / p, k = j % p, lo = k * o / p - W;
            const double *wk = w + k * T;
            if (!table) {
                for (int64_t i = 0; i < T; i++) mine[i] = sinc_weight(lo + i, k, o, p, base);
                wk = mine;
            }
            y[j] = sinc_apply(x, n, q, o, lo, T, wk);
        }
    }
    dc_free(w);
    *out = y;
    *out_n = m;
    return DC_OK;
}
