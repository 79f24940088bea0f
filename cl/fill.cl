/* Filling and copying tensors (offsets and counts in elements). */
__kernel void fill(__global float *x, uint off, uint n, float value)
{
    uint i = get_global_id(0);
    if (i < n) x[off + i] = value;
}

__kernel void copy(__global const float *src, uint src_off, __global float *dst, uint dst_off,
                   uint n)
{
    uint i = get_global_id(0);
    if (i < n) dst[dst_off + i] = src[src_off + i];
}
