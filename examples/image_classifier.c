/* The documents' larger image classifier on 224x224x3 inputs:
 *   [Conv2D(k, 3x3, relu) -> MaxPooling2D(2x2)] for k = 32, 64, 128 -> Flatten -> Dense(128, relu)
 *   -> Dense(classes, softmax); Adam at 3e-4, batch 8; sparse categorical cross-entropy
 * trained on real pictures: the icons of a desktop icon theme, whose category folders (apps,
 * devices, mimetypes, places, status, ...) are the classes, read with the folder loader
 * (dc_image_folder_load: a seeded 80/20 split of the files, each icon composited over white and
 * resized to 224x224). Themes hold the same picture under several names (links and copies), so
 * each picture is kept once: a training picture seen before in the training split, and a test
 * picture that is a training picture or came before in the test split, are dropped. Reports the
 * test accuracy next to the majority-class baseline (the share of the test split's most frequent
 * class: the best that one answer for every picture can do) and the balanced accuracy (the mean
 * of the classes' recalls), with the confusion matrix; exits 1 unless the accuracy beats the
 * baseline by 0.1 and the balanced accuracy beats chance (1 / classes) by 0.1.
 * Usage: image_classifier [epochs (6)] [icon files per class (0: all; the first in path order,
 *                         before repeats are dropped)] [theme folder] [classes]
 *   theme folder: default /usr/share/icons/oxygen/base/48x48 (Debian's oxygen-icon-theme)
 *   classes: comma-separated sub-folders, default apps,categories,devices,mimetypes,places,status */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deepc.h"

#define SPLIT_SEED 7
#define MAX_CLASSES 32

static int fail(const char *what) {
    fprintf(stderr, "image_classifier: %s: %s\n", what, dc_last_error());
    return 1;
}

