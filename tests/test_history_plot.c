/* dc_history, its CSV writer, the SVG plots and the atomic file writer behind them. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include "deepc.h"

#include "base/atomic_file.h"
#include "model/history.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tmpfiles.h"

static int checks, failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        checks++;                                                                    \
        if (!(cond)) {                                                               \
            failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, \
                    __LINE__, #cond, dc_last_error());                               \
        }                                                                            \
    } while (0)


static int count_entries(const char *path) {
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static bool exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Looks like a finished SVG document that names each of the given words. */
static void check_svg(const char *path, const char *const *words, int nwords) {
    char *s = slurp_n(path, NULL);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(strncmp(s, "<svg", 4) == 0 || strncmp(s, "<?xml", 5) == 0);
    CHECK(strstr(s, "</svg>") != NULL);
    CHECK(strstr(s, "nan") == NULL && strstr(s, "NaN") == NULL && strstr(s, "inf") == NULL);
    CHECK(strstr(s, "<circle") != NULL);
    for (int i = 0; i < nwords; i++) CHECK(strstr(s, words[i]) != NULL);
    free(s);
}

static const double loss[5] = {0.9, 0.6, 0.45, 0.38, 0.35};
static const double acc[5] = {0.55, 0.7, 0.81, 0.86, 0.88};
static const double val_loss[5] = {0.8, 0.62, 0.5, 0.47, 0.48};
static const double val_acc[5] = {0.6, 0.72, 0.79, 0.82, 0.83};

static dc_history *five_epochs(void) {
    dc_history *h = dc_history_new();
    for (int e = 0; e < 5; e++) {
        CHECK(dc_history_record(h, e, "loss", loss[e]) == DC_OK);
        CHECK(dc_history_record(h, e, "accuracy", acc[e]) == DC_OK);
        CHECK(dc_history_record(h, e, "val_loss", val_loss[e]) == DC_OK);
        CHECK(dc_history_record(h, e, "val_accuracy", val_acc[e]) == DC_OK);
        CHECK(dc_history_record(h, e, "seconds", 1.25 + e) == DC_OK);
    }
    return h;
}

