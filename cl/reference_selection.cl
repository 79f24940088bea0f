/* Reference selection (MODEL.md section 4): for each age label, the training
 * sample of that age with the smallest error, then a gather of their features.
 * Sample positions and chosen indices are floats holding integers. */

/* The tie-breaking key of sample i: murmur3's 32-bit finaliser (a bijection)
 * of i mixed with the seed; agecl_reference_key in src/heads computes the same. */
static uint fmix32(uint h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

static uint reference_key(uint seed, uint i) { return fmix32(i ^ fmix32(seed ^ 0x9e3779b9u)); }

/* Whether candidate (e1, key1, i1) beats (e2, key2, i2); i < 0 means none. Keys
 * of one seed are distinct, so this is a total order on samples. */
static bool better(float e1, uint key1, int i1, float e2, uint key2, int i2)
{
    if (i1 < 0) return false;
    if (i2 < 0) return true;
    return e1 < e2 || (e1 == e2 && key1 < key2);
}

/* One work-group (a power of two) per label k, its work-items striding over
 * the S samples; the winner does not depend on the order of the scan. */
__kernel void reference_argmin(__global const float *err, uint err_off,
                               __global const float *pos, uint pos_off, uint S, uint seed,
                               __global float *index, uint index_off, __local float *best_err,
                               __local uint *best_key, __local int *best_idx)
{
    uint k = get_group_id(0), lid = get_local_id(0);
    float e = INFINITY;
    uint key = 0;
    int idx = -1;
    for (uint i = lid; i < S; i += get_local_size(0)) {
        if (pos[pos_off + i] != (float)k) continue;
        float ei = err[err_off + i];
        if (isnan(ei)) continue;
        uint ki = reference_key(seed, i);
        if (better(ei, ki, (int)i, e, key, idx)) e = ei, key = ki, idx = (int)i;
    }
    best_err[lid] = e, best_key[lid] = key, best_idx[lid] = idx;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = get_local_size(0) / 2; s > 0; s >>= 1) {
        if (lid < s && better(best_err[lid + s], best_key[lid + s], best_idx[lid + s],
                              best_err[lid], best_key[lid], best_idx[lid])) {
            best_err[lid] = best_err[lid + s];
            best_key[lid] = best_key[lid + s];
            best_idx[lid] = best_idx[lid + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) index[index_off + k] = (float)best_idx[0];
}

/* refs[k, c] = feat[source[k], c]; one work-item per element, (c, k) grid. */
__kernel void reference_gather(__global const float *feat, uint feat_off,
                               __global const float *source, uint source_off,
                               __global float *refs, uint refs_off, uint C, uint n)
{
    uint c = get_global_id(0), k = get_global_id(1);
    if (c >= C || k >= n) return;
    size_t row = (size_t)source[source_off + k];
    refs[refs_off + (size_t)k * C + c] = feat[feat_off + row * C + c];
}
