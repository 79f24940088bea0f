/* src/data/cache_build.c - decoding a whole data set into a cache file. */
#include "data/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "data/dataset.h"
#include "runtime/hash.h"
#include "data/image.h"
#include "io/atomic_file.h"

typedef struct build {
    const agecl_dataset *ds;
    int size;
    uint8_t *status, *pixels;
    atomic_int next;  /* the next sample to decode */
    atomic_int abort; /* set on the first error that stops the build */
    pthread_mutex_t lock;
    agecl_status error; /* that error, and its detail */
    char detail[512];
} build;

static void *decode_all(void *arg)
{
    build *b = arg;
    agecl__data_scratch s = {0};
    size_t image = (size_t)b->size * b->size * 3;
    int i;
    while (!atomic_load(&b->abort) && (i = atomic_fetch_add(&b->next, 1)) < b->ds->count) {
        const agecl__data_entry *e = &b->ds->e[i];
        agecl_status st = agecl__data_load(&s, e->s.path, b->ds->crop, b->size, b->pixels + i * image);
        b->status[i] = (uint8_t)st;
        /* A bad image stays in the cache as its status, unless every bad sample is an
         * error; running out of memory always is. */
        if (st != AGECL_OK && ((b->ds->flags & AGECL_DATA_STRICT) || st == AGECL_E_OUT_OF_MEMORY)) {
            pthread_mutex_lock(&b->lock);
            if (!atomic_exchange(&b->abort, 1)) {
                b->error = st;
                snprintf(b->detail, sizeof b->detail, "%s", agecl_last_error());
            }
            pthread_mutex_unlock(&b->lock);
        }
    }
    agecl__data_scratch_free(&s);
    return NULL;
}

/* Run decode_all on threads workers, or on this thread when threads is 0. */
static agecl_status run(build *b, int threads)
{
    pthread_t tid[64];
    int started = 0;
    if (threads > 64) threads = 64;
    while (started < threads && pthread_create(&tid[started], NULL, decode_all, b) == 0) started++;
    if (started == 0) decode_all(b);
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    if (b->error != AGECL_OK) return agecl__fail(b->error, "%s", b->detail);
    return AGECL_OK;
}

agecl_status agecl__data_cache_build(const agecl_dataset *ds, const char *path, int size,
                                     int threads)
{
    agecl__data_cache_layout l;
    uint8_t *header;
    AGECL_TRY(agecl__data_cache_layout_of(ds, size, &l, &header));
    /* a build killed an hour ago or more left its temporary file: gone */
    char *dir = strdup(path);
    if (dir) {
        char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : path;
        if (slash) *slash = '\0';
        agecl__atomic_sweep(slash ? (*dir ? dir : "/") : ".", base, 3600);
        free(dir);
    }
    agecl__atomic_file f;
    agecl_status st = agecl__atomic_begin(&f, path);
    if (st != AGECL_OK) {
        free(header);
        return st;
    }
    char why[128];
    uint8_t *map = MAP_FAILED;
    /* The blocks are reserved before the file is mapped: a write through the map
     * into a hole that the disk cannot fill would kill the process (SIGBUS). */
    int err = posix_fallocate(f.fd, 0, (off_t)l.total);
    if (err)
        st = agecl__fail(AGECL_E_IO, "cache: %s: cannot reserve %zu bytes: %s", path, l.total,
                         agecl__data_errno(err, why, sizeof why));
    else if ((map = mmap(NULL, l.total, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0)) == MAP_FAILED)
        st = agecl__fail(AGECL_E_IO, "cache: %s: cannot map it: %s", f.tmp,
                         agecl__data_errno(errno, why, sizeof why));
    if (st == AGECL_OK) {
        memcpy(map, header, l.index);
        build b = {.ds = ds, .size = size, .status = map + l.index, .pixels = map + l.pixels};
        pthread_mutex_init(&b.lock, NULL);
        st = run(&b, threads);
        pthread_mutex_destroy(&b.lock);
        uint64_t sum = agecl__fnv1a(AGECL_FNV_INIT, map, l.checksum);
        memcpy(map + l.checksum, &sum, sizeof sum);
    }
    if (map != MAP_FAILED) munmap(map, l.total);
    /* On disk before it takes the cache's name, so a crash cannot leave a cache with
     * a sound header over missing pixels. */
    if (st == AGECL_OK) st = agecl__atomic_commit(&f);
    else agecl__atomic_abort(&f);
    free(header);
    return st;
}