static void test_accessors(const dc_history *h) {
    static const char *const names[] = {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"};
    CHECK(dc_history_epochs(h) == 5);
    CHECK(dc_history_num_series(h) == 5);
    for (int i = 0; i < 5; i++) {
        const char *name = dc_history_series_name(h, i);
        CHECK(name && strcmp(name, names[i]) == 0);
    }
    CHECK(dc_history_series_name(h, -1) == NULL);
    CHECK(dc_history_series_name(h, 5) == NULL);
    const double *l = dc_history_get(h, "loss"), *va = dc_history_get(h, "val_accuracy");
    CHECK(l && va);
    for (int e = 0; l && va && e < 5; e++) CHECK(l[e] == loss[e] && va[e] == val_acc[e]);
    CHECK(dc_history_get(h, "mae") == NULL);
    CHECK(dc_history_get(h, NULL) == NULL);
}

static void test_csv(const dc_history *h) {
    const char *path = in_dir("history.csv");
    CHECK(dc_history_write_csv(h, path) == DC_OK);
    CHECK(count_entries(dir) == 1); /* no temporary file left behind */
    char *s = slurp_n(path, NULL);
    CHECK(s != NULL);
    if (!s) return;
    char expect[1024];
    int len = snprintf(expect, sizeof expect, "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n");
    for (int e = 0; e < 5; e++)
        len += snprintf(expect + len, sizeof expect - (size_t)len, "%d,%.6g,%.6g,%.6g,%.6g,%.6g\n", e + 1, loss[e],
                        acc[e], val_loss[e], val_acc[e], 1.25 + e);
    CHECK(strcmp(s, expect) == 0);
    static const char head[] = "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n1,0.9,0.55,0.8,0.6,1.25\n2,";
    CHECK(strncmp(s, head, strlen(head)) == 0);
    free(s);
}

static void test_history_svg(const dc_history *h) {
    static const char *const words[] = {"loss", "val_loss", "accuracy", "val_accuracy", "epoch",
                                        "Run &amp; &lt;test&gt; &quot;1&quot;"};
    const char *path = in_dir("curves.svg");
    CHECK(dc_plot_history_svg(h, path, "Run & <test> \"1\"") == DC_OK);
    check_svg(path, words, 6);
    char *s = slurp_n(path, NULL);
    CHECK(s && strstr(s, "seconds") == NULL); /* bookkeeping series are not plotted */
    CHECK(s && strstr(s, "#1f77b4") && strstr(s, "#ff7f0e"));
    free(s);
}

static void test_lines_svg(void) {
    double x[50], a[50], b[50], c[50];
    for (int i = 0; i < 50; i++) {
        x[i] = 0.1 * i;
        a[i] = sin(x[i]);
        b[i] = cos(x[i]);
        c[i] = 0.25;
    }
    b[20] = NAN;
    dc_series s[3] = {{"sin", a}, {"cos <gap>", b}, {"constant", c}};
    const char *path = in_dir("lines.svg");
    CHECK(dc_plot_lines_svg(path, "Trig", "x", "y", x, 50, s, 3) == DC_OK);
    static const char *const words[] = {"sin", "cos &lt;gap&gt;", "constant", "Trig"};
    check_svg(path, words, 4);
    /* x NULL, a single constant point, no labels */
    dc_series one = {NULL, c};
    path = in_dir("point.svg");
    CHECK(dc_plot_lines_svg(path, NULL, NULL, NULL, NULL, 1, &one, 1) == DC_OK);
    static const char *const unnamed[] = {"series 1"};
    check_svg(path, unnamed, 1);
}

/* Scales far from 1, infinities and all-NaN series still give finite coordinates. */
static void test_extreme_values(void) {
    static const double cases[][3] = {
        {1e-310, 2e-310, 3e-310}, {1e300, -1e300, 5e299}, {INFINITY, -INFINITY, 1},
        {NAN, NAN, NAN},          {1e9, 1e9 + 1, 1e9 + 2}, {1, 1 + 1e-12, 1},
        {-3e-7, 1e-7, 2e-6},      {1e308, 1e308, 1e308},
    };
    const char *path = in_dir("extreme.svg");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dc_series s = {"extreme", cases[i]};
        double x[3] = {cases[i][2], -1e-9, 1e12};
        CHECK(dc_plot_lines_svg(path, "e", "x", "y", NULL, 3, &s, 1) == DC_OK);
        check_svg(path, NULL, 0);
        CHECK(dc_plot_lines_svg(path, "e", "x", "y", x, 3, &s, 1) == DC_OK);
        check_svg(path, NULL, 0);
    }
    remove(path);
}

static void test_single_epoch(void) {
    dc_history *h = dc_history_new();
    CHECK(dc_history_record(h, 0, "loss", 0.7) == DC_OK);
    CHECK(dc_history_record(h, 0, "mae", 0.3) == DC_OK);
    CHECK(dc_history_epochs(h) == 1);
    CHECK(dc_history_write_csv(h, in_dir("one.csv")) == DC_OK);
    char *s = slurp_n(in_dir("one.csv"), NULL);
    CHECK(s && strcmp(s, "epoch,loss,mae\n1,0.7,0.3\n") == 0);
    free(s);
    CHECK(dc_plot_history_svg(h, in_dir("one.svg"), "one epoch") == DC_OK);
    static const char *const words[] = {"loss", "mae", "one epoch"};
    check_svg(in_dir("one.svg"), words, 3);
    dc_history_free(h);
}

static void test_nan_gaps(void) {
    dc_history *h = dc_history_new();
    CHECK(dc_history_record(h, 0, "loss", 0.5) == DC_OK);
    CHECK(dc_history_record(h, 1, "val_loss", 0.6) == DC_OK); /* first seen at epoch 1 */
    CHECK(dc_history_record(h, 3, "loss", 0.3) == DC_OK);     /* skips epoch 2 */
    CHECK(dc_history_record(h, 1, "loss", NAN) == DC_OK);
    CHECK(dc_history_record(h, 0, "loss", 0.45) == DC_OK);    /* a second value replaces the first */
    CHECK(dc_history_epochs(h) == 4);
    const double *l = dc_history_get(h, "loss"), *v = dc_history_get(h, "val_loss");
    CHECK(l && v);
    if (l && v) {
        CHECK(l[0] == 0.45 && isnan(l[1]) && isnan(l[2]) && l[3] == 0.3);
        CHECK(isnan(v[0]) && v[1] == 0.6 && isnan(v[2]) && isnan(v[3]));
    }
    CHECK(dc_history_write_csv(h, in_dir("gaps.csv")) == DC_OK);
    char *s = slurp_n(in_dir("gaps.csv"), NULL);
    CHECK(s && strcmp(s, "epoch,loss,val_loss\n1,0.45,\n2,,0.6\n3,,\n4,0.3,\n") == 0);
    free(s);
    CHECK(dc_plot_history_svg(h, in_dir("gaps.svg"), NULL) == DC_OK);
    static const char *const words[] = {"loss", "val_loss"};
    check_svg(in_dir("gaps.svg"), words, 2);
    dc_history_free(h);
}

