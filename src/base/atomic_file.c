/* Write-to-temporary, fsync, rename: the POSIX recipe for replacing a file atomically. */
#define _POSIX_C_SOURCE 200809L /* fdopen, fsync, readlink, O_DIRECTORY, O_CLOEXEC under strict C11 too */

#include "atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Symbolic links followed from the path to the file, at most (Linux's limit for one path). */
#define MAX_LINKS 40
/* The temporary's suffix ".tmp.<pid>.<n>": a pid_t has at most 10 digits, n (64 bits) 20. */
#define TMP_SUFFIX_MAX (5 + 10 + 1 + 20)

/* Numbers the temporary files of this process, so that its threads never share one. */
static atomic_ullong tmp_seq;

/* The file a save replaces. */
typedef struct target {
    const char *path; /* as the caller gave it: every message names it */
    char *file;       /* path, or where its symbolic links lead */
    char *dir;        /* file's directory ("." when file names none) */
    const char *base; /* file's last component (inside file) */
} target;

static dc_status io_error(const target *t, const char *what, int err) {
    const char *why = strerror(err ? err : EIO);
    if (t->file && strcmp(t->file, t->path) != 0)
        return dc_error(DC_ERR_IO, "writing '%s' (a link to '%s'): %s: %s", t->path, t->file, what, why);
    return dc_error(DC_ERR_IO, "writing '%s': %s: %s", t->path, what, why);
}

static char *copy_n(const char *s, size_t n) {
    char *c = dc_alloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = 0;
    }
    return c;
}

/* Follows t->path's symbolic links (of its last component; the directories on the way need no
 * resolving, a rename works through them) to the file that is to be replaced, and splits it into
 * directory and name. A dangling link leads to the file it names, which the save creates. */
static dc_status resolve(target *t) {
    char *cur = copy_n(t->path, strlen(t->path));
    if (!cur) return DC_ERR_NOMEM;
    for (int hops = 0;; hops++) {
        struct stat sb;
        if (lstat(cur, &sb) != 0 || !S_ISLNK(sb.st_mode)) break; /* missing or not a link: the file */
        if (hops == MAX_LINKS) {
            dc_free(cur);
            return io_error(t, "cannot follow its symbolic links", ELOOP);
        }
        char link[PATH_MAX];
        ssize_t n = readlink(cur, link, sizeof link);
        if (n < 0 || n == (ssize_t)sizeof link) {
            int err = n < 0 ? errno : ENAMETOOLONG;
            dc_free(cur);
            return io_error(t, "cannot read its symbolic link", err);
        }
        /* a relative link is relative to the link's own directory */
        const char *slash = strrchr(cur, '/');
        size_t keep = link[0] == '/' || !slash ? 0 : (size_t)(slash + 1 - cur);
        char *next = dc_alloc(keep + (size_t)n + 1);
        if (!next) {
            dc_free(cur);
            return DC_ERR_NOMEM;
        }
        memcpy(next, cur, keep);
        memcpy(next + keep, link, (size_t)n);
        next[keep + (size_t)n] = 0;
        dc_free(cur);
        cur = next;
    }
    t->file = cur;
    const char *slash = strrchr(cur, '/');
    t->base = slash ? slash + 1 : cur;
    t->dir = slash ? copy_n(cur, slash == cur ? 1 : (size_t)(slash - cur)) : copy_n(".", 1);
    if (!t->dir) return DC_ERR_NOMEM;
    if (!*t->base)
        return dc_error(DC_ERR_ARG, "writing '%s': the path ends in '/', so it names a directory, not a file", t->path);
    return DC_OK;
}

/* The directory entry made by rename() is only durable once the directory is synced.
 * Some filesystems cannot fsync a directory and say EINVAL; nothing more can be done there. */
static dc_status sync_dir(const target *t) {
    dc_status st = DC_OK;
    int fd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) st = io_error(t, "cannot open its directory to sync it", errno);
    else {
        if (fsync(fd) != 0 && errno != EINVAL) st = io_error(t, "cannot sync its directory", errno);
        close(fd);
    }
    return st;
}

/* A replaced file keeps its permissions; a new one gets 0666 less the umask like fopen's. */
static void keep_mode(int fd, const char *file) {
    struct stat sb;
    if (stat(file, &sb) == 0 && S_ISREG(sb.st_mode)) (void)fchmod(fd, sb.st_mode & 07777);
}

/* Runs the callback and pushes the bytes out (to the disk if sync); f is closed in every case. */
static dc_status write_and_close(FILE *f, const target *t, dc_write_fn write, void *arg, bool sync) {
    errno = 0;
    dc_status st = write(f, arg);
    if (st == DC_OK && ferror(f)) st = io_error(t, "write failed", errno);
    if (st == DC_OK && fflush(f) != 0) st = io_error(t, "write failed", errno);
    if (st == DC_OK && sync && fsync(fileno(f)) != 0) st = io_error(t, "cannot sync", errno);
    if (fclose(f) != 0 && st == DC_OK) st = io_error(t, "cannot close", errno);
    return st;
}

/* The length of the part of base that starts the temporary's name: all of it unless the name
 * would then pass the directory's limit name_max (NAME_MAX), else a prefix cut between UTF-8
 * characters. */
