/* Write-to-temporary, fsync, rename: the POSIX recipe for replacing a file atomically. */
#define _POSIX_C_SOURCE 200809L /* fdopen, fsync, O_DIRECTORY, O_CLOEXEC under strict C11 too */

#include "atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static dc_status io_error(const char *path, const char *what, int err) {
    return dc_error(DC_ERR_IO, "writing '%s': %s: %s", path, what, strerror(err ? err : EIO));
}

/* The directory entry made by rename() is only durable once the directory is synced.
 * Some filesystems cannot fsync a directory and say EINVAL; nothing more can be done there. */
static dc_status sync_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 1;
    if (slash == path) len = 1; /* a file in "/" */
    char *dir = dc_alloc(len + 1);
    if (!dir) return DC_ERR_NOMEM;
    if (slash) memcpy(dir, path, len);
    else dir[0] = '.';
    dir[len] = 0;
    dc_status st = DC_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) st = io_error(path, "cannot open its directory to sync it", errno);
    else {
        if (fsync(fd) != 0 && errno != EINVAL) st = io_error(path, "cannot sync its directory", errno);
        close(fd);
    }
    dc_free(dir);
    return st;
}

/* A replaced file keeps its permissions; a new one gets 0666 less the umask like fopen's. */
static void keep_mode(int fd, const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) (void)fchmod(fd, sb.st_mode & 07777);
}

/* Runs the callback and pushes the bytes to the disk; f is closed in every case. */
static dc_status write_and_sync(FILE *f, const char *path, dc_write_fn write, void *arg) {
    errno = 0;
    dc_status st = write(f, arg);
    if (st == DC_OK && ferror(f)) st = io_error(path, "write failed", errno);
    if (st == DC_OK && fflush(f) != 0) st = io_error(path, "write failed", errno);
    if (st == DC_OK && fsync(fileno(f)) != 0) st = io_error(path, "cannot sync", errno);
    if (fclose(f) != 0 && st == DC_OK) st = io_error(path, "cannot close", errno);
    return st;
}

static dc_status write_tmp_and_rename(const char *path, const char *tmp, dc_write_fn write, void *arg) {
    /* O_TRUNC rather than O_EXCL: a leftover from a crashed process with the same pid
     * must not block saving forever. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) return io_error(path, "cannot create temporary file", errno);
    keep_mode(fd, path);
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int err = errno;
        close(fd);
        unlink(tmp);
        return io_error(path, "cannot open temporary file", err);
    }
    dc_status st = write_and_sync(f, path, write, arg);
    if (st == DC_OK && rename(tmp, path) != 0) st = io_error(path, "cannot rename temporary file over it", errno);
    if (st != DC_OK) {
        unlink(tmp);
        return st;
    }
    return sync_dir(path);
}

/* Removes "<name>.tmp.<pid>" files that writers killed mid-write left beside path, when their
 * process no longer exists (on this machine), so that kills do not fill the disk over time. */
static void remove_stale(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t blen = strlen(base);
    char dir[4096];
    if (slash) {
        size_t len = slash == path ? 1 : (size_t)(slash - path);
        if (len >= sizeof dir) return;
        memcpy(dir, path, len);
        dir[len] = 0;
    } else {
        snprintf(dir, sizeof dir, ".");
    }
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, base, blen) != 0 || strncmp(n + blen, ".tmp.", 5) != 0) continue;
        const char *digits = n + blen + 5;
        char *end;
        long pid = strtol(digits, &end, 10);
        if (!*digits || *end || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
        (void)unlinkat(dirfd(d), n, 0);
    }
    closedir(d);
}

dc_status dc_write_file_atomic(const char *path, dc_write_fn write, void *arg) {
    if (!path || !*path) return dc_error(DC_ERR_ARG, "file path is NULL or empty");
    if (!write) return dc_error(DC_ERR_ARG, "writing '%s': no write callback", path);
    size_t cap = strlen(path) + 32;
    char *tmp = dc_alloc(cap);
    if (!tmp) return DC_ERR_NOMEM;
    snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    remove_stale(path);
    dc_status st = write_tmp_and_rename(path, tmp, write, arg);
    dc_free(tmp);
    return st;
}
