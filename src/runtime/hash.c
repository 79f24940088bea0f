#include <string.h>
#include "runtime/cl_sources.h"
#include "runtime/hash.h"

uint64_t agecl__fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t agecl__device_key(const agecl_device_info *info)
{
    uint64_t h = agecl__fnv1a_str(AGECL_FNV_INIT, info->platform);
    h = agecl__fnv1a_str(h, info->platform_version);
    h = agecl__fnv1a_str(h, info->name);
    h = agecl__fnv1a_str(h, info->driver_version);
    return agecl__fnv1a_str(h, info->device_version);
}

uint64_t agecl__kernels_key(void)
{
    uint64_t h = AGECL_FNV_INIT;
    for (int i = 0; i < agecl__cl_source_count; i++) {
        h = agecl__fnv1a_str(h, agecl__cl_sources[i].name);
        h = agecl__fnv1a_str(h, agecl__cl_sources[i].source);
    }
    return h;
}

/* Hashes the terminating NUL too, so that "ab"+"c" and "a"+"bc" differ. */
uint64_t agecl__fnv1a_str(uint64_t h, const char *s)
{
    return agecl__fnv1a(h, s, strlen(s) + 1);
}
