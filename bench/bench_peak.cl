/* The device's own ceilings, for agecl-bench: fused multiply-add throughput and
 * copy bandwidth. Built with -DVEC=4, 8 or 16 (the vector width of the FMA
 * chains; 4 when not given).
 *
 * fma_peak: every work-item runs 8 independent chains of VEC-wide FMAs,
 * x = fma(x, a, b), `iters` times: 2 * 8 * VEC * iters flops per work-item.
 * The chains are independent so that a core can overlap their latencies; with
 * a close to 1 and b small, x tends to b / (1 - a) and stays a normal float
 * (no denormal slow paths). The sum written at the end keeps the compiler from
 * dropping the work. */
#ifndef VEC
#define VEC 4
#endif
#define VTYPE_(n) float##n
#define VTYPE(n) VTYPE_(n)
typedef VTYPE(VEC) vtype;

/* Eight chains, written out so that they live in registers on every compiler. */
__kernel void fma_peak(__global float *out, uint iters, float a, float b)
{
    uint gid = get_global_id(0);
    vtype va = (vtype)(a), vb = (vtype)(b), seed = (vtype)(gid * 1e-7f);
    vtype x0 = seed, x1 = seed + 0.125f, x2 = seed + 0.25f, x3 = seed + 0.375f;
    vtype x4 = seed + 0.5f, x5 = seed + 0.625f, x6 = seed + 0.75f, x7 = seed + 0.875f;
    for (uint i = 0; i < iters; i++) {
        x0 = fma(x0, va, vb);
        x1 = fma(x1, va, vb);
        x2 = fma(x2, va, vb);
        x3 = fma(x3, va, vb);
        x4 = fma(x4, va, vb);
        x5 = fma(x5, va, vb);
        x6 = fma(x6, va, vb);
        x7 = fma(x7, va, vb);
    }
    vtype s = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7));
#if VEC == 16
    float4 t = (s.lo.lo + s.lo.hi) + (s.hi.lo + s.hi.hi);
#elif VEC == 8
    float4 t = s.lo + s.hi;
#else
    float4 t = s;
#endif
    out[gid] = (t.s0 + t.s1) + (t.s2 + t.s3);
}

/* dst = src over n float4 elements, one per work-item. */
__kernel void copy_peak(__global const float4 *src, __global float4 *dst, uint n)
{
    uint i = get_global_id(0);
    if (i < n) dst[i] = src[i];
}
