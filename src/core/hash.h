/* FNV-1a 64-bit hashing, for cache keys and checksums (not for security). */
#ifndef AGECL_CORE_HASH_H
#define AGECL_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define AGECL_FNV_INIT 0xcbf29ce484222325ull

uint64_t agecl__fnv1a(uint64_t h, const void *data, size_t len);
uint64_t agecl__fnv1a_str(uint64_t h, const char *s);

#endif
