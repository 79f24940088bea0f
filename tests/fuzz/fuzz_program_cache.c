/* Program-cache entries (src/runtime/program_cache.c), with the key taken from the
 * input so that the checks past it are reached. */
#include "fuzz.h"
#include "runtime/ctx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    uint64_t key = 0;
    for (int i = 0; i < 8 && 8 + i < (int)n; i++) key |= (uint64_t)data[8 + i] << (8 * i);
    size_t size = 0;
    int bad = 0;
    unsigned char *bin = agecl__program_cache_load(fuzz_file("x.clbin", data, n), key, &size, &bad);
    if (bin && (size == 0 || size + 32 != n)) abort();
    free(bin);
    return 0;
}