/* FNV-1a over an image's pixels: equal pictures give equal hashes. */
static uint64_t image_hash(const float *p, int64_t n) {
    uint64_t h = 1469598103934665603ull;
    const unsigned char *b = (const unsigned char *)p;
    for (int64_t i = 0; i < n * (int64_t)sizeof *p; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Keeps the rows of d whose picture's hash is not in seen[0..*nseen) and not repeated earlier
 * in d; adds the kept hashes to seen. Returns the number of rows dropped, -1 on error. */
static int64_t drop_repeats(dc_image_dataset *d, uint64_t *seen, int64_t *nseen) {
    int64_t n = dc_tensor_dim(d->x, 0), row = dc_tensor_numel(d->x) / n, k = 0, base = *nseen;
    int64_t *keep = malloc((size_t)n * sizeof *keep);
    if (!keep) return -1;
    for (int64_t i = 0; i < n; i++) {
        uint64_t h = image_hash(dc_tensor_data(d->x) + i * row, row);
        bool dup = bsearch(&h, seen, (size_t)base, sizeof *seen, cmp_u64) != NULL;
        for (int64_t j = base; j < *nseen && !dup; j++) dup = seen[j] == h;
        if (dup) continue;
        seen[(*nseen)++] = h;
        keep[k++] = i;
    }
    qsort(seen, (size_t)*nseen, sizeof *seen, cmp_u64);
    dc_tensor *x = dc_take_rows(d->x, keep, k), *y = dc_take_rows(d->y, keep, k);
    free(keep);
    if (!x || !y) {
        dc_tensor_free(x);
        dc_tensor_free(y);
        return -1;
    }
    dc_tensor_free(d->x);
    dc_tensor_free(d->y);
    d->x = x;
    d->y = y;
    return n - k;
}

static void count_classes(const dc_image_dataset *d, int64_t *counts) {
    memset(counts, 0, (size_t)d->nclasses * sizeof *counts);
    for (int64_t i = 0; i < dc_tensor_dim(d->y, 0); i++) counts[(int)dc_tensor_data(d->y)[i]]++;
}

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 6;
    int64_t per_class = argc > 2 ? atoll(argv[2]) : 0;
    const char *root = argc > 3 ? argv[3] : "/usr/share/icons/oxygen/base/48x48";
    char classes[1024];
    snprintf(classes, sizeof classes, "%s", argc > 4 ? argv[4] : "apps,categories,devices,mimetypes,places,status");
    if (epochs <= 0 || per_class < 0) {
        fprintf(stderr, "usage: image_classifier [epochs > 0] [icons per class (0: all)] [theme folder] [classes a,b,...]\n");
        return 2;
    }
    const char *names[MAX_CLASSES];
    int nnames = 0;
    for (char *tok = strtok(classes, ","); tok; tok = strtok(NULL, ",")) {
        if (nnames == MAX_CLASSES) {
            fprintf(stderr, "image_classifier: at most %d classes\n", MAX_CLASSES);
            return 2;
        }
        names[nnames++] = tok;
    }
    if (nnames < 2) {
        fprintf(stderr, "image_classifier: at least two classes are needed\n");
        return 2;
    }

    /* The loader's seeded split, each part loaded on its own: icons over white, 224x224, [0, 1]. */
    dc_image_folder_opts o = dc_image_folder_defaults();
    o.image.channels = 3;
    o.image.scale = true;
    o.image.background = 1.0f;
    o.image.height = o.image.width = 224;
    o.seed = SPLIT_SEED;
    o.validation_split = 0.2;
    o.max_per_class = per_class;
    o.skip_bad = true;
    o.class_names = names;
    o.nclass_names = nnames;
    dc_image_dataset tr, te;
    double t0 = dc_now();
    o.subset = DC_SUBSET_TRAINING;
    if (dc_image_folder_load(root, &o, &tr))
        return fail("load the training split (apt-get install oxygen-icon-theme, or pass a folder of class folders)");
    o.subset = DC_SUBSET_VALIDATION;
    if (dc_image_folder_load(root, &o, &te)) return fail("load the test split");
    int64_t ntr0 = dc_tensor_dim(tr.x, 0), nte0 = dc_tensor_dim(te.x, 0);
    uint64_t *seen = malloc((size_t)(ntr0 + nte0) * sizeof *seen);
    int64_t nseen = 0;
    int64_t dtr = seen ? drop_repeats(&tr, seen, &nseen) : -1, dte = dtr >= 0 ? drop_repeats(&te, seen, &nseen) : -1;
    free(seen);
    if (dte < 0) return fail("drop repeated pictures");
    int64_t ntr = dc_tensor_dim(tr.x, 0), nte = dc_tensor_dim(te.x, 0), C = tr.nclasses;
    printf("%s: %lld classes, %lld training and %lld test pictures (%lld and %lld repeats dropped, %lld unreadable, "
           "%lld other files) in %.1fs\n",
           root, (long long)C, (long long)ntr, (long long)nte, (long long)dtr, (long long)dte,
           (long long)(tr.skipped + te.skipped), (long long)(tr.ignored + te.ignored), dc_now() - t0);
    if (tr.first_error[0]) printf("first unreadable file: %s\n", tr.first_error);
    int64_t ctr[MAX_CLASSES], cte[MAX_CLASSES];
    count_classes(&tr, ctr);
    count_classes(&te, cte);
    int major = 0;
    for (int c = 0; c < C; c++) {
        printf("  class %d %-12s train %4lld  test %4lld\n", c, tr.class_names[c], (long long)ctr[c], (long long)cte[c]);
        if (cte[c] > cte[major]) major = c;
    }
    if (nte == 0) {
        fprintf(stderr, "image_classifier: no test pictures left\n");
        return 1;
    }

    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(3, (int64_t[]){3, 224, 224}));
    const int64_t filters[] = {32, 64, 128};
    for (int i = 0; i < 3; i++) {
        dc_model_add(m, dc_conv2d_layer(filters[i], 3, 3, 1, DC_PAD_VALID, DC_ACT_RELU));
        dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
    }
    dc_model_add(m, dc_flatten());
    dc_model_add(m, dc_dense(128, DC_ACT_RELU));
    dc_model_add(m, dc_dense(C, DC_ACT_SOFTMAX));
    dc_metric met[] = {DC_METRIC_ACCURACY};
    if (dc_model_compile(m, dc_adam(3e-4f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, met, 1)) return fail("compile");
    dc_model_summary(m, stdout);

    dc_fit_opts fo = dc_fit_defaults();
    fo.epochs = epochs;
    fo.batch_size = 8;
    fo.verbose = 2;
    dc_history *h = NULL;
    t0 = dc_now();
    if (dc_model_fit(m, tr.x, tr.y, &fo, &h)) return fail("fit");
    double train_s = dc_now() - t0;
    dc_history_free(h);

    dc_tensor *p = dc_model_predict(m, te.x, 64);
    if (!p) return fail("predict");
    int64_t cm[MAX_CLASSES * MAX_CLASSES];
    if (dc_confusion_matrix(p, te.y, C, cm)) return fail("confusion matrix");
    double acc, bal, recall[MAX_CLASSES];
    if (dc_classification_scores(cm, C, &acc, &bal, recall)) return fail("scores");
    printf("confusion matrix (rows: true class, columns: predicted), recall:\n");
    for (int t = 0; t < C; t++) {
        printf("  %-12s", tr.class_names[t]);
        for (int q = 0; q < C; q++) printf(" %4lld", (long long)cm[t * C + q]);
        printf("   %.3f\n", recall[t]);
    }
    double baseline = (double)cte[major] / (double)nte, chance = 1.0 / (double)C;
    printf("seconds_per_epoch=%.1f\n", train_s / epochs);
    printf("baseline_accuracy=%.4f\n", baseline);
    printf("test_accuracy=%.4f\n", acc);
    printf("balanced_accuracy=%.4f\n", bal);
    bool ok = acc >= baseline + 0.1 && bal >= chance + 0.1;
    fflush(stdout);
    if (!ok)
        fprintf(stderr, "image_classifier: accuracy %.4f does not beat the majority baseline %.4f by 0.1, or balanced accuracy "
                        "%.4f chance %.4f by 0.1\n", acc, baseline, bal, chance);
    dc_tensor_free(p);
    dc_model_free(m);
    dc_image_dataset_free(&tr);
    dc_image_dataset_free(&te);
    return ok ? 0 : 1;
}
