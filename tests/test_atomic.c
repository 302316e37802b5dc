/* The atomic file writer (src/base/atomic_file.c) and the writers that go through it: many
 * threads and processes saving to one path, file names near NAME_MAX, symbolic links, devices,
 * a full disk (a file-size limit in a child process) for the history CSV, the SVG plots,
 * .npy/.npz and `deepc predict`, and the clean-up of temporary files that killed writers left. */
#define _GNU_SOURCE
#include "check.h"
#include "tmpfiles.h"

#include "base/atomic_file.h"
#include "model/history.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* dir/name in one of 64 rotating buffers: a test holds a dozen paths at once. */
static const char *P(const char *name) {
    static char pool[64][512];
    static int next;
    char *p = pool[next++ & 63];
    snprintf(p, sizeof pool[0], "%s/%s", dir, name);
    return p;
}

/* Entries of directory d whose name holds ".tmp.": the writer's temporary files. */
static int count_tmp(const char *d) {
    DIR *dd = opendir(d);
    int n = 0;
    struct dirent *e;
    while (dd && (e = readdir(dd)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (dd) closedir(dd);
    return n;
}

static bool is_link(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode);
}

static bool file_is(const char *path, const char *text) {
    char *s = slurp_n(path, NULL);
    bool same = s && strcmp(s, text) == 0;
    if (!same) fprintf(stderr, "  %s holds \"%.60s\", expected \"%.60s\"\n", path, s ? s : "(unreadable)", text);
    free(s);
    return same;
}

static dc_status write_text(FILE *f, void *arg) {
    fputs(arg, f);
    return DC_OK;
}

/* ---- one writer's whole file: "writer K save J size N\n", N letters 'a'+K, "end K J\n" ---- */

typedef struct pattern {
    int k, j;
    size_t n;
} pattern;

static dc_status write_pattern(FILE *f, void *arg) {
    const pattern *p = arg;
    fprintf(f, "writer %d save %d size %zu\n", p->k, p->j, p->n);
    char buf[4096];
    memset(buf, 'a' + p->k, sizeof buf);
    for (size_t done = 0; done < p->n; done += sizeof buf) fwrite(buf, 1, DC_MIN(sizeof buf, p->n - done), f);
    fprintf(f, "end %d %d\n", p->k, p->j);
    return DC_OK;
}

/* The writer whose complete file path holds, or -1 (unreadable, torn or mixed). */
static int pattern_writer(const char *path) {
    size_t len = 0;
    char *s = slurp_n(path, &len);
    int k = -1, j = -1, k2 = -2, j2 = -2, head = 0, tail = 0;
    size_t n = 0;
    bool whole = s && sscanf(s, "writer %d save %d size %zu\n%n", &k, &j, &n, &head) == 3 && head > 0 && k >= 0 && k < 26 &&
                 (size_t)head + n < len;
    for (size_t i = 0; whole && i < n; i++) whole = s[head + i] == 'a' + k;
    whole = whole && sscanf(s + head + n, "end %d %d\n%n", &k2, &j2, &tail) == 2 && k2 == k && j2 == j &&
            (size_t)head + n + (size_t)tail == len;
    free(s);
    return whole ? k : -1;
}

/* ---- item 3: many threads saving different contents to one path ---- */

enum { NTHREADS = 4, SAVES = 20, ROUNDS = 3 };

typedef struct saver {
    int k;
    const char *path;
    pthread_barrier_t *start;
    int ok, failed;
    char first_error[256];
    bool npy;
} saver;

static void *save_loop(void *arg) {
    saver *s = arg;
    pthread_barrier_wait(s->start);
    dc_tensor *t = s->npy ? dc_tensor_new(1, (int64_t[]){20000 + 1000 * s->k}) : NULL;
    if (t) dc_tensor_fill(t, (float)(s->k + 1));
    for (int j = 0; j < SAVES; j++) {
        pattern p = {s->k, j, 30000 + 7919 * (size_t)s->k};
        dc_status st = s->npy ? dc_npy_save(s->path, t, DC_DTYPE_F32) : dc_write_file_atomic(s->path, write_pattern, &p);
        if (st == DC_OK) s->ok++;
        else if (!s->failed++) snprintf(s->first_error, sizeof s->first_error, "%s", dc_last_error());
    }
    dc_tensor_free(t);
    return NULL;
}

/* The .npy at path is one writer's whole array: n = 20000 + 1000 k values, all k + 1. */
static int npy_writer(const char *path) {
    dc_tensor *t = dc_npy_load(path);
    if (!t) return -1;
    float v = dc_tensor_data(t)[0];
    int k = (int)v - 1;
    bool whole = k >= 0 && k < NTHREADS && dc_tensor_ndim(t) == 1 && dc_tensor_numel(t) == 20000 + 1000 * k;
    for (int64_t i = 0; whole && i < dc_tensor_numel(t); i++) whole = dc_tensor_data(t)[i] == v;
    dc_tensor_free(t);
    return whole ? k : -1;
}

static void test_threads_one_path(bool npy) {
    const char *path = P(npy ? "shared.npy" : "shared.txt");
    int torn_reads = 0, reads = 0;
    for (int round = 0; round < ROUNDS; round++) {
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, NTHREADS);
        saver s[NTHREADS];
        pthread_t th[NTHREADS];
        for (int k = 0; k < NTHREADS; k++) {
            s[k] = (saver){.k = k, .path = path, .start = &start, .npy = npy};
            pthread_create(&th[k], NULL, save_loop, &s[k]);
        }
        /* a reader beside the writers: every file it opens is one writer's whole file */
        for (int i = 0; i < 40; i++) {
            if (access(path, F_OK) != 0) continue; /* not written yet in the first round */
            reads++;
            torn_reads += (npy ? npy_writer(path) : pattern_writer(path)) < 0;
        }
        for (int k = 0; k < NTHREADS; k++) pthread_join(th[k], NULL);
        pthread_barrier_destroy(&start);
        for (int k = 0; k < NTHREADS; k++) {
            CHECK(s[k].ok == SAVES && s[k].failed == 0);
            if (s[k].failed) fprintf(stderr, "  writer %d: %d of %d saves failed: %s\n", k, s[k].failed, SAVES, s[k].first_error);
        }
        int k = npy ? npy_writer(path) : pattern_writer(path);
        CHECK(k >= 0 && k < NTHREADS);
        CHECK(count_tmp(dir) == 0);
    }
    CHECK(torn_reads == 0);
    if (torn_reads) fprintf(stderr, "  %d of %d reads beside the writers saw a torn or mixed file\n", torn_reads, reads);
    remove(path);
}

