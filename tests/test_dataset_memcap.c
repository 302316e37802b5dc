/* Training through a file larger than the memory the process may hold. A child process caps its
 * data memory (RLIMIT_DATA: the heap and every private writable mapping, which since Linux 4.7
 * includes malloc's and OpenBLAS's mmap'd buffers and the threads' stacks; a read-only mapping
 * of a file is not data) at CAP_MB more than it holds once warmed up (a first training step has
 * made OpenBLAS map its buffer), then trains one epoch on a uint8 .npy file through
 * dc_dataset_npy: the file is larger than the cap, so larger than everything the process may
 * hold. Loading the same file whole (dc_npy_load, float32) fails under the cap, which shows the
 * cap bites. A first child run only reports its warmed-up size, which sets the file's: the cap
 * plus 64 MB (DEEPC_MEMCAP_FILE_MB makes it larger). The children run one thread: OpenBLAS maps
 * a buffer of its own (128 MB in Debian's build) for every thread that multiplies, and waits for
 * memory rather than failing when the limit refuses it. Skipped (exit 77) where the limit cannot
 * be set, under AddressSanitizer (whose shadow memory the limit would count), and when the
 * temporary folder lacks room for the file. */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#define ROW 3072   /* 32 x 32 x 3 uint8 pixels */
#define CAP_MB 64  /* the data memory the child may add to what it holds when warmed up */

/* A /proc/self/status field in kB, -1 when absent. */
static long status_kb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') v = strtol(line + n + 1, NULL, 10);
    if (f) fclose(f);
    return v;
}

/* rows rows of ROW pixels; a row's label is whether its first pixel is over 127, which the
 * model can learn from the pixels. */
static int write_npy(const char *path, const char *ypath, int64_t rows) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    char hdr[128];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '|u1', 'fortran_order': False, 'shape': (%lld, %d), }", (long long)rows, ROW);
    memset(hdr + n, ' ', sizeof hdr - (size_t)n);
    hdr[sizeof hdr - 11] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(sizeof hdr - 10), 0};
    bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, sizeof hdr - 10, f) == sizeof hdr - 10;
    dc_tensor *y = dc_tensor_new(1, (int64_t[]){rows});
    unsigned char *buf = malloc((size_t)ROW * 1024);
    uint64_t s = 88172645463325252ull;
    for (int64_t r = 0; ok && buf && y && r < rows; r += 1024) {
        int64_t k = rows - r < 1024 ? rows - r : 1024;
        for (int64_t i = 0; i < k * ROW; i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            buf[i] = (unsigned char)(s >> 24);
        }
        for (int64_t i = 0; i < k; i++) dc_tensor_data(y)[r + i] = buf[i * ROW] > 127;
        ok = fwrite(buf, 1, (size_t)(k * ROW), f) == (size_t)(k * ROW);
    }
    free(buf);
    ok = fclose(f) == 0 && ok && y && dc_npy_save(ypath, y, DC_DTYPE_U8) == DC_OK;
    dc_tensor_free(y);
    return ok ? 0 : -1;
}

static dc_model *make_model(void) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 1);
    dc_model_add(m, dc_input(1, (int64_t[]){ROW}));
    dc_model_add(m, dc_dense(8, DC_ACT_RELU));
    dc_model_add(m, dc_dense(2, DC_ACT_SOFTMAX));
    if (dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, (dc_metric[]){DC_METRIC_ACCURACY}, 1)) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

/* The child: a training step on a batch of zeros warms it up; then with probe it prints what it
 * holds, else it caps that plus CAP_MB and trains on the file. */