static size_t tmp_prefix_len(const target *t, long name_max) {
    size_t blen = strlen(t->base);
    if (blen + TMP_SUFFIX_MAX <= (size_t)name_max) return blen;
    size_t keep = name_max > TMP_SUFFIX_MAX ? (size_t)name_max - TMP_SUFFIX_MAX : 0;
    while (keep > 0 && ((unsigned char)t->base[keep] & 0xC0) == 0x80) keep--;
    return keep;
}

/* The pid in a temporary's name "<prefix>.tmp.<pid>" (older deepc) or "<prefix>.tmp.<pid>.<n>",
 * where prefix is the first len bytes of name; -1 if it is not one. */
static long tmp_pid(const char *name, const char *prefix, size_t len) {
    if (strncmp(name, prefix, len) != 0 || strncmp(name + len, ".tmp.", 5) != 0) return -1;
    const char *p = name + len + 5;
    long pid = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 10; p++, digits++) pid = pid * 10 + (*p - '0');
    if (!digits || pid <= 0) return -1;
    if (*p == '.') {
        const char *n = ++p;
        while (*p >= '0' && *p <= '9') p++;
        if (p == n) return -1;
    }
    return *p ? -1 : pid;
}

/* Removes the temporary files that writers killed mid-write left beside the file, when their
 * process no longer exists (on this machine), so that kills do not fill the disk over time. */
static void remove_stale(const target *t, size_t keep) {
    DIR *d = opendir(t->dir);
    if (!d) return;
    size_t blen = strlen(t->base);
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = tmp_pid(e->d_name, t->base, keep);
        if (pid < 0 && keep < blen) pid = tmp_pid(e->d_name, t->base, blen); /* an older deepc's name */
        if (pid < 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
        (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* Creates a temporary file of this writer's own beside t->file: its name holds the pid and a
 * number no other thread of this process draws, and O_EXCL makes sure no one else has it.
 * Returns its descriptor and its name in *tmp_out; -1 (errno set) or -2 (out of memory). */
static int create_tmp(const target *t, size_t keep, char **tmp_out) {
    size_t pre = (size_t)(t->base - t->file) + keep, cap = pre + TMP_SUFFIX_MAX + 1;
    char *tmp = dc_alloc(cap);
    if (!tmp) return -2;
    memcpy(tmp, t->file, pre);
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        unsigned long long n = atomic_fetch_add(&tmp_seq, 1);
        snprintf(tmp + pre, cap - pre, ".tmp.%ld.%llu", (long)getpid(), n);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int err = errno;
        dc_free(tmp);
        errno = err;
        return -1;
    }
    *tmp_out = tmp;
    return fd;
}

static dc_status replace(const target *t, dc_write_fn write, void *arg) {
    long name_max = pathconf(t->dir, _PC_NAME_MAX);
    if (name_max <= 0) name_max = NAME_MAX;
    if (strlen(t->base) > (size_t)name_max) /* said before anything is written */
        return io_error(t, "cannot create it", ENAMETOOLONG);
    size_t keep = tmp_prefix_len(t, name_max);
    remove_stale(t, keep);
    char *tmp = NULL;
    int fd = create_tmp(t, keep, &tmp);
    if (fd == -2) return DC_ERR_NOMEM;
    if (fd < 0) return io_error(t, "cannot create temporary file", errno);
    keep_mode(fd, t->file);
    FILE *f = fdopen(fd, "w");
    dc_status st;
    if (!f) {
        st = io_error(t, "cannot open temporary file", errno);
        close(fd);
    } else {
        st = write_and_close(f, t, write, arg, true);
        if (st == DC_OK && rename(tmp, t->file) != 0) st = io_error(t, "cannot rename temporary file over it", errno);
    }
    if (st != DC_OK) unlink(tmp);
    dc_free(tmp);
    return st == DC_OK ? sync_dir(t) : st;
}

/* A FIFO or character device (a pipe, a terminal, /dev/null, as /dev/stdout leads to) is written
 * as it is: there is no file to replace, and a regular file must not take its place. */
static dc_status write_in_place(const target *t, dc_write_fn write, void *arg) {
    int fd = open(t->path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return io_error(t, "cannot open it", errno);
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int err = errno;
        close(fd);
        return io_error(t, "cannot open it", err);
    }
    return write_and_close(f, t, write, arg, false);
}

dc_status dc_write_file_atomic(const char *path, dc_write_fn write, void *arg) {
    if (!path || !*path) return dc_error(DC_ERR_ARG, "file path is NULL or empty");
    if (!write) return dc_error(DC_ERR_ARG, "writing '%s': no write callback", path);
    target t = {.path = path};
    dc_status st;
    struct stat sb;
    /* what path leads to, as the kernel follows it: /dev/stdout's link to a pipe has a target
     * (/proc/self/fd/pipe:[...]) that no path reaches */
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        if (S_ISFIFO(sb.st_mode) || S_ISCHR(sb.st_mode)) st = write_in_place(&t, write, arg);
        else if (S_ISDIR(sb.st_mode)) st = io_error(&t, "cannot replace it", EISDIR);
        else st = dc_error(DC_ERR_ARG, "writing '%s': it is neither a regular file, a FIFO nor a character device", path);
    } else if ((st = resolve(&t)) == DC_OK) {
        st = replace(&t, write, arg);
    }
    dc_free(t.file);
    dc_free(t.dir);
    return st;
}