/* ---- item 3: several processes saving to one path while this one reads it ---- */

static void test_processes_one_path(void) {
    const char *path = P("procs.npy");
    enum { NPROC = 3 };
    pid_t pid[NPROC];
    for (int k = 0; k < NPROC; k++) {
        if ((pid[k] = fork()) == 0) {
            dc_tensor *t = dc_tensor_new(1, (int64_t[]){20000 + 1000 * k});
            dc_tensor_fill(t, (float)(k + 1));
            int bad = 0;
            for (int j = 0; j < 25; j++)
                if (dc_npy_save(path, t, DC_DTYPE_F32) != DC_OK && !bad++) fprintf(stderr, "  process %d: %s\n", k, dc_last_error());
            dc_tensor_free(t);
            _exit(bad ? 1 : 0);
        }
    }
    int torn = 0, reads = 0, done = 0, status;
    while (done < NPROC) {
        if (access(path, F_OK) == 0) {
            reads++;
            torn += npy_writer(path) < 0;
        }
        for (int k = 0; k < NPROC; k++)
            if (pid[k] > 0 && waitpid(pid[k], &status, WNOHANG) == pid[k]) {
                CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                pid[k] = 0;
                done++;
            }
    }
    CHECK(torn == 0);
    CHECK(npy_writer(path) >= 0);
    CHECK(count_tmp(dir) == 0);
    remove(path);
}

/* ---- the clean-up of temporary files: dead writers' go, live writers' stay ---- */

static dc_status write_and_die(FILE *f, void *arg) {
    fputs("half a file", f);
    fflush(f);
    _exit(0); /* as if killed mid-write: the temporary file stays behind */
}