static int child(bool probe, const char *path, const char *ypath, int64_t file_bytes) {
    dc_model *w = make_model();
    dc_tensor *x0 = dc_tensor_new(2, (int64_t[]){256, ROW}), *y0 = dc_tensor_new(1, (int64_t[]){256});
    dc_fit_opts o0 = dc_fit_defaults();
    o0.batch_size = 256;
    o0.verbose = 0;
    if (!w || !x0 || !y0 || dc_model_fit(w, x0, y0, &o0, NULL)) return 4;
    dc_model_free(w);
    dc_tensor_free(x0), dc_tensor_free(y0);
    long base = status_kb("VmData");
    if (probe) {
        printf("%ld\n", base);
        return 0;
    }
    rlim_t cap = (rlim_t)base * 1024 + ((rlim_t)CAP_MB << 20);
    struct rlimit rl = {cap, cap};
    if (setrlimit(RLIMIT_DATA, &rl) != 0) {
        printf("setrlimit(RLIMIT_DATA): %s\n", strerror(errno));
        return 77;
    }
    printf("data_warm_kb=%ld cap_mb=%.0f file_mb=%.0f\n", base, (double)cap / 1048576, (double)file_bytes / 1048576);
    if ((double)file_bytes <= (double)cap) {
        printf("the file is not larger than the cap\n");
        return 2;
    }
    /* the cap bites: the file loaded whole as float32 does not fit */
    dc_tensor *whole = dc_npy_load(path);
    if (whole) {
        printf("dc_npy_load held the whole file under the cap\n");
        return 3;
    }
    printf("load_whole=refused (%s)\n", dc_status_name(dc_last_status()));
    dc_dataset *dx = dc_dataset_npy(path), *dy = dc_dataset_npy(ypath);
    if (!dx || !dy || dc_dataset_scale(dx, 0, 1.0f / 255, -0.5f)) return 4;
    dc_dataset *ds = dc_dataset_zip(2, (dc_dataset *const[]){dx, dy});
    dc_model *m = make_model();
    if (!ds || !m) return 5;
    dc_fit_opts o = dc_fit_defaults();
    o.batch_size = 256;
    o.verbose = 0;
    dc_history *h = NULL;
    double t0 = dc_now();
    dc_status s = dc_model_fit_dataset(m, ds, NULL, &o, &h);
    if (s) {
        printf("fit failed: %s\n", dc_last_error());
        return 6;
    }
    double acc = dc_history_get(h, "accuracy")[0];
    printf("rows=%lld epoch_s=%.1f loss=%.4f accuracy=%.4f data_after_kb=%ld rss_anon_kb=%ld rss_file_kb=%ld\n",
           (long long)dc_dataset_rows(ds), dc_now() - t0, dc_history_get(h, "loss")[0], acc, status_kb("VmData"), status_kb("RssAnon"),
           status_kb("RssFile"));
    dc_history_free(h);
    dc_dataset_free(ds);
    dc_model_free(m);
    return acc > 0.55 ? 0 : 7; /* it learned from the pixels it streamed */
}

/* Runs this program with args, its output to stdout; its exit status (128 + signal if killed). */
static int run_child(const char *args, char *out, size_t cap) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "/proc/%d/exe %s", (int)getpid(), args);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return st < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--probe")) return child(true, NULL, NULL, 0);
    if (argc == 5 && !strcmp(argv[1], "--child")) return child(false, argv[2], argv[3], atoll(argv[4]));
#ifdef UNDER_ASAN
    printf("test_dataset_memcap: skipped (AddressSanitizer's shadow memory counts against the data limit)\n");
    return 77;
#endif
    struct rlimit rl;
    if (getrlimit(RLIMIT_DATA, &rl) != 0 || status_kb("VmData") < 0) {
        printf("test_dataset_memcap: skipped (no data limit, or no /proc/self/status to read the data memory from)\n");
        return 77;
    }
    setenv("DEEPC_THREADS", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    char out[4096];
    int rc = run_child("--probe", out, sizeof out);
    long warm = atol(out);
    if (rc != 0 || warm <= 0) {
        printf("test_dataset_memcap: the probe failed (status %d): %s\n", rc, out);
        return 1;
    }
    const char *env = getenv("DEEPC_MEMCAP_FILE_MB"), *t = getenv("TMPDIR");
    int64_t mb = warm / 1024 + CAP_MB + 64;
    if (env && *env && atoll(env) > mb) mb = atoll(env);
    int64_t rows = (mb << 20) / ROW;
    char dir[256], path[300], ypath[300];
    snprintf(dir, sizeof dir, "%s/deepc-memcap-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) {
        printf("test_dataset_memcap: skipped (no temporary folder: %s)\n", strerror(errno));
        return 77;
    }
    struct statvfs vfs;
    if (statvfs(dir, &vfs) == 0 && (double)vfs.f_bavail * (double)vfs.f_frsize < (double)(mb + 64) * 1048576) {
        printf("test_dataset_memcap: skipped (%s lacks room for a %lld MB file)\n", dir, (long long)mb);
        rmdir(dir);
        return 77;
    }
    snprintf(path, sizeof path, "%s/x.npy", dir);
    snprintf(ypath, sizeof ypath, "%s/y.npy", dir);
    rc = write_npy(path, ypath, rows);
    if (rc) fprintf(stderr, "could not write %s\n", path);
    else {
        char args[1100];
        snprintf(args, sizeof args, "--child '%s' '%s' %lld", path, ypath, (long long)rows * ROW);
        rc = run_child(args, out, sizeof out);
        fputs(out, stdout);
    }
    unlink(path);
    unlink(ypath);
    rmdir(dir);
    if (rc == 77) {
        printf("test_dataset_memcap: skipped (the data limit cannot be set)\n");
        return 77;
    }
    CHECK(rc == 0);
    return check_report("test_dataset_memcap");
}
