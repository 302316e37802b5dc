/* Log-mel spectrograms as torchaudio.transforms.MelSpectrogram computes them (followed by a
 * log), and per-feature normalisation of spectrograms.
 *
 *  - Frames: the signal, padded by n_fft / 2 on each side when centred (mirrored without the
 *    edge sample, as torch.stft's reflect, or zeros), cut every hop samples into frames of
 *    n_fft samples, each multiplied by the window (win_length samples, periodic, centred in
 *    the frame with zeros around it, as torch.stft pads a shorter window).
 *  - Spectrum: FFTW's real-to-complex single-precision transform of each frame, |X|^power of
 *    its n_fft / 2 + 1 bins.
 *  - Mel filters: torchaudio.functional.melscale_fbanks, computed in double: n_mels + 2 points
 *    evenly spaced on the mel scale from f_min to f_max, triangles between neighbours over the
 *    bins' frequencies k * floor(sr / 2) / (n_fft / 2); optionally divided by half their
 *    width in Hz (Slaney's normalisation). Each filter keeps only its non-zero bins.
 *  - Output: log(sum_k fb[k][m] |X_t[k]|^power + log_offset), sums in double, as [frames, n_mels].
 *
 * FFTW's planner is not thread-safe (only executing a plan is), so plans are made under a lock
 * and kept, one per FFT length (16 lengths at most; further lengths get a plan made and
 * destroyed under the lock around each call). The frames of one signal are shared among
 * deepc's threads, each with its own buffers, executing the one plan with fftwf_execute_dft_r2c.
 */
#include "audio.h"

#include "../tensor/tensor.h"

#include <fftw3.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <string.h>

/* pi as a double: the value of C's M_PI and Python's math.pi */
#define PI 3.14159265358979323846
#define PLAN_CACHE 16
#define MAX_NFFT 65536
#define MAX_MELS 4096
/* frames per signal from which the work is shared among threads */
#define PARALLEL_FRAMES 32

static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int n;
    fftwf_plan plan;
} plans[PLAN_CACHE];
static int nplans;

/* A plan of the real FFT of length n between arrays aligned as fftwf_alloc_* aligns them;
 * *temporary is set when the caller must give it back with plan_release. NULL if FFTW
 * cannot make one. */
static fftwf_plan plan_get(int n, bool *temporary) {
    *temporary = false;
    pthread_mutex_lock(&plan_lock);
    for (int i = 0; i < nplans; i++)
        if (plans[i].n == n) {
            fftwf_plan p = plans[i].plan;
            pthread_mutex_unlock(&plan_lock);
            return p;
        }
    float *in = fftwf_alloc_real((size_t)n);
    fftwf_complex *out = fftwf_alloc_complex((size_t)n / 2 + 1);
    fftwf_plan p = in && out ? fftwf_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE) : NULL;
    fftwf_free(in);
    fftwf_free(out);
    if (p && nplans < PLAN_CACHE) {
        plans[nplans].n = n;
        plans[nplans].plan = p;
        nplans++;
    } else if (p) {
        *temporary = true;
    }
    pthread_mutex_unlock(&plan_lock);
    return p;
}

static void plan_release(fftwf_plan p, bool temporary) {
    if (!temporary) return;
    pthread_mutex_lock(&plan_lock);
    fftwf_destroy_plan(p);
    pthread_mutex_unlock(&plan_lock);
}

dc_mel_opts dc_mel_defaults(void) {
    return (dc_mel_opts){.sample_rate = 16000,
                         .n_fft = 400,
                         .n_mels = 128,
                         .window = DC_WINDOW_HANN,
                         .center = true,
                         .pad_mode = DC_STFT_PAD_REFLECT,
                         .power = 2.0f,
                         .mel_scale = DC_MEL_HTK,
                         .log = true,
                         .log_offset = 1e-6f};
}

/* The options with their defaults filled in. */
typedef struct mel_cfg {
    int64_t sr, n_fft, win, hop, n_mels, n_freqs;
    double f_min, f_max;
} mel_cfg;

