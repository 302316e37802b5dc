/* A recommender on real baskets: Debian's package index (apt's lists), each package a user and
 * the packages it depends on its items (Depends and Pre-Depends, the first of "a | b", as apt
 * picks). A denoising autoencoder (collaborative filtering, as Mult-DAE and CDAE): the basket as
 * a multi-hot vector, dropout on it, Dense(256, tanh) -> Dense(items, sigmoid), binary
 * cross-entropy against the whole basket. Test users (a seeded tenth) each have one item held
 * out; the model ranks the items not in their input, and the held-out item's hit rate and NDCG
 * at 10 are compared with the most-popular baseline's, which the model must beat on both.
 * Usage: recommender [epochs (20)] [lists folder (/var/lib/apt/lists)] [output dir (out)]
 *                    [training users (0: all; fewer shorten the run)]
 * apt keeps its lists compressed as configured (lz4 here, or gz, xz, zstd, or plain): plain and
 * gzip files are read directly, the others through `/usr/lib/apt/apt-helper cat-file`, apt's
 * own decompressor. Exits 77 when there is no Packages file (run `apt-get update`). */
#define _POSIX_C_SOURCE 200809L /* popen */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "deepc.h"

#define TOP_ITEMS 2000 /* items kept: the most frequent dependencies */
#define MIN_ITEMS 3    /* users kept: at least this many kept items */
#define HIDDEN 256
#define K 10
#define APT_HELPER "/usr/lib/apt/apt-helper"

static int fail(const char *what) {
    fprintf(stderr, "recommender: %s: %s\n", what, dc_last_error());
    return 1;
}

typedef struct list_file {
    char path[1024];
    long long size;
} list_file;

/* Largest first: the main index, then its updates, whose packages replace the main one's. */
static int by_size(const void *a, const void *b) {
    const list_file *x = a, *y = b;
    return x->size != y->size ? (x->size < y->size) - (x->size > y->size) : strcmp(x->path, y->path);
}

static bool ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