/* A child process dies while writing path; its temporary file is there afterwards. */
static void leave_dead_tmp(const char *path) {
    pid_t pid = fork();
    if (pid == 0) {
        dc_write_file_atomic(path, write_and_die, NULL);
        _exit(1);
    }
    int status;
    waitpid(pid, &status, 0);
}

typedef struct paused {
    int started[2], go[2];
} paused;

/* Writes, then tells the parent so and waits for its word before finishing. */
static dc_status write_and_wait(FILE *f, void *arg) {
    paused *p = arg;
    fputs("the live writer's file\n", f);
    fflush(f);
    char c = 1;
    if (write(p->started[1], &c, 1) != 1 || read(p->go[0], &c, 1) != 1) return dc_error(DC_ERR_IO, "pipe");
    return DC_OK;
}

static void test_stale_cleanup(const char *name) {
    const char *path = P(name);
    int before = count_tmp(dir);
    leave_dead_tmp(path);
    CHECK(count_tmp(dir) == before + 1);
    CHECK(dc_write_file_atomic(path, write_text, "after the kill\n") == DC_OK);
    CHECK(count_tmp(dir) == before);
    CHECK(file_is(path, "after the kill\n"));

    /* a leftover of the older naming, "<path>.tmp.<pid>", of a process that is gone */
    pid_t gone = fork();
    if (gone == 0) _exit(0);
    waitpid(gone, NULL, 0);
    char old[600];
    snprintf(old, sizeof old, "%s.tmp.%ld", path, (long)gone);
    FILE *f = strlen(name) < 200 ? fopen(old, "w") : NULL;
    if (f) {
        fclose(f);
        CHECK(count_tmp(dir) == before + 1);
        CHECK(dc_write_file_atomic(path, write_text, "again\n") == DC_OK);
        CHECK(count_tmp(dir) == before);
    }

    /* a writer that is alive keeps its temporary file while another saves the same path */
    paused p;
    CHECK(pipe(p.started) == 0 && pipe(p.go) == 0);
    pid_t live = fork();
    if (live == 0) _exit(dc_write_file_atomic(path, write_and_wait, &p) == DC_OK ? 0 : 1);
    close(p.started[1]); /* a child that fails ends the read below rather than hang it */
    close(p.go[0]);
    char c = 1;
    CHECK(read(p.started[0], &c, 1) == 1);
    CHECK(dc_write_file_atomic(path, write_text, "meanwhile\n") == DC_OK);
    CHECK(count_tmp(dir) == before + 1);
    CHECK(file_is(path, "meanwhile\n"));
    CHECK(write(p.go[1], &c, 1) == 1);
    int status;
    waitpid(live, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(file_is(path, "the live writer's file\n"));
    CHECK(count_tmp(dir) == before);
    close(p.started[0]);
    close(p.go[1]);
    remove(path);
}

/* ---- item 11a: file names up to NAME_MAX bytes ---- */

static void test_long_names(void) {
    dc_history *h = dc_history_new();
    CHECK(dc_history_record(h, 0, "loss", 0.5) == DC_OK);
    char name[300];
    for (int len = 250; len <= 255; len += 5) {
        memset(name, 'n', (size_t)len - 4);
        memcpy(name + len - 4, ".csv", 5);
        const char *path = P(name);
        CHECK(dc_history_write_csv(h, path) == DC_OK);
        CHECK(file_is(path, "epoch,loss\n1,0.5\n"));
        CHECK(count_tmp(dir) == 0);
        test_stale_cleanup(name);
    }
    /* the same length in two-byte characters: the temporary name is cut between characters */
    name[0] = 0;
    for (int i = 0; i < 123; i++) strcat(name, "\xc3\xa9");
    strcat(name, ".csv");
    CHECK(strlen(name) == 250);
    CHECK(dc_history_write_csv(h, P(name)) == DC_OK);
    CHECK(file_is(P(name), "epoch,loss\n1,0.5\n"));
    CHECK(count_tmp(dir) == 0);
    remove(P(name));
    /* one byte over NAME_MAX: the system's reason, naming the file */
    memset(name, 'n', 256);
    name[256] = 0;
    CHECK_ERR(dc_history_write_csv(h, P(name)), DC_ERR_IO, name, "File name too long");
    CHECK(count_tmp(dir) == 0);
    dc_history_free(h);
}

/* ---- item 11b: a symbolic link is written through: the link stays, its target is replaced ---- */

static void test_symlinks(void) {
    const char *t = P("target.txt"), *l = P("link.txt");
    CHECK(dc_write_file_atomic(t, write_text, "old\n") == DC_OK);
    CHECK(chmod(t, 0640) == 0);
    CHECK(symlink("target.txt", l) == 0);
    CHECK(dc_write_file_atomic(l, write_text, "through the link\n") == DC_OK);
    CHECK(is_link(l));
    char buf[256] = {0};
    CHECK(readlink(l, buf, sizeof buf - 1) == 10 && strcmp(buf, "target.txt") == 0);
    CHECK(file_is(t, "through the link\n"));
    struct stat sb;
    CHECK(stat(t, &sb) == 0 && (sb.st_mode & 07777) == 0640); /* the target keeps its mode */
    CHECK(count_tmp(dir) == 0);

    /* a relative link into another directory, a chain of links, an absolute link */
    const char *sub = P("sub");
    CHECK(mkdir(sub, 0700) == 0);
    const char *t2 = P("sub/t2.txt"), *l2 = P("l2.txt"), *l3 = P("l3.txt"), *l4 = P("l4.txt");
    CHECK(dc_write_file_atomic(t2, write_text, "t2\n") == DC_OK);
    CHECK(symlink("sub/t2.txt", l2) == 0);
    CHECK(symlink("l2.txt", l3) == 0);
    CHECK(symlink(t2, l4) == 0);
    CHECK(dc_write_file_atomic(l2, write_text, "via l2\n") == DC_OK);
    CHECK(file_is(t2, "via l2\n"));
    CHECK(dc_write_file_atomic(l3, write_text, "via l3\n") == DC_OK);
    CHECK(file_is(t2, "via l3\n"));
    CHECK(dc_write_file_atomic(l4, write_text, "via l4\n") == DC_OK);
    CHECK(file_is(t2, "via l4\n"));
    CHECK(is_link(l2) && is_link(l3) && is_link(l4));
    CHECK(count_tmp(dir) == 0 && count_tmp(sub) == 0);

    /* a link inside the other directory that points back up */
    const char *l5 = P("sub/up.txt");
    CHECK(symlink("../target.txt", l5) == 0);
    CHECK(dc_write_file_atomic(l5, write_text, "up\n") == DC_OK);
    CHECK(file_is(t, "up\n") && is_link(l5));

    /* a dangling link: its target is created */
    const char *l6 = P("dangling.txt"), *fresh = P("sub/fresh.txt");
    CHECK(symlink("sub/fresh.txt", l6) == 0);
    CHECK(dc_write_file_atomic(l6, write_text, "fresh\n") == DC_OK);
    CHECK(is_link(l6) && file_is(fresh, "fresh\n"));

    /* a loop, and a link to a directory: errors naming the path; nothing is replaced */
    const char *loop = P("loop.txt"), *ldir = P("ldir");
    CHECK(symlink("loop.txt", loop) == 0);
    CHECK_ERR(dc_write_file_atomic(loop, write_text, "x"), DC_ERR_IO, loop, "Too many levels of symbolic links");
    CHECK(is_link(loop));
    CHECK(symlink("sub", ldir) == 0);
    CHECK_ERR(dc_write_file_atomic(ldir, write_text, "x"), DC_ERR_IO, ldir, "Is a directory");
    CHECK(is_link(ldir));
    CHECK(count_tmp(dir) == 0 && count_tmp(sub) == 0);

    /* the writers that use it: the history CSV through a link */
    dc_history *h = dc_history_new();
    CHECK(dc_history_record(h, 0, "loss", 0.25) == DC_OK);
    CHECK(dc_history_write_csv(h, l) == DC_OK);
    CHECK(is_link(l) && file_is(t, "epoch,loss\n1,0.25\n"));
    dc_history_free(h);
    const char *rm[] = {l, l2, l3, l4, l5, l6, loop, ldir, t, t2, fresh};
    for (size_t i = 0; i < sizeof rm / sizeof *rm; i++) remove(rm[i]);
    rmdir(sub);
}

/* ---- a FIFO (or a character device, as /dev/stdout is) is written in place: it has nothing to
 * replace and must never be replaced by a regular file. The check uses a FIFO of its own: a writer
 * that replaced device nodes would, run as root, replace /dev/null. ---- */

static void test_fifo(void) {
    const char *fifo = P("fifo"), *l = P("fifo-link");
    CHECK(mkfifo(fifo, 0600) == 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK); /* a reader, so that opening it to write does not wait */
    CHECK(rd >= 0);
    CHECK(dc_write_file_atomic(fifo, write_text, "through the fifo\n") == DC_OK);
    struct stat sb;
    CHECK(lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode));
    char buf[64] = {0};
    CHECK(read(rd, buf, sizeof buf - 1) == 17 && strcmp(buf, "through the fifo\n") == 0);
    CHECK(symlink("fifo", l) == 0);
    CHECK(dc_write_file_atomic(l, write_text, "via the link\n") == DC_OK);
    CHECK(is_link(l) && lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode));
    memset(buf, 0, sizeof buf);
    CHECK(read(rd, buf, sizeof buf - 1) == 13 && strcmp(buf, "via the link\n") == 0);
    CHECK(count_tmp(dir) == 0);
    close(rd);
    remove(l);
    remove(fifo);
    /* a pipe through /proc/self/fd/N, as /dev/stdout leads to one: its link's target
     * ("pipe:[...]") is no path, yet it is written */
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd[1]);
    struct stat pb;
    if (lstat(proc, &pb) == 0 && S_ISLNK(pb.st_mode)) {
        CHECK(dc_write_file_atomic(proc, write_text, "into the pipe\n") == DC_OK);
        memset(buf, 0, sizeof buf);
        CHECK(read(pfd[0], buf, sizeof buf - 1) == 14 && strcmp(buf, "into the pipe\n") == 0);
    }
    close(pfd[0]);
    close(pfd[1]);
    /* a path that ends in '/' names a directory, not a file */
    CHECK_ERR(dc_write_file_atomic(P("sub/"), write_text, "x"), DC_ERR_ARG, "sub/", "directory");
}