static dc_status mel_check(const dc_mel_opts *o, mel_cfg *c) {
    const char *who = "log-mel";
    if (o->sample_rate < 1 || o->sample_rate > DC_AUDIO_MAX_RATE)
        return dc_error(DC_ERR_ARG, "%s: sample_rate must be 1..%d Hz, got %lld", who, DC_AUDIO_MAX_RATE,
                        (long long)o->sample_rate);
    if (o->n_fft < 2 || o->n_fft > MAX_NFFT)
        return dc_error(DC_ERR_ARG, "%s: n_fft must be 2..%d, got %lld", who, MAX_NFFT, (long long)o->n_fft);
    if (o->win_length < 0 || o->win_length > o->n_fft)
        return dc_error(DC_ERR_ARG, "%s: win_length must be 1..n_fft (%lld), or 0 for n_fft, got %lld", who,
                        (long long)o->n_fft, (long long)o->win_length);
    if (o->hop_length < 0)
        return dc_error(DC_ERR_ARG, "%s: hop_length must be >= 1, or 0 for win_length / 2, got %lld", who,
                        (long long)o->hop_length);
    if (o->n_mels < 1 || o->n_mels > MAX_MELS)
        return dc_error(DC_ERR_ARG, "%s: n_mels must be 1..%d, got %lld", who, MAX_MELS, (long long)o->n_mels);
    const double nyquist = (double)(o->sample_rate / 2);
    if (!(o->f_min >= 0) || !isfinite(o->f_min))
        return dc_error(DC_ERR_ARG, "%s: f_min must be finite and >= 0 Hz, got %g", who, o->f_min);
    if (!(o->f_max >= 0) || !isfinite(o->f_max) || o->f_max > o->sample_rate / 2.0)
        return dc_error(DC_ERR_ARG,
                        "%s: f_max must be 0 (the Nyquist frequency) or at most sample_rate / 2 = %g Hz, got %g", who,
                        o->sample_rate / 2.0, o->f_max);
    const double f_max = o->f_max > 0 ? o->f_max : nyquist;
    if (o->f_min >= f_max)
        return dc_error(DC_ERR_ARG, "%s: f_min (%g Hz) must be below f_max (%g Hz)", who, o->f_min, f_max);
    if (o->window != DC_WINDOW_HANN && o->window != DC_WINDOW_HAMMING && o->window != DC_WINDOW_RECT)
        return dc_error(DC_ERR_ARG, "%s: unknown window %d", who, (int)o->window);
    if (o->pad_mode != DC_STFT_PAD_REFLECT && o->pad_mode != DC_STFT_PAD_ZERO)
        return dc_error(DC_ERR_ARG, "%s: unknown pad_mode %d", who, (int)o->pad_mode);
    if (o->mel_scale != DC_MEL_HTK && o->mel_scale != DC_MEL_SLANEY)
        return dc_error(DC_ERR_ARG, "%s: unknown mel_scale %d", who, (int)o->mel_scale);
    if (!(o->power > 0) || !isfinite(o->power))
        return dc_error(DC_ERR_ARG, "%s: power must be > 0 (2: power, 1: magnitude), got %g", who, (double)o->power);
    if (o->log && (!(o->log_offset > 0) || !isfinite(o->log_offset)))
        return dc_error(DC_ERR_ARG, "%s: log_offset must be > 0 and finite, got %g", who, (double)o->log_offset);
    c->sr = o->sample_rate;
    c->n_fft = o->n_fft;
    c->win = o->win_length ? o->win_length : o->n_fft;
    c->hop = o->hop_length ? o->hop_length : DC_MAX(c->win / 2, 1);
    c->n_mels = o->n_mels;
    c->n_freqs = o->n_fft / 2 + 1;
    c->f_min = o->f_min;
    c->f_max = f_max;
    return DC_OK;
}

/* Frames for n samples, or -1 with a message naming the numbers. */
static int64_t frames_of(int64_t n, const dc_mel_opts *o, const mel_cfg *c) {
    if (n < 1) return dc_error(DC_ERR_SHAPE, "log-mel: the signal is empty"), -1;
    if (o->center) {
        const int64_t pad = c->n_fft / 2;
        if (o->pad_mode == DC_STFT_PAD_REFLECT && n <= pad)
            return dc_error(DC_ERR_SHAPE,
                            "log-mel: a signal of %lld samples is too short to be mirrored by n_fft / 2 = %lld "
                            "samples (centred frames with reflection need more than n_fft / 2)",
                            (long long)n, (long long)pad),
                   -1;
        return 1 + (n + 2 * pad - c->n_fft) / c->hop;
    }
    if (n < c->n_fft)
        return dc_error(DC_ERR_SHAPE, "log-mel: a signal of %lld samples is shorter than one frame of n_fft = %lld",
                        (long long)n, (long long)c->n_fft),
               -1;
    return 1 + (n - c->n_fft) / c->hop;
}