/* Reads a compressed list through apt-helper into memory and parses it. */
static dc_status read_with_apt(dc_baskets *b, const char *path) {
    if (strchr(path, '\'')) return dc_error(DC_ERR_ARG, "%s: a path with a quote", path);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s cat-file '%s'", APT_HELPER, path);
    FILE *f = popen(cmd, "r");
    if (!f) return dc_error(DC_ERR_IO, "%s: cannot run %s", path, APT_HELPER);
    size_t n = 0, cap = 1 << 20;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) free(buf);
            buf = bigger;
        }
    }
    int rc = pclose(f);
    dc_status s = !buf ? DC_ERR_NOMEM
                  : rc != 0 ? dc_error(DC_ERR_IO, "%s: %s cat-file failed (exit status %d)", path, APT_HELPER,
                                       WIFEXITED(rc) ? WEXITSTATUS(rc) : -1)
                            : dc_baskets_parse_packages(b, buf, n, path, DC_DEPENDS_PRE);
    free(buf);
    return s;
}

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 20;
    const char *dir = argc > 2 ? argv[2] : "/var/lib/apt/lists";
    const char *outdir = argc > 3 ? argv[3] : "out";
    long long max_train = argc > 4 ? atoll(argv[4]) : 0;
    if (epochs <= 0 || max_train < 0) {
        fprintf(stderr, "usage: recommender [epochs > 0] [lists folder] [output dir] [training users (0: all)]\n");
        return 2;
    }
    mkdir(outdir, 0755);

    /* the Packages lists of the folder, in any compression */
    list_file *files = NULL;
    int nfiles = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        /* "..._Packages" and its compressed forms, not the index of its diffs (_Packages.diff_Index) */
        const char *p = strstr(e->d_name, "_Packages"), *const kept[] = {"", ".gz", ".lz4", ".xz", ".zst", ".bz2", ".lzma"};
        bool keep = false;
        for (size_t k = 0; p && k < sizeof kept / sizeof *kept; k++) keep |= !strcmp(p + 9, kept[k]);
        if (!keep) continue;
        files = realloc(files, (size_t)(nfiles + 1) * sizeof *files);
        list_file *lf = &files[nfiles++];
        snprintf(lf->path, sizeof lf->path, "%s/%s", dir, e->d_name);
        struct stat st;
        lf->size = stat(lf->path, &st) == 0 ? (long long)st.st_size : 0;
    }
    if (d) closedir(d);
    if (!nfiles) {
        printf("recommender: skipped: no Packages lists under %s (run `apt-get update` to fetch them)\n", dir);
        return 77;
    }
    qsort(files, (size_t)nfiles, sizeof *files, by_size);
    double t0 = dc_now();
    dc_baskets *b = dc_baskets_new();
    for (int i = 0; i < nfiles; i++) {
        const char *path = files[i].path;
        bool direct = ends_with(path, "_Packages") || ends_with(path, ".gz");
        if (direct ? dc_baskets_read_packages(b, path, DC_DEPENDS_PRE) : read_with_apt(b, path)) return fail("read");
        printf("read %s: %lld packages so far\n", path, (long long)dc_baskets_users(b));
    }
    int64_t nusers = dc_baskets_users(b), nitems = dc_baskets_items(b), pairs = 0;
    int64_t *count = calloc((size_t)nitems, sizeof *count);
    for (int64_t u = 0; u < nusers; u++) {
        const int64_t *it;
        int64_t n = dc_baskets_get(b, u, &it);
        for (int64_t j = 0; j < n; j++) count[it[j]]++;
        pairs += n;
    }
    printf("%lld packages, %lld distinct dependencies, %lld package-dependency pairs (%.1f s to read)\n",
           (long long)nusers, (long long)nitems, (long long)pairs, dc_now() - t0);

    /* the TOP_ITEMS most frequent items (ties: first seen), renumbered 0.. by falling count */
    int64_t *order = malloc((size_t)nitems * sizeof *order), *col = malloc((size_t)nitems * sizeof *col);
    for (int64_t i = 0; i < nitems; i++) order[i] = i;
    { /* a counting sort by falling count, stable: ties keep their first-seen order */
        int64_t maxc = 0;
        for (int64_t i = 0; i < nitems; i++) maxc = count[i] > maxc ? count[i] : maxc;
        int64_t *start = calloc((size_t)maxc + 2, sizeof *start);
        for (int64_t i = 0; i < nitems; i++) start[maxc - count[i] + 1]++;
        for (int64_t c = 1; c <= maxc + 1; c++) start[c] += start[c - 1];
        for (int64_t i = 0; i < nitems; i++) order[start[maxc - count[i]]++] = i;
        free(start);
    }
    int64_t I = nitems < TOP_ITEMS ? nitems : TOP_ITEMS;
    for (int64_t i = 0; i < nitems; i++) col[i] = -1;
    for (int64_t r = 0; r < I; r++) col[order[r]] = r;
    printf("items kept: the %lld most frequent dependencies (%s %lld times ... %s %lld times)\n", (long long)I,
           dc_baskets_item(b, order[0]), (long long)count[order[0]], dc_baskets_item(b, order[I - 1]),
           (long long)count[order[I - 1]]);

    /* users with at least MIN_ITEMS kept items, shuffled; a tenth are test users */
    int64_t *users = malloc((size_t)nusers * sizeof *users), U = 0, kept_pairs = 0;
    for (int64_t u = 0; u < nusers; u++) {
        const int64_t *it;
        int64_t n = dc_baskets_get(b, u, &it), m = 0;
        for (int64_t j = 0; j < n; j++) m += col[it[j]] >= 0;
        if (m >= MIN_ITEMS) users[U++] = u, kept_pairs += m;
    }
    dc_rng rng;
    dc_rng_seed(&rng, 2024);
    dc_rng_shuffle(&rng, users, U);
    int64_t Ute = U / 10, Utr = U - Ute;
    if (max_train && Utr > max_train) Utr = max_train;
    if (Ute < 1 || Utr < 1) {
        fprintf(stderr, "recommender: %lld packages with %d or more of the kept dependencies: too few to split\n",
                (long long)U, MIN_ITEMS);
        return 1;
    }
    printf("users=%lld\nitems=%lld\ninteractions=%lld\n", (long long)U, (long long)I, (long long)kept_pairs);
    printf("training users %lld, test users %lld (one item each held out)\n", (long long)Utr, (long long)Ute);

    /* multi-hot rows: training baskets whole; test baskets less their held-out item */
    dc_tensor *xtr = dc_tensor_new(2, (int64_t[]){Utr, I}), *xte = dc_tensor_new(2, (int64_t[]){Ute, I});
    if (!xtr || !xte) return fail("allocate");
    float *tr = dc_tensor_data(xtr), *te = dc_tensor_data(xte);
    int64_t *target = malloc((size_t)Ute * sizeof *target);
    for (int64_t r = 0; r < Utr + Ute; r++) {
        const int64_t *it;
        int64_t n = dc_baskets_get(b, users[r < Utr ? Ute + r : r - Utr], &it);
        float *row = r < Utr ? tr + r * I : te + (r - Utr) * I;
        for (int64_t j = 0; j < n; j++)
            if (col[it[j]] >= 0) row[col[it[j]]] = 1;
        if (r >= Utr) { /* hold out one of the row's items, chosen with the seeded stream */
            int64_t m = 0, pick;
            for (int64_t i = 0; i < I; i++) m += row[i] != 0;
            pick = (int64_t)dc_rng_below(&rng, (uint64_t)m);
            for (int64_t i = 0; i < I; i++)
                if (row[i] != 0 && pick-- == 0) {
                    row[i] = 0;
                    target[r - Utr] = i;
                    break;
                }
        }
    }

    /* the most-popular baseline: every test user gets the items by their training count */
    dc_tensor *pop = dc_tensor_new(2, (int64_t[]){Ute, I});
    float *pp = dc_tensor_data(pop);
    for (int64_t r = 0; r < Utr; r++)
        for (int64_t i = 0; i < I; i++) pp[i] += tr[r * I + i];
    for (int64_t r = 1; r < Ute; r++) memcpy(pp + r * I, pp, (size_t)I * sizeof *pp);
    double pop_hr, pop_ndcg;
    if (dc_rank_metrics(pop, xte, target, K, &pop_hr, &pop_ndcg)) return fail("popularity metrics");

    /* the denoising autoencoder */
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){I}));
    dc_model_add(m, dc_dropout_layer(0.5f)); /* input dropout: learn to restore removed items */
    dc_model_add(m, dc_dense(HIDDEN, DC_ACT_TANH));
    dc_model_add(m, dc_dense(I, DC_ACT_SIGMOID));
    if (dc_model_set_seed(m, 7) || dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f), DC_LOSS_BCE, NULL, 0))
        return fail("compile");
    dc_model_summary(m, stdout);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = epochs;
    o.batch_size = 128;
    o.verbose = 2;
    double t1 = dc_now();
    if (dc_model_fit(m, xtr, xtr, &o, NULL)) return fail("fit");
    double secs = dc_now() - t1;
    dc_tensor *scores = dc_model_predict(m, xte, 512);
    if (!scores) return fail("predict");
    double hr, ndcg;
    if (dc_rank_metrics(scores, xte, target, K, &hr, &ndcg)) return fail("metrics");

    /* the first test users' top 5, to see what the model suggests */
    const float *sc = dc_tensor_data(scores);
    for (int64_t r = 0; r < 3 && r < Ute; r++) {
        printf("%s: held out %s; suggests", dc_baskets_user(b, users[r]), dc_baskets_item(b, order[target[r]]));
        bool used[TOP_ITEMS] = {false};
        for (int t = 0; t < 5; t++) {
            int64_t best = -1;
            for (int64_t i = 0; i < I; i++)
                if (!used[i] && te[r * I + i] == 0 && (best < 0 || sc[r * I + i] > sc[r * I + best])) best = i;
            used[best] = true;
            printf(" %s", dc_baskets_item(b, order[best]));
        }
        printf("\n");
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/recommender.safetensors", outdir);
    if (dc_model_save(m, path)) return fail("save");
    printf("model: %s\n", path);
    printf("seconds_per_epoch=%.2f\n", secs / epochs);
    printf("hr_at_10=%.4f\nndcg_at_10=%.4f\npopularity_hr_at_10=%.4f\npopularity_ndcg_at_10=%.4f\n", hr, ndcg, pop_hr,
           pop_ndcg);
    int rc = hr > pop_hr && ndcg > pop_ndcg ? 0 : 1;
    if (rc) printf("recommender: the model does not beat the most-popular baseline on both measures\n");
    dc_tensor_free(scores);
    dc_tensor_free(pop);
    dc_tensor_free(xtr);
    dc_tensor_free(xte);
    dc_model_free(m);
    dc_baskets_free(b);
    free(files);
    free(count);
    free(order);
    free(col);
    free(users);
    free(target);
    return rc;
}
