/* Audio in: sound files through libsndfile (written here with libsndfile in every sample
 * format, read back, mixed down, resampled), the log-mel spectrograms and resampling against
 * the NumPy/torchaudio golden vectors of tests/golden/audio (scripts/golden/gen_golden_audio.py),
 * feature normalisation, labels files, and bad input of every kind refused with a message that
 * names the file and the numbers. */
#include "check.h"
#include "golden_io.h"
#include "tensor/tensor.h"
#include "tmpfiles.h"

#include <math.h>
#include <omp.h>
#include <sndfile.h>
#include <stdint.h>
#include <sys/stat.h>

#define PI 3.14159265358979323846

/* ---- writing test files with libsndfile ---- */

/* Writes frames x channels interleaved samples as `format` (SF_FORMAT_WAV | SF_FORMAT_PCM_16,
 * ...): shorts when s16, ints when s32, else floats. */
static bool write_sound(const char *path, int format, int rate, int channels, int64_t frames, const short *s16,
                        const int *s32, const float *f32) {
    SF_INFO info = {.samplerate = rate, .channels = channels, .format = format};
    if (!sf_format_check(&info)) return false;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) return false;
    sf_count_t w = s16 ? sf_writef_short(sf, s16, frames) : s32 ? sf_writef_int(sf, s32, frames)
                                                                : sf_writef_float(sf, f32, frames);
    return sf_close(sf) == 0 && w == frames;
}