int64_t dc_mel_frames(int64_t n, const dc_mel_opts *o) {
    dc_mel_opts def = dc_mel_defaults();
    if (!o) o = &def;
    mel_cfg c = {0};
    if (mel_check(o, &c)) return -1;
    return frames_of(n, o, &c);
}

static double hz_to_mel(double f, dc_mel_scale scale) {
    if (scale == DC_MEL_HTK) return 2595.0 * log10(1.0 + f / 700.0);
    const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp, logstep = log(6.4) / 27.0;
    return f >= min_log_hz ? min_log_mel + log(f / min_log_hz) / logstep : f / f_sp;
}

static double mel_to_hz(double m, dc_mel_scale scale) {
    if (scale == DC_MEL_HTK) return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
    const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp, logstep = log(6.4) / 27.0;
    return m >= min_log_mel ? min_log_hz * exp(logstep * (m - min_log_mel)) : f_sp * m;
}

/* The filter bank into fb[n_freqs * n_mels] (bins as rows), as melscale_fbanks. */
static void filterbank(const dc_mel_opts *o, const mel_cfg *c, double *fb) {
    const int64_t nf = c->n_freqs, nm = c->n_mels;
    const double m_min = hz_to_mel(c->f_min, o->mel_scale), m_max = hz_to_mel(c->f_max, o->mel_scale);
    const double top = (double)(c->sr / 2);
    double f_pts[MAX_MELS + 2];
    for (int64_t i = 0; i < nm + 2; i++)
        f_pts[i] = mel_to_hz(m_min + (m_max - m_min) * (double)i / (double)(nm + 1), o->mel_scale);
    for (int64_t k = 0; k < nf; k++) {
        const double f = nf > 1 ? top * (double)k / (double)(nf - 1) : 0;
        for (int64_t m = 0; m < nm; m++) {
            const double down = (f - f_pts[m]) / (f_pts[m + 1] - f_pts[m]);
            const double up = (f_pts[m + 2] - f) / (f_pts[m + 2] - f_pts[m + 1]);
            double w = DC_MAX(0.0, DC_MIN(down, up));
            if (o->slaney_norm) w *= 2.0 / (f_pts[m + 2] - f_pts[m]);
            fb[k * nm + m] = w;
        }
    }
}

dc_tensor *dc_mel_filterbank(const dc_mel_opts *o) {
    dc_mel_opts def = dc_mel_defaults();
    if (!o) o = &def;
    mel_cfg c = {0};
    if (mel_check(o, &c)) return NULL;
    double *fb = dc_alloc((size_t)(c.n_freqs * c.n_mels) * sizeof(double));
    dc_tensor *t = fb ? dc_tensor_alloc(2, (int64_t[]){c.n_freqs, c.n_mels}) : NULL;
    if (t) {
        filterbank(o, &c, fb);
        for (int64_t i = 0; i < c.n_freqs * c.n_mels; i++) t->data[i] = (float)fb[i];
    }
    dc_free(fb);
    return t;
}

/* Each mel filter's non-zero bins: weights w[first[m] .. first[m] + count[m]) of bins
 * first[m] ... */
typedef struct sparse_fb {
    int64_t *first, *count, *offset;
    double *w;
} sparse_fb;

static void sparse_free(sparse_fb *s) {
    dc_free(s->first);
    dc_free(s->w);
    memset(s, 0, sizeof *s);
}

static dc_status sparse_make(const dc_mel_opts *o, const mel_cfg *c, sparse_fb *s) {
    memset(s, 0, sizeof *s);
    const int64_t nf = c->n_freqs, nm = c->n_mels;
    double *fb = dc_alloc((size_t)(nf * nm) * sizeof(double));
    s->first = dc_alloc((size_t)(3 * nm) * sizeof(int64_t));
    s->w = dc_alloc((size_t)(nf * nm) * sizeof(double));
    if (!fb || !s->first || !s->w) {
        dc_free(fb);
        sparse_free(s);
        return DC_ERR_NOMEM;
    }
    s->count = s->first + nm;
    s->offset = s->count + nm;
    filterbank(o, c, fb);
    int64_t used = 0;
    for (int64_t m = 0; m < nm; m++) {
        int64_t lo = 0, hi = -1;
        for (int64_t k = 0; k < nf; k++)
            if (fb[k * nm + m] != 0) {
                if (hi < 0) lo = k;
                hi = k;
            }
        s->first[m] = lo;
        s->count[m] = hi < 0 ? 0 : hi - lo + 1;
        s->offset[m] = used;
        for (int64_t k = 0; k < s->count[m]; k++) s->w[used + k] = fb[(lo + k) * nm + m];
        used += s->count[m];
    }
    dc_free(fb);
    return DC_OK;
}

