/* Speech recognition without alignments: spoken digit strings read back by a CRNN trained with
 * CTC. The data are espeak-ng's voices saying 3 to 8 digits (scripts/gen_speech_digits.sh); the
 * test set is spoken by voice variants training never hears. Each file is resampled to 16 kHz,
 * given seeded noise, and turned into 64 log-mel features per 10 ms, normalised by the training
 * set's statistics. The network:
 *   Masking -> Conv1D(128, 5, stride 2, same, relu) -> Bidirectional(GRU(128), concat)
 *   -> Dense(11, softmax)        (classes: the CTC blank, then the digits 0-9)
 * trained with the CTC loss (Adam 1e-3, clipnorm 5), padded steps masked all the way to the loss.
 * The test set is decoded greedily and by beam search; the program prints the character error
 * rate and the share of strings read back whole for each, and writes the learning curves and a
 * picture of one test spectrogram with its decoded string.
 *
 *   speech_ctc [DATA_DIR (out/speech_digits)] [EPOCHS (10)] [N_TRAIN (all)] [N_TEST (all)]
 *              [MAX_CER (0.05)] [OUT_DIR (out)] [EXPORT_DIR]
 * DATA_DIR comes from: scripts/gen_speech_digits.sh out/speech_digits 2000 400 1
 * EXPORT_DIR, when given, receives the features and labels as .npy files for the PyTorch peer
 * (bench/peers/speech_ctc.py). Exits 1 when the beam-search CER is above MAX_CER. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deepc.h"

#define RATE 16000
#define MELS 64
#define CLASSES 11 /* blank + 10 digits */
#define MAX_DIGITS 8
#define NOISE 0.003f /* the noise's standard deviation, on samples in [-1, 1] */

static int fail(const char *what) {
    fprintf(stderr, "speech_ctc: %s: %s\n", what, dc_last_error());
    return 1;
}

/* One set: log-mel features per file, their frame counts and the digit labels. */
typedef struct set {
    int64_t n, tmax;
    dc_tensor **feats; /* [frames, MELS] each */
    int64_t *frames;
    dc_tensor *y; /* [n, MAX_DIGITS]: digit + 1, padded with -1 */
} set;

static void set_free(set *s) {
    for (int64_t i = 0; s->feats && i < s->n; i++) dc_tensor_free(s->feats[i]);
    free(s->feats);
    free(s->frames);
    dc_tensor_free(s->y);
}

static dc_status load_set(const char *dir, const char *part, int64_t limit, uint64_t seed, set *s) {
    memset(s, 0, sizeof *s);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/labels.tsv", dir, part);
    dc_labelled_files lf;
    dc_status st = dc_labels_tsv_load(path, &lf);
    if (st) return st;
    s->n = limit > 0 && limit < lf.n ? limit : lf.n;
    s->feats = calloc((size_t)s->n, sizeof *s->feats);
    s->frames = calloc((size_t)s->n, sizeof *s->frames);
    s->y = dc_tensor_new(2, (int64_t[]){s->n, MAX_DIGITS});
    if (!s->feats || !s->frames || !s->y) {
        dc_labelled_files_free(&lf);
        return dc_error(DC_ERR_NOMEM, "out of memory");
    }
    dc_audio_opts ao = dc_audio_defaults();
    ao.sample_rate = RATE;
    dc_mel_opts mo = dc_mel_defaults();
    mo.sample_rate = RATE;
    mo.n_fft = 400;
    mo.hop_length = 160;
    mo.n_mels = MELS;
    dc_rng rng;
    dc_rng_seed(&rng, seed);
    float *yd = dc_tensor_data(s->y);
    for (int64_t i = 0; !st && i < s->n; i++) {
        const char *lab = lf.labels[i];
        size_t len = strlen(lab);
        if (len < 1 || len > MAX_DIGITS || strspn(lab, "0123456789") != len) {
            st = dc_error(DC_ERR_FORMAT, "%s: line of %s: label \"%.20s\" is not 1 to %d digits", path, lf.paths[i], lab, MAX_DIGITS);
            break;
        }
        for (int k = 0; k < MAX_DIGITS; k++) yd[i * MAX_DIGITS + k] = k < (int)len ? (float)(lab[k] - '0' + 1) : -1.0f;
        dc_tensor *x = dc_audio_load(lf.paths[i], &ao, NULL);
        if (!x) {
            st = dc_last_status();
            break;
        }
        float *xd = dc_tensor_data(x);
        for (int64_t k = 0; k < dc_tensor_numel(x); k++) xd[k] += NOISE * dc_rng_normal(&rng);
        s->feats[i] = dc_log_mel(x, &mo);
        dc_tensor_free(x);
        if (!s->feats[i]) {
            st = dc_last_status();
            break;
        }
        s->frames[i] = dc_tensor_dim(s->feats[i], 0);
        if (s->frames[i] > s->tmax) s->tmax = s->frames[i];
    }
    dc_labelled_files_free(&lf);
    return st;
}