/* ---- item 2: a full disk, simulated by a file-size limit in a child process ---- */

enum { LIMIT = 32 * 1024 };

typedef dc_status (*big_write)(const char *path);

/* In a child limited to LIMIT bytes per file, writer(path) must fail with DC_ERR_IO naming the
 * file and the system's reason; the file that was there must be unchanged afterwards. */
static void check_full_disk(const char *what, const char *path, big_write writer) {
    const char *copy = P("before-full-disk");
    size_t n = 0;
    char *old = slurp_n(path, &n);
    CHECK(old != NULL && n > 0 && n < LIMIT);
    FILE *f = fopen(copy, "wb");
    if (f && old) fwrite(old, 1, n, f);
    if (f) fclose(f);
    free(old);
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {LIMIT, LIMIT};
        setrlimit(RLIMIT_FSIZE, &rl);
        dc_status s = writer(path);
        char msg[1100];
        snprintf(msg, sizeof msg, "%s|%s", dc_status_name(s), dc_last_error());
        ssize_t w = write(pfd[1], msg, strlen(msg));
        _exit(w > 0 ? 0 : 1);
    }
    close(pfd[1]);
    char msg[1100] = {0};
    size_t got = 0;
    ssize_t r;
    while (got < sizeof msg - 1 && (r = read(pfd[0], msg + got, sizeof msg - 1 - got)) > 0) got += (size_t)r;
    close(pfd[0]);
    int status;
    waitpid(pid, &status, 0);
    const char *base = strrchr(path, '/') + 1;
    bool ok = strncmp(msg, "DC_ERR_IO|", 10) == 0 && strstr(msg, base) && strstr(msg, "File too large");
    CHECK(ok);
    if (!ok) fprintf(stderr, "  %s on a full disk: \"%s\"\n", what, msg);
    CHECK(same_bytes(path, copy));
    CHECK(count_tmp(dir) == 0);
    remove(copy);
}