/* The window of win samples centred in n_fft (zeros around), torch.stft's padding of it. */
static void make_window(const dc_mel_opts *o, const mel_cfg *c, float *w) {
    const int64_t left = (c->n_fft - c->win) / 2;
    for (int64_t i = 0; i < c->n_fft; i++) w[i] = 0;
    for (int64_t i = 0; i < c->win; i++) {
        const double a = 2.0 * PI * (double)i / (double)c->win;
        double v = 1.0;
        if (o->window == DC_WINDOW_HANN) v = 0.5 - 0.5 * cos(a);
        if (o->window == DC_WINDOW_HAMMING) v = 0.54 - 0.46 * cos(a);
        w[left + i] = (float)v;
    }
}

dc_tensor *dc_log_mel(const dc_tensor *x, const dc_mel_opts *o) {
    if (!x) return dc_error_null(DC_ERR_ARG, "log-mel: x is NULL");
    dc_mel_opts def = dc_mel_defaults();
    if (!o) o = &def;
    mel_cfg c = {0};
    if (mel_check(o, &c)) return NULL;
    if (x->ndim != 1) return dc_error_null(DC_ERR_SHAPE, "log-mel: x must be a [samples] signal, got %s", dc_tshape(x, 0));
    const int64_t n = x->shape[0];
    const int64_t frames = frames_of(n, o, &c);
    if (frames < 0) return NULL;
    if (c.n_fft > INT32_MAX) return dc_error_null(DC_ERR_ARG, "log-mel: n_fft too large");
    dc_tensor *xc = dc_tensor_is_contiguous(x) ? NULL : dc_tensor_clone(x);
    if (!dc_tensor_is_contiguous(x) && !xc) return NULL;
    const float *sig = xc ? xc->data : x->data;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(sig[i])) {
            dc_error(DC_ERR_NUMERIC, "log-mel: sample %lld of %lld is %s", (long long)i, (long long)n,
                     isnan(sig[i]) ? "NaN" : "infinite");
            dc_tensor_free(xc);
            return NULL;
        }
    sparse_fb fb = {0};
    float *win = dc_alloc((size_t)c.n_fft * sizeof(float));
    dc_tensor *out = win && !sparse_make(o, &c, &fb) ? dc_tensor_alloc(2, (int64_t[]){frames, c.n_mels}) : NULL;
    bool temporary = false;
    fftwf_plan plan = out ? plan_get((int)c.n_fft, &temporary) : NULL;
    if (out && !plan) dc_error(DC_ERR_NOMEM, "log-mel: FFTW made no plan for n_fft = %lld", (long long)c.n_fft);
    if (!plan) {
        dc_tensor_free(out);
        out = NULL;
        goto done;
    }
    make_window(o, &c, win);
    const int64_t pad = o->center ? c.n_fft / 2 : 0, left = (c.n_fft - c.win) / 2, nf = c.n_freqs;
    const bool reflect = o->pad_mode == DC_STFT_PAD_REFLECT;
    bool failed = false;
