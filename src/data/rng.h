/* src/data/rng.h - the counter-based generator behind shuffling and augmentation.
 *
 * A generator is keyed by (seed, stream, epoch, index) and then steps like splitmix64,
 * so every sample of every epoch has its own sequence: what a sample gets does not
 * depend on which thread prepares it or when. */
#ifndef AGECL_DATA_RNG_H
#define AGECL_DATA_RNG_H

#include <stdint.h>

enum { AGECL__DATA_STREAM_AUGMENT = 1, AGECL__DATA_STREAM_SHUFFLE = 2 };

typedef struct agecl__data_rng { uint64_t state; } agecl__data_rng;

/* splitmix64's output function (a bijection of 64-bit words). */
static inline uint64_t agecl__data_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline agecl__data_rng agecl__data_rng_key(uint64_t seed, uint64_t stream,
                                                  uint64_t epoch, uint64_t index)
{
    uint64_t k = agecl__data_mix64(seed + 0x9e3779b97f4a7c15ull);
    k = agecl__data_mix64(k ^ stream);
    k = agecl__data_mix64(k ^ epoch);
    k = agecl__data_mix64(k ^ index);
    return (agecl__data_rng){k};
}

static inline uint64_t agecl__data_rng_u64(agecl__data_rng *r)
{
    r->state += 0x9e3779b97f4a7c15ull;
    return agecl__data_mix64(r->state);
}

/* Uniform in [0, 1). */
static inline double agecl__data_rng_uniform(agecl__data_rng *r)
{
    return (double)(agecl__data_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n), n < 2^32 (multiply-shift; the bias is below 2^-32). */
static inline uint32_t agecl__data_rng_below(agecl__data_rng *r, uint32_t n)
{
    return (uint32_t)(((agecl__data_rng_u64(r) >> 32) * n) >> 32);
}

#endif