/* The bytes of a 44-byte canonical WAV header: PCM, channels, rate, bits, data_bytes declared. */
static void wav_header(unsigned char *h, int channels, int rate, int bits, uint32_t data_bytes) {
    const int block = channels * bits / 8;
    const uint32_t riff = data_bytes > 0xffffffffu - 36 ? 0xffffffffu : data_bytes + 36;
    const uint32_t v[] = {riff, 16, 1 | (uint32_t)channels << 16, (uint32_t)rate, (uint32_t)(rate * block),
                          (uint32_t)block | (uint32_t)bits << 16, data_bytes};
    memcpy(h, "RIFF", 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    memcpy(h + 36, "data", 4);
    const int at[] = {4, 16, 20, 24, 28, 32, 40};
    for (int i = 0; i < 7; i++)
        for (int b = 0; b < 4; b++) h[at[i] + b] = (unsigned char)(v[i] >> (8 * b));
}

static float *tdata(dc_tensor *t) { return dc_tensor_data(t); }

/* ---- round trips ---- */

static void test_round_trips(void) {
    enum { N = 1000 };
    static short s[2 * N];
    static int i24[N];
    static float f[N];
    for (int i = 0; i < N; i++) {
        s[i] = (short)(30000 * sin(2 * PI * 440 * i / 16000.0));
        i24[i] = (int)(8000000 * sin(2 * PI * 300 * i / 16000.0)) * 256; /* 24 bits in the top of an int */
        f[i] = (float)(0.75 * sin(2 * PI * 100 * i / 16000.0));
    }
    f[10] = 1.5f; /* floating-point samples come back as stored, not clipped */

    /* 16-bit mono: v / 32768 exactly */
    const char *p16 = in_dir("pcm16.wav");
    CHECK(write_sound(p16, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, N, s, NULL, NULL));
    int64_t rate = 0;
    dc_tensor *t = dc_audio_load(p16, NULL, &rate);
    CHECK(t && dc_tensor_ndim(t) == 1 && dc_tensor_dim(t, 0) == N && rate == 16000);
    int bad = 0;
    for (int i = 0; t && i < N; i++) bad += tdata(t)[i] != s[i] / 32768.0f;
    CHECK(bad == 0);

    /* the same bytes from memory give the same samples */
    size_t nbytes = 0;
    char *bytes = slurp_n(p16, &nbytes);
    int64_t rate2 = 0;
    dc_tensor *m = bytes ? dc_audio_decode(bytes, nbytes, "mem.wav", NULL, &rate2) : NULL;
    CHECK(m && t && rate2 == 16000 && dc_tensor_dim(m, 0) == N &&
          memcmp(tdata(m), tdata(t), N * sizeof(float)) == 0);
    dc_tensor_free(m);
    free(bytes);
    dc_tensor_free(t);

    /* stereo: the mean of left and right */
    static short st[2 * N];
    for (int i = 0; i < N; i++) {
        st[2 * i] = s[i];
        st[2 * i + 1] = (short)(i * 7 - 3000);
    }
    const char *pst = in_dir("stereo.wav");
    CHECK(write_sound(pst, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, N, st, NULL, NULL));
    t = dc_audio_load(pst, NULL, &rate);
    CHECK(t && dc_tensor_dim(t, 0) == N && rate == 44100);
    bad = 0;
    for (int i = 0; t && i < N; i++)
        bad += fabsf(tdata(t)[i] - (float)((st[2 * i] / 32768.0 + st[2 * i + 1] / 32768.0) / 2)) > 1e-7f;
    CHECK(bad == 0);
    dc_tensor_free(t);

    /* 8-bit WAV (unsigned): (v - 128) / 128, 24-bit: v / 2^23, float: as stored */
    const char *p8 = in_dir("pcm8.wav");
    CHECK(write_sound(p8, SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 8000, 1, N, s, NULL, NULL));
    t = dc_audio_load(p8, NULL, &rate);
    CHECK(t && dc_tensor_dim(t, 0) == N && rate == 8000);
    double err = 0;
    for (int i = 0; t && i < N; i++) {
        const float v = tdata(t)[i];
        err = fmax(err, fabs(v - s[i] / 32768.0));
        if (v * 128 != floorf(v * 128)) err = 1; /* a multiple of 1/128 */
    }
    CHECK(err <= 1.0 / 128);
    dc_tensor_free(t);

    const char *p24 = in_dir("pcm24.wav");
    CHECK(write_sound(p24, SF_FORMAT_WAV | SF_FORMAT_PCM_24, 48000, 1, N, NULL, i24, NULL));
    t = dc_audio_load(p24, NULL, &rate);
    CHECK(t && dc_tensor_dim(t, 0) == N && rate == 48000);
    bad = 0;
    for (int i = 0; t && i < N; i++) bad += tdata(t)[i] != (float)((i24[i] / 256) / 8388608.0);
    CHECK(bad == 0);
    dc_tensor_free(t);

    const char *pf = in_dir("float.wav");
    CHECK(write_sound(pf, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, N, NULL, NULL, f));
    t = dc_audio_load(pf, NULL, &rate);
    CHECK(t && dc_tensor_dim(t, 0) == N && t && memcmp(tdata(t), f, sizeof f) == 0);
    dc_tensor_free(t);

    /* FLAC and AIFF, told by content: the name says .wav */
    SF_INFO probe = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
    if (sf_format_check(&probe)) {
        const char *pfl = in_dir("flac_named.wav");
        CHECK(write_sound(pfl, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, N, s, NULL, NULL));
        t = dc_audio_load(pfl, NULL, &rate);
        CHECK(t && dc_tensor_dim(t, 0) == N && rate == 16000);
        bad = 0;
        for (int i = 0; t && i < N; i++) bad += tdata(t)[i] != s[i] / 32768.0f;
        CHECK(bad == 0);
        dc_tensor_free(t);
    } else {
        printf("test_audio: FLAC: skipped (this libsndfile has no FLAC)\n");
    }
    const char *pai = in_dir("aiff_named.wav");
    CHECK(write_sound(pai, SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 11025, 1, N, s, NULL, NULL));
    t = dc_audio_load(pai, NULL, &rate);
    CHECK(t && dc_tensor_dim(t, 0) == N && rate == 11025 && tdata(t)[5] == s[5] / 32768.0f);
    dc_tensor_free(t);

    /* a streaming writer's WAV (data size 0xffffffff, 0x7ffff000 from espeak-ng --stdout) is read to its end */
    unsigned char sw[44 + 200];
    for (uint32_t marker = 0x7ffff000u, k = 0; k < 2; k++, marker = 0xffffffffu) {
        wav_header(sw, 1, 22050, 16, marker);
        memcpy(sw + 44, s, 200);
        t = dc_audio_decode(sw, sizeof sw, "stream.wav", NULL, &rate);
        CHECK(t && dc_tensor_dim(t, 0) == 100 && rate == 22050 && tdata(t)[3] == s[3] / 32768.0f);
        dc_tensor_free(t);
    }
}

/* The strongest frequency of x (rate Hz) by a DFT on a 1 Hz grid around the guess. */
static double peak_hz(const float *x, int64_t n, double rate, double lo, double hi) {
    double best = 0, best_f = 0;
    for (double fr = lo; fr <= hi; fr += 1) {
        double re = 0, im = 0;
        for (int64_t i = 0; i < n; i++) {
            re += x[i] * cos(2 * PI * fr * i / rate);
            im += x[i] * sin(2 * PI * fr * i / rate);
        }
        if (re * re + im * im > best) {
            best = re * re + im * im;
            best_f = fr;
        }
    }
    return best_f;
}

static void test_resample_sanity(void) {
    enum { N = 22050 };
    static short s[N];
    for (int i = 0; i < N; i++) s[i] = (short)(16000 * sin(2 * PI * 440 * i / 22050.0));
    const char *p = in_dir("sine22050.wav");
    CHECK(write_sound(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 22050, 1, N, s, NULL, NULL));
    for (int mode = 0; mode < 2; mode++) {
        dc_audio_opts o = dc_audio_defaults();
        o.sample_rate = 16000;
        o.resample = mode ? DC_RESAMPLE_LINEAR : DC_RESAMPLE_SINC;
        int64_t rate = 0;
        dc_tensor *t = dc_audio_load(p, &o, &rate);
        CHECK(t && rate == 16000 && dc_tensor_dim(t, 0) == 16000);
        if (!t) continue;
        const float *y = tdata(t);
        CHECK(peak_hz(y + 2000, 8000, 16000, 400, 480) == 440);
        /* the amplitude is kept (away from the edges) */
        float mx = 0;
        for (int i = 1000; i < 15000; i++) mx = fmaxf(mx, fabsf(y[i]));
        CHECK_NEAR(mx, 16000 / 32768.0, mode ? 2e-3 : 1e-3);
        dc_tensor_free(t);
    }
    /* dc_audio_resample: a 1 kHz tone at 48 kHz to 8 kHz keeps its frequency; a copy at the same rate */
    dc_tensor *x = dc_tensor_new(1, (int64_t[]){4800});
    for (int i = 0; i < 4800; i++) tdata(x)[i] = (float)sin(2 * PI * 1000 * i / 48000.0);
    dc_tensor *y = dc_audio_resample(x, 48000, 8000, DC_RESAMPLE_SINC);
    CHECK(y && dc_tensor_dim(y, 0) == 800);
    if (y) CHECK(peak_hz(tdata(y) + 100, 600, 8000, 950, 1050) == 1000);
    dc_tensor_free(y);
    y = dc_audio_resample(x, 48000, 48000, DC_RESAMPLE_LINEAR);
    CHECK(y && memcmp(tdata(y), tdata(x), 4800 * sizeof(float)) == 0);
    dc_tensor_free(y);
    CHECK_NULL_ERR(dc_audio_resample(x, 0, 8000, DC_RESAMPLE_SINC), "rates", "0 -> 8000");
    CHECK_NULL_ERR(dc_audio_resample(x, 8000, 800000, DC_RESAMPLE_SINC), "800000");
    CHECK_NULL_ERR(dc_audio_resample(x, 8000, 16000, (dc_resample_mode)7), "unknown mode 7");
    dc_tensor_free(x);
}

/* ---- golden vectors ---- */

static const char *golden_dir = "tests/golden/audio";

/* got vs expected: |g - e| <= abs + rel |e| everywhere; prints the worst element otherwise. */
static bool close_all(const char *what, const float *got, const double *exp, int64_t n, double abs_tol, double rel_tol) {
    int64_t worst = -1;
    double worst_excess = 0;
    for (int64_t i = 0; i < n; i++) {
        const double excess = fabs(got[i] - exp[i]) - (abs_tol + rel_tol * fabs(exp[i]));
        if (!(excess <= worst_excess)) {
            worst_excess = excess;
            worst = i;
        }
    }
    if (worst >= 0)
        fprintf(stderr, "%s: element %lld is %.9g, expected %.9g (tolerance %g + %g relative)\n", what,
                (long long)worst, got[worst], exp[worst], abs_tol, rel_tol);
    return worst < 0;
}

static void test_mel_golden(const char *name) {
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/%s.txt", golden_dir, name);
    gt_file f;
    if (!gt_load(&f, path, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        CHECK(!"golden file");
        return;
    }
    const gt_tensor *cfg = gt_find(&f, "cfg"), *x = gt_find(&f, "x"), *fb = gt_find(&f, "fb"), *y = gt_find(&f, "y");
    CHECK(cfg && x && fb && y && cfg->numel == 15 && y->ndim == 2 && fb->ndim == 2);
    if (!cfg || !x || !fb || !y || cfg->numel != 15) {
        gt_free(&f);
        return;
    }
    const double *c = cfg->v;
    dc_mel_opts o = dc_mel_defaults();
    o.sample_rate = (int64_t)c[0];
    o.n_fft = (int64_t)c[1];
    o.win_length = (int64_t)c[2];
    o.hop_length = (int64_t)c[3];
    o.n_mels = (int64_t)c[4];
    o.f_min = c[5];
    o.f_max = c[6];
    o.window = (dc_window)(int)c[7];
    o.center = c[8] != 0;
    o.pad_mode = c[9] != 0 ? DC_STFT_PAD_ZERO : DC_STFT_PAD_REFLECT;
    o.power = (float)c[10];
    o.mel_scale = c[11] != 0 ? DC_MEL_SLANEY : DC_MEL_HTK;
    o.slaney_norm = c[12] != 0;
    o.log = c[13] != 0;
    o.log_offset = (float)c[14];

    dc_tensor *fbt = dc_mel_filterbank(&o);
    CHECK(fbt && dc_tensor_dim(fbt, 0) == fb->shape[0] && dc_tensor_dim(fbt, 1) == fb->shape[1]);
    if (fbt && dc_tensor_dim(fbt, 0) == fb->shape[0] && dc_tensor_dim(fbt, 1) == fb->shape[1])
        CHECK(close_all(name, tdata(fbt), fb->v, fb->numel, 1e-7, 1e-6));
    dc_tensor_free(fbt);

    dc_tensor *xt = dc_tensor_new(1, &x->numel);
    for (int64_t i = 0; i < x->numel; i++) tdata(xt)[i] = (float)x->v[i];
    CHECK(dc_mel_frames(x->numel, &o) == y->shape[0]);
    dc_tensor *yt = dc_log_mel(xt, &o);
    CHECK(yt && dc_tensor_dim(yt, 0) == y->shape[0] && dc_tensor_dim(yt, 1) == y->shape[1]);
    if (yt && dc_tensor_dim(yt, 0) == y->shape[0] && dc_tensor_dim(yt, 1) == y->shape[1]) {
        /* log values to 1e-4 relative (1e-4 absolute near 0); mel energies to 1e-4 of the frame's largest */
        if (o.log) {
            CHECK(close_all(name, tdata(yt), y->v, y->numel, 1e-4, 1e-4));
        } else {
            double mx = 0;
            for (int64_t i = 0; i < y->numel; i++) mx = fmax(mx, fabs(y->v[i]));
            CHECK(close_all(name, tdata(yt), y->v, y->numel, 1e-5 * mx, 1e-4));
        }
    }
    /* a strided view of the signal gives the same values */
    if (yt && x->numel % 2 == 0) {
        dc_tensor *x2 = dc_tensor_new(2, (int64_t[]){x->numel, 2});
        for (int64_t i = 0; i < x->numel; i++) tdata(x2)[2 * i] = tdata(xt)[i];
        dc_tensor col = *x2; /* column 0 as a 1-D view of stride 2 */
        col.ndim = 1;
        col.numel = x->numel;
        col.stride[0] = 2;
        col.kind = DC_TENSOR_STEP;
        col.heap = NULL;
        dc_tensor *y2 = dc_log_mel(&col, &o);
        CHECK(y2 && memcmp(tdata(y2), tdata(yt), (size_t)dc_tensor_numel(yt) * sizeof(float)) == 0);
        dc_tensor_free(y2);
        dc_tensor_free(x2);
    }
    dc_tensor_free(yt);
    dc_tensor_free(xt);
    gt_free(&f);
}

static void test_resample_golden(const char *name) {
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/%s.txt", golden_dir, name);
    gt_file f;
    if (!gt_load(&f, path, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        CHECK(!"golden file");
        return;
    }
    const gt_tensor *cfg = gt_find(&f, "cfg"), *x = gt_find(&f, "x"), *idx = gt_find(&f, "idx"), *y = gt_find(&f, "y");
    CHECK(cfg && x && idx && y && cfg->numel == 3 && idx->numel == y->numel);
    if (cfg && x && idx && y && cfg->numel == 3 && idx->numel == y->numel) {
        dc_tensor *xt = dc_tensor_new(1, &x->numel);
        for (int64_t i = 0; i < x->numel; i++) tdata(xt)[i] = (float)x->v[i];
        dc_tensor *yt = dc_audio_resample(xt, (int64_t)cfg->v[0], (int64_t)cfg->v[1], DC_RESAMPLE_SINC);
        CHECK(yt && dc_tensor_dim(yt, 0) == (int64_t)cfg->v[2]);
        if (yt && dc_tensor_dim(yt, 0) == (int64_t)cfg->v[2]) {
            float *got = malloc((size_t)idx->numel * sizeof(float));
            for (int64_t i = 0; i < idx->numel; i++) got[i] = tdata(yt)[(int64_t)idx->v[i]];
            CHECK(close_all(name, got, y->v, y->numel, 2e-6, 1e-5));
            free(got);
        }
        dc_tensor_free(yt);
        dc_tensor_free(xt);
    }
    gt_free(&f);
}

/* ---- spectrogram behaviour and options ---- */

static void test_mel_misc(void) {
    /* torchaudio's frame counts */
    dc_mel_opts o = dc_mel_defaults();
    CHECK(dc_mel_frames(16000, &o) == 81); /* 1 + 16000 / 200 */
    o.center = false;
    CHECK(dc_mel_frames(16000, &o) == 79); /* 1 + (16000 - 400) / 200 */
    CHECK(dc_mel_frames(399, &o) == -1 && strstr(dc_last_error(), "shorter than one frame"));
    o = dc_mel_defaults();
    CHECK(dc_mel_frames(200, &o) == -1 && strstr(dc_last_error(), "200 samples"));
    o.pad_mode = DC_STFT_PAD_ZERO;
    CHECK(dc_mel_frames(1, &o) == 1);

    /* a pure tone's energy lands in the band of its frequency */
    o = dc_mel_defaults();
    o.n_mels = 40;
    dc_tensor *x = dc_tensor_new(1, (int64_t[]){8000});
    for (int i = 0; i < 8000; i++) tdata(x)[i] = (float)(0.5 * sin(2 * PI * 1000 * i / 16000.0));
    dc_tensor *y = dc_log_mel(x, &o);
    dc_tensor *fb = dc_mel_filterbank(&o);
    CHECK(y && fb && dc_tensor_dim(y, 0) == 41 && dc_tensor_dim(y, 1) == 40);
    if (y && fb) {
        int best = 0, fb_best = 0;
        const float *row = tdata(y) + 20 * 40, *bin = tdata(fb) + 25 * 40; /* bin 25 = 1000 Hz */
        for (int m = 1; m < 40; m++) {
            if (row[m] > row[best]) best = m;
            if (bin[m] > bin[fb_best]) fb_best = m;
        }
        CHECK(best == fb_best);
    }
    dc_tensor_free(fb);
    dc_tensor_free(y);

    /* many threads at once, each with its own FFT lengths (plans made under the lock): the
     * results of a single thread */
    enum { K = 6 };
    const int64_t nffts[K] = {256, 400, 512, 300, 1024, 200};
    dc_tensor *ref[K];
    for (int k = 0; k < K; k++) {
        dc_mel_opts ok = dc_mel_defaults();
        ok.n_fft = nffts[k];
        ok.n_mels = 32;
        ref[k] = dc_log_mel(x, &ok);
        CHECK(ref[k] != NULL);
    }
    int mismatches = 0;
#pragma omp parallel for num_threads(4) schedule(dynamic) reduction(+ : mismatches)
    for (int r = 0; r < 4 * K; r++) {
        dc_mel_opts ok = dc_mel_defaults();
        ok.n_fft = nffts[r % K];
        ok.n_mels = 32;
        dc_tensor *t = dc_log_mel(x, &ok);
        if (!t || !ref[r % K] ||
            memcmp(dc_tensor_data(t), dc_tensor_data(ref[r % K]), (size_t)dc_tensor_numel(t) * sizeof(float)))
            mismatches++;
        dc_tensor_free(t);
    }
    CHECK(mismatches == 0);
    for (int k = 0; k < K; k++) dc_tensor_free(ref[k]);
    /* more FFT lengths than the plan cache keeps */
    int ok_all = 1;
    for (int n = 64; n < 64 + 20; n++) {
        dc_mel_opts ok = dc_mel_defaults();
        ok.n_fft = n;
        ok.n_mels = 8;
        dc_tensor *t = dc_log_mel(x, &ok);
        ok_all &= t != NULL && dc_tensor_dim(t, 1) == 8;
        dc_tensor_free(t);
    }
    CHECK(ok_all);

    /* options and inputs refused with their values named */
    o = dc_mel_defaults();
    o.f_max = 9000;
    CHECK_NULL_ERR(dc_log_mel(x, &o), "f_max", "8000", "9000");
    o = dc_mel_defaults();
    o.f_min = 5000;
    o.f_max = 4000;
    CHECK_NULL_ERR(dc_log_mel(x, &o), "f_min (5000 Hz)", "f_max (4000 Hz)");
    o = dc_mel_defaults();
    o.win_length = 500;
    CHECK_NULL_ERR(dc_log_mel(x, &o), "win_length", "400", "500");
    o = dc_mel_defaults();
    o.n_fft = 1;
    CHECK_NULL_ERR(dc_log_mel(x, &o), "n_fft", "got 1");
    o = dc_mel_defaults();
    o.n_mels = 0;
    CHECK_NULL_ERR(dc_log_mel(x, &o), "n_mels", "got 0");
    o = dc_mel_defaults();
    o.log_offset = 0;
    CHECK_NULL_ERR(dc_log_mel(x, &o), "log_offset");
    o = dc_mel_defaults();
    o.power = -1;
    CHECK_NULL_ERR(dc_log_mel(x, &o), "power");
    o = dc_mel_defaults();
    o.sample_rate = 0;
    CHECK_NULL_ERR(dc_mel_filterbank(&o), "sample_rate", "got 0");
    CHECK_NULL_ERR(dc_log_mel(NULL, NULL), "x is NULL");
    dc_tensor *two = dc_tensor_new(2, (int64_t[]){2, 500});
    CHECK_NULL_ERR(dc_log_mel(two, NULL), "[samples]", "[2, 500]");
    dc_tensor_free(two);
    tdata(x)[4321] = NAN;
    CHECK_NULL_ERR(dc_log_mel(x, NULL), "sample 4321", "NaN");
    dc_tensor_free(x);
}

/* ---- normalisation ---- */

static void test_feature_norm(void) {
    dc_rng r;
    dc_rng_seed(&r, 7);
    dc_tensor *a = check_randn(&r, 2, (int64_t[]){30, 4}), *b = check_randn(&r, 2, (int64_t[]){50, 4});
    for (int i = 0; i < 30 * 4; i++) tdata(a)[i] = tdata(a)[i] * 3 + 10 * (i % 4);
    for (int i = 0; i < 50 * 4; i++) tdata(b)[i] = tdata(b)[i] * 2 + 10 * (i % 4) + 1;
    for (int i = 0; i < 30; i++) tdata(a)[i * 4 + 3] = 5; /* a constant feature: only centred */
    for (int i = 0; i < 50; i++) tdata(b)[i * 4 + 3] = 5;
    /* the statistics of both, computed directly */
    double mean[4] = {0}, var[4] = {0};
    for (int j = 0; j < 4; j++) {
        for (int i = 0; i < 30; i++) mean[j] += tdata(a)[i * 4 + j];
        for (int i = 0; i < 50; i++) mean[j] += tdata(b)[i * 4 + j];
        mean[j] /= 80;
        for (int i = 0; i < 30; i++) var[j] += pow(tdata(a)[i * 4 + j] - mean[j], 2);
        for (int i = 0; i < 50; i++) var[j] += pow(tdata(b)[i * 4 + j] - mean[j], 2);
        var[j] /= 80;
    }
    dc_feature_norm *fn = dc_feature_norm_new(4);
    CHECK(fn && dc_feature_norm_add(fn, a) == DC_OK && dc_feature_norm_add(fn, b) == DC_OK);
    CHECK(dc_feature_norm_count(fn) == 80);
    float fm[4], fs[4];
    CHECK(dc_feature_norm_stats(fn, fm, fs) == DC_OK);
    for (int j = 0; j < 4; j++) {
        CHECK_NEAR(fm[j], mean[j], 1e-4);
        CHECK_NEAR(fs[j], j == 3 ? 1.0 : sqrt(var[j]), 1e-4);
    }
    CHECK(dc_feature_norm_apply(fn, b) == DC_OK);
    CHECK_NEAR(tdata(b)[3], 0, 1e-6);
    /* a norm made from the same statistics applies the same */
    dc_feature_norm *fixed = dc_feature_norm_from(4, fm, fs);
    dc_tensor *a2 = dc_tensor_clone(a);
    CHECK(fixed && dc_feature_norm_apply(fn, a) == DC_OK && dc_feature_norm_apply(fixed, a2) == DC_OK);
    int bad = 0;
    for (int i = 0; i < 120; i++) bad += fabsf(tdata(a)[i] - tdata(a2)[i]) > 1e-5f;
    CHECK(bad == 0);
    CHECK_ERR(dc_feature_norm_add(fixed, a), DC_ERR_STATE, "given");
    dc_tensor *wrong = dc_tensor_new(2, (int64_t[]){3, 5});
    CHECK_ERR(dc_feature_norm_apply(fn, wrong), DC_ERR_SHAPE, "4 features", "[3, 5]");
    dc_feature_norm *empty = dc_feature_norm_new(5);
    CHECK_ERR(dc_feature_norm_apply(empty, wrong), DC_ERR_STATE, "no frames");
    tdata(wrong)[7] = INFINITY;
    CHECK(dc_feature_norm_add(empty, wrong) == DC_ERR_NUMERIC);
    CHECK_NULL_ERR(dc_feature_norm_new(0), "n_features", "got 0");
    CHECK_NULL_ERR(dc_feature_norm_from(2, (float[]){0, 0}, (float[]){1, 0}), "feature 1", "std");
    dc_feature_norm_free(empty);
    dc_feature_norm_free(fixed);
    dc_feature_norm_free(fn);

    /* per utterance: every feature to mean 0, std 1 */
    dc_tensor *u = check_randn(&r, 2, (int64_t[]){40, 3});
    for (int i = 0; i < 120; i++) tdata(u)[i] = tdata(u)[i] * 4 - 7;
    CHECK(dc_normalize_utterance(u) == DC_OK);
    for (int j = 0; j < 3; j++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < 40; i++) {
            s += tdata(u)[i * 3 + j];
            s2 += pow(tdata(u)[i * 3 + j], 2);
        }
        CHECK_NEAR(s / 40, 0, 1e-5);
        CHECK_NEAR(s2 / 40, 1, 1e-4);
    }
    CHECK_ERR(dc_normalize_utterance(wrong), DC_ERR_NUMERIC, "");
    dc_tensor *one_d = dc_tensor_new(1, (int64_t[]){4});
    CHECK_ERR(dc_normalize_utterance(one_d), DC_ERR_SHAPE, "[frames >= 1, features >= 1]", "[4]");
    dc_tensor_free(one_d);
    dc_tensor_free(u);
    dc_tensor_free(wrong);
    dc_tensor_free(a2);
    dc_tensor_free(a);
    dc_tensor_free(b);
}

/* ---- labels files ---- */

static void test_labels(void) {
    const char *p = WRITE("labels.tsv", "# file\tdigits\tvoice\n00000.wav\t314\ten-us+m3\r\n\n/abs/x.wav\t\nsub/a.wav\t07\n");
    dc_labelled_files l;
    CHECK(dc_labels_tsv_load(p, &l) == DC_OK && l.n == 3);
    if (l.n == 3) {
        CHECK(strcmp(l.paths[0], in_dir("00000.wav")) == 0 && strcmp(l.labels[0], "314") == 0);
        CHECK(strcmp(l.paths[1], "/abs/x.wav") == 0 && strcmp(l.labels[1], "") == 0);
        CHECK(strcmp(l.paths[2], in_dir("sub/a.wav")) == 0 && strcmp(l.labels[2], "07") == 0);
    }
    dc_labelled_files_free(&l);
    CHECK(l.n == 0 && l.paths == NULL);
    CHECK_ERR(dc_labels_tsv_load(WRITE("nolab.tsv", "a.wav\t1\nb.wav 2\n"), &l), DC_ERR_FORMAT, "nolab.tsv:2", "no tab",
              "b.wav 2");
    CHECK(l.n == 0 && l.paths == NULL);
    CHECK_ERR(dc_labels_tsv_load(WRITE("empty.tsv", "# nothing\n\n"), &l), DC_ERR_FORMAT, "empty.tsv", "no \"file");
    CHECK_ERR(dc_labels_tsv_load(WRITE("noname.tsv", "\t12\n"), &l), DC_ERR_FORMAT, "noname.tsv:1", "empty file name");
    CHECK_ERR(dc_labels_tsv_load(write_file("nul.tsv", "a\t1\0\n", 5, false), &l), DC_ERR_FORMAT, "nul.tsv:1", "NUL");
    CHECK_ERR(dc_labels_tsv_load(in_dir("missing.tsv"), &l), DC_ERR_IO, "missing.tsv");
    CHECK_ERR(dc_labels_tsv_load(NULL, &l), DC_ERR_ARG, "NULL");
}

/* ---- bad input ---- */

static void test_bad_input(void) {
    /* what libsndfile's open sees: the name of the file and the kind of trouble */
    CHECK_NULL_ERR(dc_audio_load(WRITE("empty.wav", ""), NULL, NULL), "empty.wav", "empty file (0 bytes)");
    CHECK_NULL_ERR(dc_audio_load(WRITE("text.wav", "Hello, this is not a sound.\n"), NULL, NULL), "text.wav",
                   "not a sound file", "48 65 6c 6c 6f", "text");
    CHECK_NULL_ERR(dc_audio_load(in_dir("missing.wav"), NULL, NULL), "missing.wav", "cannot open");
    CHECK(dc_last_status() == DC_ERR_IO);
    CHECK_NULL_ERR(dc_audio_load(dir, NULL, NULL), "is a directory");
    CHECK_NULL_ERR(dc_audio_load(NULL, NULL, NULL), "path is NULL");
    CHECK_NULL_ERR(dc_audio_decode("", 0, "zero.wav", NULL, NULL), "zero.wav", "empty file");

    /* a real WAV cut inside its header */
    enum { N = 4000 };
    static short s[N];
    for (int i = 0; i < N; i++) s[i] = (short)(i * 13);
    const char *good = in_dir("good.wav");
    CHECK(write_sound(good, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, N, s, NULL, NULL));
    size_t n = 0;
    char *bytes = slurp_n(good, &n);
    CHECK(bytes && n > 44);
    if (!bytes) return;
    CHECK_NULL_ERR(dc_audio_decode(bytes, 20, "cut20.wav", NULL, NULL), "cut20.wav", "WAV", "20 bytes");
    CHECK(dc_last_status() == DC_ERR_FORMAT);
    /* cut inside its samples: the data chunk declares more than follows */
    CHECK_NULL_ERR(dc_audio_load(write_file("cut.wav", bytes, n - 1001, false), NULL, NULL), "cut.wav",
                   "truncated WAV", "declares 8000 bytes", "4000 frames of 1 channel x 16 bits", "6999 bytes");
    free(bytes);

    /* an absurd declared length: 2^30 bytes of data in a 144-byte file */
    unsigned char h[144] = {0};
    wav_header(h, 2, 44100, 16, 1u << 30);
    CHECK_NULL_ERR(dc_audio_decode(h, sizeof h, "huge.wav", NULL, NULL), "huge.wav", "truncated WAV",
                   "declares 1073741824 bytes", "268435456 frames of 2 channels x 16 bits", "only 100 bytes");
    /* no channels, an absurd rate */
    wav_header(h, 0, 16000, 16, 100);
    CHECK_NULL_ERR(dc_audio_decode(h, sizeof h, "nochan.wav", NULL, NULL), "nochan.wav", "WAV");
    wav_header(h, 1, 0, 16, 100);
    CHECK_NULL_ERR(dc_audio_decode(h, sizeof h, "rate0.wav", NULL, NULL), "rate0.wav");
    wav_header(h, 1, 2000000, 16, 100);
    CHECK_NULL_ERR(dc_audio_decode(h, sizeof h, "rate2M.wav", NULL, NULL), "rate2M.wav", "2000000 Hz", "768000");
    /* a data chunk of 0 frames */
    wav_header(h, 1, 16000, 16, 0);
    CHECK_NULL_ERR(dc_audio_decode(h, 44, "nodata.wav", NULL, NULL), "nodata.wav", "no samples");

    /* longer than max_seconds: refused before the samples are read */
    dc_audio_opts o = dc_audio_defaults();
    o.max_seconds = 0.2;
    CHECK_NULL_ERR(dc_audio_load(good, &o, NULL), "good.wav", "declares 4000 frames", "0.2 s", "16000 Hz",
                   "limit of 3200 frames");
    o.max_seconds = 0.25;
    dc_tensor *t = dc_audio_load(good, &o, NULL);
    CHECK(t && dc_tensor_dim(t, 0) == N);
    dc_tensor_free(t);

    /* a NaN in a float WAV */
    static float f[64];
    f[37] = NAN;
    const char *pnan = in_dir("nan.wav");
    CHECK(write_sound(pnan, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, 64, NULL, NULL, f));
    CHECK_NULL_ERR(dc_audio_load(pnan, NULL, NULL), "nan.wav", "frame 37", "NaN");

    /* bad options */
    o = dc_audio_defaults();
    o.sample_rate = -5;
    CHECK_NULL_ERR(dc_audio_load(good, &o, NULL), "sample_rate", "-5");
    o = dc_audio_defaults();
    o.max_seconds = -1;
    CHECK_NULL_ERR(dc_audio_load(good, &o, NULL), "max_seconds", "-1");
    o = dc_audio_defaults();
    o.resample = (dc_resample_mode)9;
    CHECK_NULL_ERR(dc_audio_load(good, &o, NULL), "resample mode 9");
}

/* espeak-ng's own WAV, when it is installed: 22050 Hz mono, some sound in it */
static void test_espeak(void) {
    if (system("command -v espeak-ng >/dev/null 2>&1") != 0) {
        printf("test_audio: espeak-ng: skipped (not installed)\n");
        return;
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "espeak-ng -v en-us -w '%s' 'three one four' 2>/dev/null", in_dir("espeak.wav"));
    if (system(cmd) != 0) {
        printf("test_audio: espeak-ng: skipped (it failed)\n");
        return;
    }
    int64_t rate = 0;
    dc_tensor *t = dc_audio_load(in_dir("espeak.wav"), NULL, &rate);
    CHECK(t && rate == 22050 && dc_tensor_dim(t, 0) > 11025);
    if (t) {
        double e = 0;
        for (int64_t i = 0; i < dc_tensor_dim(t, 0); i++) e += tdata(t)[i] * tdata(t)[i];
        CHECK(e / dc_tensor_dim(t, 0) > 1e-4);
        dc_mel_opts o = dc_mel_defaults();
        o.sample_rate = 22050;
        o.n_mels = 64;
        dc_tensor *m = dc_log_mel(t, &o);
        CHECK(m && dc_tensor_dim(m, 1) == 64);
        dc_tensor_free(m);
    }
    dc_tensor_free(t);
}

int main(void) {
    if (!tmp_dir_create()) {
        fprintf(stderr, "test_audio: cannot make a temporary directory\n");
        return 1;
    }
    test_round_trips();
    test_resample_sanity();
    const char *mel_cases[] = {"mel_random_default", "mel_chirp_slaney", "mel_random_hamming_zero_pad_power1",
                               "mel_chirp_no_center_rect_nolog", "mel_odd_nfft"};
    for (size_t i = 0; i < sizeof mel_cases / sizeof *mel_cases; i++) test_mel_golden(mel_cases[i]);
    const char *rs_cases[] = {"resample_22050_16000", "resample_8000_11025", "resample_48000_16000",
                              "resample_44100_22051", "resample_1000_767999"};
    for (size_t i = 0; i < sizeof rs_cases / sizeof *rs_cases; i++) test_resample_golden(rs_cases[i]);
    test_mel_misc();
    test_feature_norm();
    test_labels();
    test_bad_input();
    test_espeak();
    tmp_dir_remove();
    return check_report("test_audio");
}