#pragma omp parallel num_threads(dc_threads()) if (frames >= PARALLEL_FRAMES)
    {
        float *in = fftwf_alloc_real((size_t)c.n_fft);
        fftwf_complex *spec = fftwf_alloc_complex((size_t)nf);
        double *pw = dc_alloc((size_t)nf * sizeof(double));
        if (!in || !spec || !pw) {
#pragma omp atomic write
            failed = true;
        }
#pragma omp for schedule(static)
        for (int64_t t = 0; t < frames; t++) {
            if (!in || !spec || !pw) continue;
            /* only the window's span is non-zero */
            memset(in, 0, (size_t)c.n_fft * sizeof(float));
            for (int64_t i = left; i < left + c.win; i++) {
                int64_t j = t * c.hop + i - pad;
                float v;
                if (j >= 0 && j < n)
                    v = sig[j];
                else if (!reflect)
                    v = 0;
                else
                    v = sig[j < 0 ? -j : 2 * (n - 1) - j];
                in[i] = v * win[i];
            }
            fftwf_execute_dft_r2c(plan, in, spec);
            for (int64_t k = 0; k < nf; k++) {
                const double p2 = (double)spec[k][0] * spec[k][0] + (double)spec[k][1] * spec[k][1];
                pw[k] = o->power == 2.0f ? p2 : o->power == 1.0f ? sqrt(p2) : pow(p2, o->power / 2.0);
            }
            float *row = out->data + t * c.n_mels;
            for (int64_t m = 0; m < c.n_mels; m++) {
                const double *w = fb.w + fb.offset[m], *p = pw + fb.first[m];
                double sum = 0;
                for (int64_t k = 0; k < fb.count[m]; k++) sum += w[k] * p[k];
                row[m] = (float)(o->log ? log(sum + o->log_offset) : sum);
            }
        }
        fftwf_free(in);
        fftwf_free(spec);
        dc_free(pw);
    }
    plan_release(plan, temporary);
    if (failed) {
        dc_error(DC_ERR_NOMEM, "log-mel: out of memory for the frames' buffers");
        dc_tensor_free(out);
        out = NULL;
    }
done:
    sparse_free(&fb);
    dc_free(win);
    dc_tensor_free(xc);
    return out;
}

/* ---- per-feature normalisation ---- */

struct dc_feature_norm {
    int64_t nf;
    double count;
    bool fixed; /* made by dc_feature_norm_from: statistics given, nothing to add */
    double *mean, *m2;
};

#define NORM_MIN_STD 1e-5
#define NORM_MAX_FEATURES ((int64_t)1 << 20)

static dc_feature_norm *norm_alloc(int64_t nf, const char *who) {
    if (nf < 1 || nf > NORM_MAX_FEATURES)
        return dc_error_null(DC_ERR_ARG, "%s: n_features must be 1..%lld, got %lld", who,
                             (long long)NORM_MAX_FEATURES, (long long)nf);
    dc_feature_norm *fn = dc_alloc(sizeof *fn + 2 * (size_t)nf * sizeof(double));
    if (!fn) return NULL;
    fn->nf = nf;
    fn->count = 0;
    fn->fixed = false;
    fn->mean = (double *)(fn + 1);
    fn->m2 = fn->mean + nf;
    for (int64_t j = 0; j < nf; j++) fn->mean[j] = fn->m2[j] = 0;
    return fn;
}

dc_feature_norm *dc_feature_norm_new(int64_t n_features) { return norm_alloc(n_features, "feature norm"); }

dc_feature_norm *dc_feature_norm_from(int64_t n_features, const float *mean, const float *std) {
    if (!mean || !std) return dc_error_null(DC_ERR_ARG, "feature norm: mean or std is NULL");
    for (int64_t j = 0; j < n_features; j++)
        if (!isfinite(mean[j]) || !(std[j] > 0) || !isfinite(std[j]))
            return dc_error_null(DC_ERR_ARG, "feature norm: feature %lld has mean %g and std %g; std must be > 0, both finite",
                                 (long long)j, (double)mean[j], (double)std[j]);
    dc_feature_norm *fn = norm_alloc(n_features, "feature norm");
    if (!fn) return NULL;
    fn->fixed = true;
    fn->count = 1;
    for (int64_t j = 0; j < n_features; j++) {
        fn->mean[j] = mean[j];
        fn->m2[j] = (double)std[j] * std[j];
    }
    return fn;
}

void dc_feature_norm_free(dc_feature_norm *fn) { dc_free(fn); }

int64_t dc_feature_norm_count(const dc_feature_norm *fn) { return fn ? (int64_t)fn->count : 0; }

static dc_status feat_check(const dc_tensor *x, int64_t nf, const char *who) {
    if (!x) return dc_error(DC_ERR_ARG, "%s: x is NULL", who);
    if (x->ndim != 2 || x->shape[0] < 1 || x->shape[1] < 1 || (nf > 0 && x->shape[1] != nf)) {
        if (nf > 0)
            return dc_error(DC_ERR_SHAPE, "%s: x must be [frames >= 1, %lld features], got %s", who, (long long)nf,
                            dc_tshape(x, 0));
        return dc_error(DC_ERR_SHAPE, "%s: x must be [frames >= 1, features >= 1], got %s", who, dc_tshape(x, 0));
    }
    return DC_OK;
}

