/* src/data/cache.h - the pre-decoded image cache (format in agecl/data.h). */
#ifndef AGECL_DATA_CACHE_H
#define AGECL_DATA_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include "agecl/data.h"

#define AGECL__DATA_CACHE_VERSION 1u

struct agecl_image_cache {
    int size, count;
    uint64_t list_hash; /* of the data set it was built from */
    uint8_t *map;       /* the whole file, read-only */
    size_t map_len;
    const uint8_t *status; /* count agecl_status bytes */
    const uint8_t *pixels; /* count images of size * size * 3 */
};

/* Where things are in a cache file. */
typedef struct agecl__data_cache_layout {
    size_t index, checksum, pixels, total; /* offsets, and the file's size */
} agecl__data_cache_layout;

/* The layout of a cache of ds at size; when header is not NULL, also the expected
 * bytes [0, layout.index) in a malloc'd *header. */
agecl_status agecl__data_cache_layout_of(const agecl_dataset *ds, int size,
                                         agecl__data_cache_layout *layout, uint8_t **header);

/* Decode every sample of ds into a new cache file at path (written under a
 * temporary name, then renamed: io/atomic_file.h). */
agecl_status agecl__data_cache_build(const agecl_dataset *ds, const char *path, int size,
                                     int threads);

#endif