static dc_status big_svg(const char *path) {
    static double y[6000];
    for (int i = 0; i < 6000; i++) y[i] = sin(i * 0.01);
    dc_series s = {"sine", y};
    return dc_plot_lines_svg(path, "big", "x", "y", NULL, 6000, &s, 1);
}

static dc_status big_history(const char *path) {
    dc_history *h = dc_history_new();
    for (int e = 0; e < 3000; e++) {
        dc_history_record(h, e, "loss", 1.0 / (e + 1));
        dc_history_record(h, e, "accuracy", 1.0 - 1.0 / (e + 2));
    }
    dc_status s = dc_history_write_csv(h, path);
    dc_history_free(h);
    return s;
}

static dc_status big_npy(const char *path) {
    dc_tensor *t = dc_tensor_new(2, (int64_t[]){100, 1000});
    dc_tensor_fill(t, 0.5f);
    dc_status s = dc_npy_save(path, t, DC_DTYPE_F32);
    dc_tensor_free(t);
    return s;
}

static dc_status big_npy_f16(const char *path) { /* the converting path writes in chunks */
    dc_tensor *t = dc_tensor_new(2, (int64_t[]){100, 1000});
    dc_tensor_fill(t, 0.5f);
    dc_status s = dc_npy_save(path, t, DC_DTYPE_F16);
    dc_tensor_free(t);
    return s;
}

