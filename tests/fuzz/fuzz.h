/* tests/fuzz/fuzz.h - what the libFuzzer harnesses share (built with -Dfuzz=true
 * and clang; run with tools/fuzz.sh). Each harness feeds its input to one reader
 * of untrusted bytes; a crash, a sanitizer report or a leak is a finding. */
#ifndef AGECL_FUZZ_H
#define AGECL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A folder of this process's own under $TMPDIR (else /tmp), made once. */
static inline const char *fuzz_dir(void)
{
    static char dir[512];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/agecl-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) abort();
    }
    return dir;
}

/* Write data into dir/name (readers take paths); returns the path. */
static inline const char *fuzz_file(const char *name, const uint8_t *data, size_t n)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) abort();
    return path;
}

/* data as a NUL-terminated string (malloc'd; the caller frees it). */
static inline char *fuzz_text(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

#endif
