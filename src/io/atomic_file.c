/* src/io/atomic_file.c - temporary file, sync, rename, sync of the folder. */
#define _GNU_SOURCE
#include "io/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

static void release(agecl__atomic_file *f)
{
    free(f->path);
    free(f->tmp);
    *f = (agecl__atomic_file){.fd = -1};
}

agecl_status agecl__atomic_begin(agecl__atomic_file *f, const char *path)
{
    static const char suffix[] = ".tmp.XXXXXX";
    *f = (agecl__atomic_file){.fd = -1};
    size_t n = strlen(path);
    f->path = strdup(path);
    f->tmp = malloc(n + sizeof suffix);
    if (!f->path || !f->tmp) {
        release(f);
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    memcpy(f->tmp, path, n);
    memcpy(f->tmp + n, suffix, sizeof suffix);
    f->fd = mkstemp(f->tmp); /* O_EXCL: a name no other writer holds */
    if (f->fd < 0) {
        int err = errno;
        release(f);
        return agecl__fail(AGECL_E_IO, "%s: cannot create a temporary file in its folder: %s",
                           path, strerror(err));
    }
    /* mkstemp makes 0600; the new file takes the old one's mode */
    struct stat sb;
    mode_t mode = stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? sb.st_mode & 07777 : 0644;
    if (fchmod(f->fd, mode) != 0) {
        int err = errno;
        agecl__atomic_abort(f);
        return agecl__fail(AGECL_E_IO, "%s: cannot set the mode of a temporary file: %s", path,
                           strerror(err));
    }
    return AGECL_OK;
}

FILE *agecl__atomic_stream(agecl__atomic_file *f)
{
    if (!f->stream) f->stream = fdopen(f->fd, "w+");
    return f->stream;
}

agecl_status agecl__atomic_write(agecl__atomic_file *f, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(f->fd, c, n < ((size_t)1 << 30) ? n : (size_t)1 << 30);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return agecl__fail(AGECL_E_IO, "%s: cannot write the new file (temporary file %s): %s",
                               f->path, f->tmp, k < 0 ? strerror(errno) : "nothing written");
        c += k;
        n -= (size_t)k;
    }
    return AGECL_OK;
}

/* Sync the folder holding path, so that the rename itself is durable. */
static int sync_folder(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return -1;
    /* some file systems cannot sync a folder (EINVAL); nothing more can be done there */
    int rc = fsync(fd) != 0 && errno != EINVAL ? -1 : 0;
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

agecl_status agecl__atomic_commit(agecl__atomic_file *f)
{
    const char *failed = NULL;
    if (f->stream && fflush(f->stream) != 0) failed = "cannot write the new file";
    else if (fsync(f->fd) != 0) failed = "cannot sync the new file";
    int err = errno;
    int closed = f->stream ? fclose(f->stream) : close(f->fd);
    f->stream = NULL;
    f->fd = -1;
    if (closed != 0 && !failed) {
        failed = "cannot close the new file";
        err = errno;
    }
    if (!failed && rename(f->tmp, f->path) != 0) {
        failed = "cannot rename the new file over it";
        err = errno;
    }
    agecl_status st = AGECL_OK;
    if (failed) {
        unlink(f->tmp);
        st = agecl__fail(AGECL_E_IO, "%s: %s (temporary file %s): %s", f->path, failed, f->tmp,
                         strerror(err));
    } else if (sync_folder(f->path) != 0) {
        st = agecl__fail(AGECL_E_IO, "%s: saved, but cannot sync its folder: %s", f->path,
                         strerror(errno));
    }
    release(f);
    return st;
}

void agecl__atomic_abort(agecl__atomic_file *f)
{
    if (f->stream) fclose(f->stream);
    else if (f->fd >= 0) close(f->fd);
    if (f->tmp) unlink(f->tmp);
    release(f);
}

/* NAME.tmp.XXXXXX: ".tmp." then the six characters of mkstemp, at the end. */
static int is_temporary(const char *name)
{
    size_t n = strlen(name);
    return n > 11 && !memcmp(name + n - 11, ".tmp.", 5);
}

int agecl__atomic_sweep(const char *dir, const char *prefix, double min_age_s)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    time_t now = time(NULL);
    char path[4096];
    for (struct dirent *e; (e = readdir(d));) {
        struct stat st;
        if (!is_temporary(e->d_name) || strncmp(e->d_name, prefix, strlen(prefix))) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
            difftime(now, st.st_mtime) < min_age_s)
            continue;
        removed += unlink(path) == 0;
    }
    closedir(d);
    return removed;
}