/* The new content fully replaces a longer old file: no tail of the old one survives. */
static void test_overwrite(void) {
    const char *path = in_dir("over.csv");
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    for (int i = 0; i < 1000; i++) fputs("old content that is much longer than the new one\n", f);
    fclose(f);
    int before = count_entries(dir);
    dc_history *h = dc_history_new();
    CHECK(dc_history_record(h, 0, "loss", 2) == DC_OK);
    CHECK(dc_history_write_csv(h, path) == DC_OK);
    char *s = slurp_n(path, NULL);
    CHECK(s && strcmp(s, "epoch,loss\n1,2\n") == 0);
    free(s);
    CHECK(count_entries(dir) == before);
    dc_history_free(h);
}

static dc_status write_then_fail(FILE *f, void *arg) {
    fputs("partial", f);
    return dc_error(DC_ERR_FORMAT, "%s", (const char *)arg);
}

static dc_status write_hello(FILE *f, void *arg) {
    (void)arg;
    fputs("hello\n", f);
    return DC_OK;
}

static void test_failed_writes(const dc_history *h) {
    int before = count_entries(dir);
    /* a directory that does not exist */
    const char *bad = in_dir("missing/sub/h.csv");
    CHECK(dc_history_write_csv(h, bad) == DC_ERR_IO);
    CHECK(strstr(dc_last_error(), bad) != NULL);
    CHECK(strstr(dc_last_error(), "No such file or directory") != NULL);
    CHECK(dc_plot_history_svg(h, in_dir("missing/h.svg"), "x") == DC_ERR_IO);
    double y[2] = {1, 2};
    dc_series s = {"y", y};
    CHECK(dc_plot_lines_svg(in_dir("missing/l.svg"), "x", "x", "y", NULL, 2, &s, 1) == DC_ERR_IO);
    CHECK(!exists(in_dir("missing")));
    CHECK(count_entries(dir) == before);

    /* a writer that fails part-way leaves the existing file as it was */
    const char *keep = in_dir("keep.txt");
    CHECK(dc_write_file_atomic(keep, write_hello, NULL) == DC_OK);
    CHECK(dc_write_file_atomic(keep, write_then_fail, "writer gave up") == DC_ERR_FORMAT);
    CHECK(strcmp(dc_last_error(), "writer gave up") == 0);
    char *c = slurp_n(keep, NULL);
    CHECK(c && strcmp(c, "hello\n") == 0);
    free(c);
    CHECK(count_entries(dir) == before + 1);

    /* rename over a directory fails after the temporary file was written: it is removed */
    const char *subdir = in_dir("adir");
    CHECK(mkdir(subdir, 0700) == 0);
    CHECK(dc_history_write_csv(h, subdir) == DC_ERR_IO);
    CHECK(strstr(dc_last_error(), subdir) != NULL);
    CHECK(count_entries(dir) == before + 2);
    CHECK(count_entries(subdir) == 0);
    rmdir(subdir);
}

