/* FNV-1a 64-bit hashing, for cache keys and checksums (not for security). */
#ifndef AGECL_RUNTIME_HASH_H
#define AGECL_RUNTIME_HASH_H

#include <stddef.h>
#include <stdint.h>
#include "agecl/runtime.h"

#define AGECL_FNV_INIT 0xcbf29ce484222325ull

uint64_t agecl__fnv1a(uint64_t h, const void *data, size_t len);
uint64_t agecl__fnv1a_str(uint64_t h, const char *s);

/* The one key of a device for everything cached about it (program binaries,
 * CLBlast's tuning, the convolution algorithm choices): platform and its version,
 * device, driver and OpenCL version, so that a new driver measures and compiles
 * afresh. A cache with a format tag mixes it in. */
uint64_t agecl__device_key(const agecl_device_info *info);

/* The key of the library's kernels: every embedded source of cl/, so that what was
 * measured with other kernels (another version of agecl) is measured anew. */
uint64_t agecl__kernels_key(void);

#endif
