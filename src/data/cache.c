/* src/data/cache.c - opening (and when needed rebuilding) the image cache. */
#include "data/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/dataset.h"
#include "runtime/hash.h"

#define PAGE 4096

static size_t align(size_t n, size_t a) { return (n + a - 1) / a * a; }

agecl_status agecl__data_cache_layout_of(const agecl_dataset *ds, int size,
                                         agecl__data_cache_layout *l, uint8_t **header)
{
    size_t name_len = strlen(ds->name), image = (size_t)size * size * 3;
    l->index = 48 + align(name_len, 8);
    l->checksum = l->index + align((size_t)ds->count, 8);
    l->pixels = align(l->checksum + 8, PAGE);
    l->total = l->pixels + (size_t)ds->count * image;
    if (!header) return AGECL_OK;
    uint8_t *h = *header = calloc(l->index, 1);
    if (!h) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "cache: header of %s", ds->name);
    uint32_t u32[4] = {AGECL__DATA_CACHE_VERSION, (uint32_t)size, (uint32_t)ds->count,
                       (uint32_t)ds->crop};
    uint64_t u64[2] = {agecl__data_list_hash(ds), l->pixels};
    uint32_t len = (uint32_t)name_len;
    memcpy(h, "AGECLIMG", 8);
    memcpy(h + 8, u32, sizeof u32);
    memcpy(h + 24, u64, sizeof u64);
    memcpy(h + 40, &len, sizeof len);
    memcpy(h + 48, ds->name, name_len);
    return AGECL_OK;
}

/* Map path and check it against ds; AGECL_OK and a filled c when it is sound,
 * AGECL_E_FORMAT when it is missing, stale or damaged. */
static agecl_status try_open(agecl_image_cache *c, const agecl_dataset *ds, const char *path,
                             int size)
{
    agecl__data_cache_layout l;
    uint8_t *want;
    AGECL_TRY(agecl__data_cache_layout_of(ds, size, &l, &want));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    agecl_status ret = AGECL_E_FORMAT;
    if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size == l.total) {
        uint8_t *map = mmap(NULL, l.total, PROT_READ, MAP_SHARED, fd, 0);
        if (map != MAP_FAILED) {
            uint64_t sum;
            memcpy(&sum, map + l.checksum, sizeof sum);
            if (!memcmp(map, want, l.index) &&
                sum == agecl__fnv1a(AGECL_FNV_INIT, map, l.checksum)) {
                *c = (agecl_image_cache){size, ds->count, agecl__data_list_hash(ds), map, l.total,
                                         map + l.index, map + l.pixels};
                ret = AGECL_OK;
            } else {
                munmap(map, l.total);
            }
        }
    }
    if (fd >= 0) close(fd);
    free(want);
    return ret;
}

agecl_status agecl_image_cache_open(agecl_image_cache **out, const agecl_dataset *ds,
                                    const char *path, int size, int threads, int *built)
{
    if (!out || !ds || !path || size < 1 || size > AGECL_IMAGE_MAX_SIZE || threads < 0)
        return agecl__fail(AGECL_E_INVALID_ARG, "cache: bad argument (size %d, threads %d)",
                           size, threads);
    *out = NULL;
    if (built) *built = 0;
    agecl_image_cache *c = calloc(1, sizeof *c);
    if (!c) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "cache: %s", path);
    agecl_status st = try_open(c, ds, path, size);
    if (st == AGECL_E_FORMAT) {
        st = agecl__data_cache_build(ds, path, size, threads);
        if (st == AGECL_OK && built) *built = 1;
        if (st == AGECL_OK && try_open(c, ds, path, size) != AGECL_OK)
            st = agecl__fail(AGECL_E_IO, "cache: %s: unreadable right after it was written", path);
    }
    if (st != AGECL_OK) {
        free(c);
        return st;
    }
    *out = c;
    return AGECL_OK;
}

void agecl_image_cache_close(agecl_image_cache *cache)
{
    if (!cache) return;
    munmap(cache->map, cache->map_len);
    free(cache);
}