/* The set as one padded batch [n, tmax, MELS] (zeros after each file's frames). */
static dc_tensor *padded(const set *s, int64_t tmax) {
    dc_tensor *x = dc_tensor_new(3, (int64_t[]){s->n, tmax, MELS});
    if (!x) return NULL;
    float *d = dc_tensor_data(x);
    memset(d, 0, (size_t)dc_tensor_numel(x) * sizeof *d);
    for (int64_t i = 0; i < s->n; i++) {
        int64_t f = s->frames[i] < tmax ? s->frames[i] : tmax;
        memcpy(d + i * tmax * MELS, dc_tensor_data(s->feats[i]), (size_t)(f * MELS) * sizeof *d);
    }
    return x;
}

static void digits_of(const float *row, int64_t w, char *out) {
    int n = 0;
    for (int64_t k = 0; k < w && row[k] >= 0 && n < 31; k++) out[n++] = (char)('0' + (int)row[k] - 1);
    out[n] = 0;
}

/* One test spectrogram as a picture, low frequencies at the bottom, with its decoded string. */
static dc_status spectrogram_png(const char *path, const dc_tensor *feat, const char *truth, const char *decoded) {
    int64_t T = dc_tensor_dim(feat, 0);
    dc_tensor *img = dc_tensor_new(4, (int64_t[]){1, 1, MELS, T});
    if (!img) return dc_last_status();
    const float *f = dc_tensor_data((dc_tensor *)feat);
    float *d = dc_tensor_data(img);
    for (int64_t t = 0; t < T; t++)
        for (int m = 0; m < MELS; m++) d[(MELS - 1 - m) * T + t] = f[t * MELS + m];
    char cap[128];
    snprintf(cap, sizeof cap, "spoken: %s   decoded: %s", truth, decoded);
    dc_image_grid_opts o = dc_image_grid_defaults();
    o.lo = o.hi = 0; /* the picture's own range */
    o.caption = cap;
    o.caption_scale = 2;
    dc_tensor *big = dc_image_resize(img, 3 * MELS, 3 * T, DC_RESIZE_NEAREST); /* a pixel per 10 ms is small */
    dc_status s = big ? dc_image_grid_save(path, big, &o) : dc_last_status();
    dc_tensor_free(big);
    dc_tensor_free(img);
    return s;
}