static dc_status big_npz(const char *path) {
    dc_tensor *t = dc_tensor_new(2, (int64_t[]){100, 1000});
    dc_tensor_fill(t, 0.5f);
    const char *names[] = {"a"};
    const dc_tensor *arrays[] = {t};
    dc_status s = dc_npz_save(path, 1, names, arrays, false);
    dc_tensor_free(t);
    return s;
}

static void test_full_disk(void) {
    double y[3] = {1, 2, 3};
    dc_series s = {"y", y};
    const char *svg = P("plot.svg"), *csv = P("history.csv"), *npy = P("small.npy"), *npz = P("small.npz");
    CHECK(dc_plot_lines_svg(svg, "small", "x", "y", NULL, 3, &s, 1) == DC_OK);
    check_full_disk("dc_plot_lines_svg", svg, big_svg);
    dc_history *h = dc_history_new();
    CHECK(dc_history_record(h, 0, "loss", 0.5) == DC_OK);
    CHECK(dc_history_write_csv(h, csv) == DC_OK);
    dc_history_free(h);
    check_full_disk("dc_history_write_csv", csv, big_history);
    dc_tensor *t = dc_tensor_new(1, (int64_t[]){4});
    dc_tensor_fill(t, 2.0f);
    CHECK(dc_npy_save(npy, t, DC_DTYPE_F32) == DC_OK);
    check_full_disk("dc_npy_save", npy, big_npy);
    check_full_disk("dc_npy_save (float16)", npy, big_npy_f16);
    const char *names[] = {"a"};
    const dc_tensor *arrays[] = {t};
    CHECK(dc_npz_save(npz, 1, names, arrays, false) == DC_OK);
    check_full_disk("dc_npz_save", npz, big_npz);
    dc_tensor_free(t);
    const char *rm[] = {svg, csv, npy, npz};
    for (size_t i = 0; i < 4; i++) remove(rm[i]);
}

/* ---- item 2: `deepc predict` writes its CSV through the atomic writer ---- */

static char tool[PATH_MAX];

/* build/tools/deepc beside this build's tests/ folder; false if it was not built. */
static bool find_tool(void) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return false;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return false;
    *slash = 0; /* <build>/tests */
    int w = snprintf(tool, sizeof tool, "%s/../tools/deepc", self);
    return w > 0 && w < (int)sizeof tool && access(tool, X_OK) == 0;
}

/* Runs the tool with args (limit > 0: a file-size limit), stdout to out (NULL: a file in the
 * test directory), stderr to err; returns its exit status, or -1 if it did not exit. */