static inline float *at2(const dc_tensor *x, int64_t i, int64_t j) { return x->data + i * x->stride[0] + j * x->stride[1]; }

/* Mean and sum of squared deviations of x's columns (two passes) into mean[], m2[]. */
static void batch_stats(const dc_tensor *x, double *mean, double *m2) {
    const int64_t rows = x->shape[0], nf = x->shape[1];
    for (int64_t j = 0; j < nf; j++) mean[j] = m2[j] = 0;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < nf; j++) mean[j] += *at2(x, i, j);
    for (int64_t j = 0; j < nf; j++) mean[j] /= (double)rows;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < nf; j++) {
            const double d = *at2(x, i, j) - mean[j];
            m2[j] += d * d;
        }
}

dc_status dc_feature_norm_add(dc_feature_norm *fn, const dc_tensor *x) {
    if (!fn) return dc_error(DC_ERR_ARG, "feature norm: fn is NULL");
    dc_status s = feat_check(x, fn->nf, "feature norm");
    if (s) return s;
    if (fn->fixed) return dc_error(DC_ERR_STATE, "feature norm: its statistics were given (dc_feature_norm_from)");
    if ((s = dc_check_finite(x, "feature norm"))) return s;
    double *bm = dc_alloc(2 * (size_t)fn->nf * sizeof(double));
    if (!bm) return DC_ERR_NOMEM;
    double *b2 = bm + fn->nf;
    batch_stats(x, bm, b2);
    const double na = fn->count, nb = (double)x->shape[0], n = na + nb;
    for (int64_t j = 0; j < fn->nf; j++) {
        const double d = bm[j] - fn->mean[j];
        fn->mean[j] += d * nb / n;
        fn->m2[j] += b2[j] + d * d * na * nb / n;
    }
    fn->count = n;
    dc_free(bm);
    return DC_OK;
}

static double norm_std(double m2, double count) {
    const double sd = sqrt(m2 / count);
    return sd < NORM_MIN_STD ? 1.0 : sd;
}

dc_status dc_feature_norm_stats(const dc_feature_norm *fn, float *mean, float *std) {
    if (!fn) return dc_error(DC_ERR_ARG, "feature norm: fn is NULL");
    if (fn->count <= 0) return dc_error(DC_ERR_STATE, "feature norm: no frames added yet");
    for (int64_t j = 0; j < fn->nf; j++) {
        if (mean) mean[j] = (float)fn->mean[j];
        if (std) std[j] = (float)norm_std(fn->m2[j], fn->count);
    }
    return DC_OK;
}

static void apply(const double *mean, const double *m2, double count, dc_tensor *x) {
    const int64_t rows = x->shape[0], nf = x->shape[1];
    for (int64_t j = 0; j < nf; j++) {
        const double mu = mean[j], inv = 1.0 / norm_std(m2[j], count);
        for (int64_t i = 0; i < rows; i++) {
            float *v = at2(x, i, j);
            *v = (float)((*v - mu) * inv);
        }
    }
}

dc_status dc_feature_norm_apply(const dc_feature_norm *fn, dc_tensor *x) {
    if (!fn) return dc_error(DC_ERR_ARG, "feature norm: fn is NULL");
    dc_status s = feat_check(x, fn->nf, "feature norm");
    if (s) return s;
    if (fn->count <= 0) return dc_error(DC_ERR_STATE, "feature norm: no frames added yet");
    apply(fn->mean, fn->m2, fn->count, x);
    return DC_OK;
}

dc_status dc_normalize_utterance(dc_tensor *x) {
    dc_status s = feat_check(x, 0, "normalize utterance");
    if (s) return s;
    if ((s = dc_check_finite(x, "normalize utterance"))) return s;
    const int64_t nf = x->shape[1];
    double *mean = dc_alloc(2 * (size_t)nf * sizeof(double));
    if (!mean) return DC_ERR_NOMEM;
    batch_stats(x, mean, mean + nf);
    apply(mean, mean + nf, (double)x->shape[0], x);
    dc_free(mean);
    return DC_OK;
}