static void test_bad_args(const dc_history *h) {
    dc_history *empty = dc_history_new();
    CHECK(dc_history_record(NULL, 0, "loss", 1) == DC_ERR_ARG);
    CHECK(dc_history_record(empty, 0, NULL, 1) == DC_ERR_ARG);
    CHECK(dc_history_record(empty, 0, "", 1) == DC_ERR_ARG);
    CHECK(dc_history_record(empty, -1, "loss", 1) == DC_ERR_ARG);
    CHECK(dc_history_record(empty, 0, "a,b", 1) == DC_ERR_ARG);
    CHECK(dc_history_epochs(empty) == 0 && dc_history_num_series(empty) == 0);
    CHECK(dc_history_epochs(NULL) == 0 && dc_history_num_series(NULL) == 0);
    CHECK(dc_history_get(NULL, "loss") == NULL && dc_history_series_name(NULL, 0) == NULL);
    CHECK(dc_history_write_csv(NULL, in_dir("x.csv")) == DC_ERR_ARG);
    CHECK(dc_history_write_csv(h, NULL) == DC_ERR_ARG);
    CHECK(dc_plot_history_svg(NULL, in_dir("x.svg"), "t") == DC_ERR_ARG);
    CHECK(dc_plot_history_svg(h, NULL, "t") == DC_ERR_ARG);
    CHECK(dc_plot_history_svg(empty, in_dir("x.svg"), "t") == DC_ERR_ARG);
    CHECK(dc_write_file_atomic(NULL, write_hello, NULL) == DC_ERR_ARG);
    CHECK(dc_write_file_atomic(in_dir("x.txt"), NULL, NULL) == DC_ERR_ARG);

    double y[3] = {1, 2, 3};
    dc_series s[5] = {{"a", y}, {"b", y}, {"c", y}, {"d", y}, {"e", y}};
    dc_series no_y = {"no y", NULL};
    const char *p = in_dir("x.svg");
    CHECK(dc_plot_lines_svg(NULL, "t", "x", "y", NULL, 3, s, 1) == DC_ERR_ARG);
    CHECK(dc_plot_lines_svg(p, "t", "x", "y", NULL, 0, s, 1) == DC_ERR_ARG);
    CHECK(strstr(dc_last_error(), "n = 0") != NULL);
    CHECK(dc_plot_lines_svg(p, "t", "x", "y", NULL, 3, s, 0) == DC_ERR_ARG);
    CHECK(dc_plot_lines_svg(p, "t", "x", "y", NULL, 3, s, 5) == DC_ERR_ARG);
    CHECK(dc_plot_lines_svg(p, "t", "x", "y", NULL, 3, NULL, 1) == DC_ERR_ARG);
    CHECK(dc_plot_lines_svg(p, "t", "x", "y", NULL, 3, &no_y, 1) == DC_ERR_ARG);
    CHECK(strstr(dc_last_error(), "no y") != NULL);
    CHECK(!exists(p) && !exists(in_dir("x.csv")) && !exists(in_dir("x.txt")));
    CHECK(dc_plot_lines_svg(p, "t", "x", "y", NULL, 3, s, 4) == DC_OK); /* 4 is the limit */
    remove(p);
    dc_history_free(empty);
    dc_history_free(NULL);
}

/* Many epochs and series force the history's arrays to grow several times. */
static void test_growth(void) {
    dc_history *h = dc_history_new();
    char name[16];
    for (int e = 0; e < 300; e++)
        for (int k = 0; k < 20; k++) {
            snprintf(name, sizeof name, "m%d", k);
            CHECK(dc_history_record(h, e, name, e * 100 + k) == DC_OK);
        }
    CHECK(dc_history_epochs(h) == 300 && dc_history_num_series(h) == 20);
    const double *m7 = dc_history_get(h, "m7");
    CHECK(m7 && m7[0] == 7 && m7[299] == 29907);
    CHECK(dc_plot_history_svg(h, in_dir("many.svg"), "many") == DC_OK); /* no loss: m0 alone */
    char *s = slurp_n(in_dir("many.svg"), NULL);
    CHECK(s && strstr(s, ">m0<") && !strstr(s, ">m1<") && !strstr(s, "r=\"3\"/>")); /* no markers */
    free(s);
    dc_history_free(h);
}

static void remove_all(void) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) remove(in_dir(e->d_name));
    closedir(d);
    rmdir(dir);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/deepc_hist_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    dc_history *h = five_epochs();
    test_accessors(h);
    test_csv(h);
    test_history_svg(h);
    test_lines_svg();
    test_extreme_values();
    test_single_epoch();
    test_nan_gaps();
    test_overwrite();
    test_failed_writes(h);
    test_bad_args(h);
    test_growth();
    dc_history_free(h);
    const char *keep = getenv("DEEPC_KEEP_PLOTS");
    if (keep && *keep) printf("plots kept in %s\n", dir);
    else remove_all();
    if (failures) {
        fprintf(stderr, "%d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("ok %d checks\n", checks);
    return 0;
}