static int run_tool(const char *const *args, long limit, const char *out, const char *err) {
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out ? out : P("tool.stdout"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(126);
        if (limit > 0) {
            signal(SIGXFSZ, SIG_IGN); /* ignored signals stay ignored across exec */
            struct rlimit rl = {(rlim_t)limit, (rlim_t)limit};
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        char *argv[16];
        int n = 0;
        argv[n++] = tool;
        while (args[n - 1] && n < 15) argv[n] = (char *)args[n - 1], n++;
        argv[n] = NULL;
        execv(tool, argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The tool's stderr holds each of the words. */
static bool err_says(const char *err, const char *a, const char *b) {
    char *s = slurp_n(err, NULL);
    bool ok = s && strstr(s, a) && strstr(s, b);
    if (!ok) fprintf(stderr, "  deepc's stderr: \"%s\", expected '%s' and '%s'\n", s ? s : "(none)", a, b);
    free(s);
    return ok;
}

static void test_tool_predict(void) {
    if (!find_tool()) {
        printf("test_atomic: %s not built; the deepc predict checks are skipped\n", tool);
        return;
    }
    const char *model = P("tool-model.safetensors"), *x = P("tool-x.npy"), *err = P("tool.stderr");
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){4}));
    dc_model_add(m, dc_dense(3, DC_ACT_NONE));
    CHECK(dc_model_compile(m, dc_sgd(0.01f, 0, false), DC_LOSS_MSE, NULL, 0) == DC_OK);
    CHECK(dc_model_save(m, model) == DC_OK);
    dc_model_free(m);
    dc_tensor *xt = dc_tensor_new(2, (int64_t[]){3000, 4});
    for (int64_t i = 0; i < dc_tensor_numel(xt); i++) dc_tensor_data(xt)[i] = (float)(i % 17) * 0.37f - 2.0f;
    CHECK(dc_npy_save(x, xt, DC_DTYPE_F32) == DC_OK);
    dc_tensor_free(xt);

    /* it works: 3000 rows of 3 values */
    const char *ok = P("pred-ok.csv");
    CHECK(run_tool((const char *[]){"predict", model, x, ok, NULL}, 0, NULL, err) == 0);
    char *s = slurp_n(ok, NULL);
    int lines = 0, commas = 0;
    for (char *c = s; c && *c; c++) lines += *c == '\n', commas += *c == ',';
    CHECK(lines == 3000 && commas == 6000);
    free(s);

    /* a full disk: non-zero exit, the file and the reason on stderr, the old CSV intact */
    const char *out = P("pred.csv");
    CHECK(dc_write_file_atomic(out, write_text, "old,predictions\n") == DC_OK);
    CHECK(run_tool((const char *[]){"predict", model, x, out, NULL}, 16 * 1024, NULL, err) == 1);
    CHECK(err_says(err, "pred.csv", "File too large"));
    CHECK(file_is(out, "old,predictions\n"));
    /* the same for .npy output */
    const char *outn = P("pred.npy");
    CHECK(dc_write_file_atomic(outn, write_text, "old npy\n") == DC_OK);
    CHECK(run_tool((const char *[]){"predict", model, x, outn, NULL}, 16 * 1024, NULL, err) == 1);
    CHECK(err_says(err, "pred.npy", "File too large"));
    CHECK(file_is(outn, "old npy\n"));
    /* a missing directory */
    CHECK(run_tool((const char *[]){"predict", model, x, P("no/such/p.csv"), NULL}, 0, NULL, err) == 1);
    CHECK(err_says(err, "no/such/p.csv", "No such file or directory"));
    /* predictions to standard output, which is full */
    struct stat sb;
    if (stat("/dev/full", &sb) == 0 && S_ISCHR(sb.st_mode)) {
        CHECK(run_tool((const char *[]){"predict", model, x, NULL}, 0, "/dev/full", err) == 1);
        CHECK(err_says(err, "standard output", "No space left on device"));
    }
    CHECK(count_tmp(dir) == 0);
    const char *rm[] = {model, x, err, ok, out, outn, P("tool.stdout")};
    for (size_t i = 0; i < sizeof rm / sizeof *rm; i++) remove(rm[i]);
}

int main(void) {
    if (!tmp_dir_create()) {
        fprintf(stderr, "test_atomic: cannot make a temporary directory\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN); /* a failed child closes its pipes: an error to check, not a signal */
    test_threads_one_path(false);
    test_threads_one_path(true);
    test_processes_one_path();
    test_stale_cleanup("short.txt");
    test_long_names();
    test_symlinks();
    test_fifo();
    test_full_disk();
    test_tool_predict();
    tmp_dir_remove();
    return check_report("test_atomic");
}