static dc_status export_npy(const char *dir, const char *name, const dc_tensor *t) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s.npy", dir, name);
    return dc_npy_save(p, t, DC_DTYPE_F32);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "out/speech_digits";
    int epochs = argc > 2 ? atoi(argv[2]) : 10;
    int64_t ntrain = argc > 3 ? atoll(argv[3]) : 0, ntest = argc > 4 ? atoll(argv[4]) : 0;
    double max_cer = argc > 5 ? atof(argv[5]) : 0.05;
    const char *outdir = argc > 6 ? argv[6] : "out";
    const char *export_dir = argc > 7 ? argv[7] : NULL;
    if (epochs <= 0 || ntrain < 0 || ntest < 0 || !(max_cer >= 0)) {
        fprintf(stderr, "usage: speech_ctc [DATA_DIR] [EPOCHS > 0] [N_TRAIN] [N_TEST] [MAX_CER] [OUT_DIR] [EXPORT_DIR]\n");
        return 2;
    }
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/train/labels.tsv", dir);
    struct stat sb;
    if (stat(probe, &sb) != 0) {
        fprintf(stderr, "speech_ctc: no data at %s; make it with: scripts/gen_speech_digits.sh %s 2000 400 1\n", probe, dir);
        return 2;
    }
    mkdir(outdir, 0755);
    double t0 = dc_now();
    set tr, te;
    if (load_set(dir, "train", ntrain, 11, &tr)) return fail("training set");
    if (load_set(dir, "test", ntest, 12, &te)) return fail("test set");
    /* the features normalised by the training frames' mean and deviation per mel band */
    dc_feature_norm *fn = dc_feature_norm_new(MELS);
    for (int64_t i = 0; fn && i < tr.n; i++)
        if (dc_feature_norm_add(fn, tr.feats[i])) return fail("normalise");
    for (int64_t i = 0; i < tr.n; i++)
        if (dc_feature_norm_apply(fn, tr.feats[i])) return fail("normalise");
    for (int64_t i = 0; i < te.n; i++)
        if (dc_feature_norm_apply(fn, te.feats[i])) return fail("normalise");
    dc_feature_norm_free(fn);
    int64_t tmax = tr.tmax > te.tmax ? tr.tmax : te.tmax;
    dc_tensor *xtr = padded(&tr, tmax), *xte = padded(&te, tmax);
    if (!xtr || !xte) return fail("pad");
    printf("%lld training and %lld test utterances from %s, up to %lld frames of %d log-mel features (%.1f s)\n",
           (long long)tr.n, (long long)te.n, dir, (long long)tmax, MELS, dc_now() - t0);
    if (export_dir) {
        mkdir(export_dir, 0755);
        dc_tensor *ftr = dc_tensor_new(1, (int64_t[]){tr.n}), *fte = dc_tensor_new(1, (int64_t[]){te.n});
        for (int64_t i = 0; i < tr.n; i++) dc_tensor_data(ftr)[i] = (float)tr.frames[i];
        for (int64_t i = 0; i < te.n; i++) dc_tensor_data(fte)[i] = (float)te.frames[i];
        if (export_npy(export_dir, "train_x", xtr) || export_npy(export_dir, "train_frames", ftr) || export_npy(export_dir, "train_y", tr.y) ||
            export_npy(export_dir, "test_x", xte) || export_npy(export_dir, "test_frames", fte) || export_npy(export_dir, "test_y", te.y))
            return fail("export");
        dc_tensor_free(ftr);
        dc_tensor_free(fte);
        printf("features exported to %s\n", export_dir);
    }

    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 3);
    dc_model_add(m, dc_input(2, (int64_t[]){tmax, MELS}));
    dc_model_add(m, dc_masking_layer(0.0f));
    dc_model_add(m, dc_conv1d_layer(128, 5, 2, DC_PAD_SAME, DC_ACT_RELU));
    dc_model_add(m, dc_bidirectional(dc_gru_layer(128, true), DC_MERGE_CONCAT));
    dc_model_add(m, dc_dense(CLASSES, DC_ACT_SOFTMAX));
    dc_optimizer *opt = dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f);
    dc_optimizer_set_clipnorm(opt, 5.0f);
    if (dc_model_compile(m, opt, DC_LOSS_CTC, NULL, 0)) return fail("compile");
    dc_model_summary(m, stdout);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = epochs;
    o.batch_size = 32;
    o.validation_split = 0.1f;
    dc_history *h = NULL;
    double tf = dc_now();
    if (dc_model_fit(m, xtr, tr.y, &o, &h)) return fail("fit");
    double fit_s = dc_now() - tf;
    char csv[1100], svg[1100], png[1100], mpath[1100];
    snprintf(csv, sizeof csv, "%s/speech_ctc_history.csv", outdir);
    snprintf(svg, sizeof svg, "%s/speech_ctc_curves.svg", outdir);
    snprintf(png, sizeof png, "%s/speech_ctc_spectrogram.png", outdir);
    snprintf(mpath, sizeof mpath, "%s/speech_ctc.safetensors", outdir);
    if (dc_history_write_csv(h, csv) || dc_plot_history_svg(h, svg, "CRNN + CTC on spoken digits") || dc_model_save(m, mpath))
        return fail("write results");

    /* decoding: each test file's real steps after the stride-2 convolution */
    double res[1];
    if (dc_model_evaluate(m, xte, te.y, 64, res)) return fail("evaluate");
    dc_tensor *p = dc_model_predict(m, xte, 64);
    if (!p) return fail("predict");
    int64_t *len = malloc((size_t)te.n * sizeof *len);
    for (int64_t i = 0; i < te.n; i++) len[i] = (te.frames[i] + 1) / 2;
    dc_tensor *greedy = dc_ctc_greedy_decode(p, len, 0), *beam = dc_ctc_beam_decode(p, len, 0, 8, false, NULL);
    if (!greedy || !beam) return fail("decode");
    int64_t whole_g = 0, whole_b = 0;
    double cer_g = dc_label_error_rate(greedy, te.y, &whole_g), cer_b = dc_label_error_rate(beam, te.y, &whole_b);
    char truth[32], said[32];
    digits_of(dc_tensor_data(te.y), MAX_DIGITS, truth);
    digits_of(dc_tensor_data(beam), dc_tensor_dim(beam, 1), said);
    if (spectrogram_png(png, te.feats[0], truth, said)) return fail("spectrogram picture");
    printf("history: %s\nlearning curves: %s\nspectrogram of test file 0: %s (spoken %s, decoded %s)\nmodel: %s\n", csv, svg, png,
           truth, said, mpath);
    printf("seconds_per_epoch=%.2f\n", fit_s / epochs);
    printf("test_loss=%.4f\n", res[0]);
    printf("test_cer_greedy=%.4f\ntest_sequence_accuracy_greedy=%.4f\n", cer_g, (double)whole_g / (double)te.n);
    printf("test_cer=%.4f\ntest_sequence_accuracy=%.4f\n", cer_b, (double)whole_b / (double)te.n);
    int rc = cer_b <= max_cer ? 0 : 1;
    if (rc) fprintf(stderr, "speech_ctc: test CER %.4f is above %.4f\n", cer_b, max_cer);
    free(len);
    dc_tensor_free(greedy);
    dc_tensor_free(beam);
    dc_tensor_free(p);
    dc_history_free(h);
    dc_model_free(m);
    dc_tensor_free(xtr);
    dc_tensor_free(xte);
    set_free(&tr);
    set_free(&te);
    return rc;
}
