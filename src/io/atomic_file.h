/* src/io/atomic_file.h - replacing a file so that no reader sees half of it.
 *
 * Every file the library writes whole (checkpoints, the image cache, the training
 * log and curves, the program cache, CLBlast's tuning) goes through here:
 *
 *   agecl__atomic_file f;
 *   AGECL_TRY(agecl__atomic_begin(&f, path));    temporary file beside path
 *   ... write to f.fd, or to agecl__atomic_stream(&f) ...
 *   return agecl__atomic_commit(&f);             or agecl__atomic_abort(&f)
 *
 * The temporary file is created with O_EXCL (mkstemp) in path's folder, so two
 * writers never share one; commit syncs it, renames it over path and syncs the
 * folder, so after a crash path holds the old content or the new, never a mix.
 * The new file keeps the mode of the one it replaces (0644 for a new file). On
 * any failure the temporary file is removed and path is left as it was. */
#ifndef AGECL_SRC_IO_ATOMIC_FILE_H
#define AGECL_SRC_IO_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>
#include "agecl/status.h"

typedef struct agecl__atomic_file {
    int fd;       /* the temporary file, open for reading and writing */
    FILE *stream; /* set by agecl__atomic_stream; commit flushes it */
    char *path;   /* the file to replace */
    char *tmp;    /* the temporary file's name */
} agecl__atomic_file;

/* Create the temporary file for path. On failure f holds nothing to release. */
agecl_status agecl__atomic_begin(agecl__atomic_file *f, const char *path);

/* A stdio stream over the temporary file (the same one on every call); NULL when
 * out of memory. Close it only through commit or abort. */
FILE *agecl__atomic_stream(agecl__atomic_file *f);

/* Write n bytes at the temporary file's position, retrying short writes. */
agecl_status agecl__atomic_write(agecl__atomic_file *f, const void *p, size_t n);

/* Sync, close and rename the temporary file over path, then sync the folder.
 * Releases f whatever the result. */
agecl_status agecl__atomic_commit(agecl__atomic_file *f);

/* Close and remove the temporary file; path is untouched. Releases f. */
void agecl__atomic_abort(agecl__atomic_file *f);

/* Remove the temporary files that writers killed before their commit left in dir:
 * the names of agecl__atomic_begin (NAME.tmp.XXXXXX) whose NAME starts with prefix
 * ("" for any) and whose last change is older than min_age_s seconds (so that a
 * writer at work in another process keeps its file). Best effort: errors are
 * ignored. Returns the number removed. */
int agecl__atomic_sweep(const char *dir, const char *prefix, double min_age_s);

#endif
