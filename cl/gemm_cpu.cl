/* SGEMM for CPU-class devices (src/core/gemm_cpu.c): C = alpha * A * X + beta * C,
 * A m x k, X k x n.
 *
 * Written for PoCL's CPU device and run with work-groups of one work-item: the
 * compiler then sees plain scalar code, a vector of VW floats is one SIMD
 * register (float16: AVX-512; float8: AVX2), and there is no work-item loop.
 * Each work-item keeps an MR x NR block of C in MR * NV vector accumulators over
 * the whole of k, reading per step of k
 *   - one float of each of its MR rows of A, broadcast: element (i, p) at
 *     a[(i / MR) * a_qs + (i % MR) * a_rs + p * a_ps], which covers A in place
 *     (a_qs = MR * a_rs, a_ps = 1: rows contiguous along k) and A packed by
 *     gemm_pack into panels of MR rows (a_qs = k * MR, a_rs = 1, a_ps = MR);
 *   - NR contiguous floats of one row of X: in place when X's rows are
 *     contiguous, else packed by gemm_pack into panels of NR columns.
 * Element (i, j) of C is at c[i * c_rs + j * c_cs], so that the host can compute
 * C^T = B^T A^T by swapping the operands and C's strides.
 *
 * Options: -DMR=rows of C per work-item, -DVW=16 or 8 floats per vector,
 * -DNV=vectors per row (NR = VW * NV). */
#include "vector16.clh"

#ifndef MR
#define MR 8
#endif
#ifndef VW
#define VW 16
#endif
#ifndef NV
#define NV 2
#endif
#define NR (VW * NV)

#if VW == 16
typedef float16 floatv;
#define VLOAD vload16
#define VSTORE vstore16
#elif VW == 8
typedef float8 floatv;
#define VLOAD vload8
#define VSTORE vstore8
#else
#error "VW must be 8 or 16"
#endif

/* Pack X (rows x cols, element (p, j) at x[p * x_ps + j * x_js]) into panels of
 * `width` columns: panel q holds x[p][q * width + t] at
 * dst[(q * rows + p) * width + t], zero for the columns past cols. Each work-item
 * packs `prows` rows of `panels` panels: global size (ceil(rows / prows),
 * ceil(cols / (width * panels)), batch). The host gives work-items long runs
 * along X's contiguous direction: several panels of few rows when rows are
 * contiguous (x_js == 1), many rows of one panel when columns are. */
__kernel void gemm_pack(uint rows, uint cols, uint width, uint prows, uint panels,
                        __global const float *x, ulong x_off, ulong x_ps, ulong x_js,
                        ulong x_stride, __global float *dst, ulong dst_off, ulong dst_stride)
{
    uint p0 = get_global_id(0) * prows, q0 = get_global_id(1) * panels;
    if (p0 >= rows || q0 * width >= cols) return;
    uint np = min(rows - p0, prows), nq = min(panels, (cols - q0 * width + width - 1) / width);
    ulong batch = get_global_id(2);
    __global const float *src = x + x_off + batch * x_stride;
    __global float *out = dst + dst_off + batch * dst_stride;
    if (x_js == 1) {
        /* Along each row, panel after panel. */
        for (uint p = p0; p < p0 + np; p++) {
            __global const float *s = src + p * x_ps;
            for (uint q = q0; q < q0 + nq; q++) {
                uint j0 = q * width, nc = min(cols - j0, width);
                __global float *o = out + ((ulong)q * rows + p) * width;
                if (width == NR && nc == NR) {
#pragma unroll
                    for (uint v = 0; v < NV; v++) VSTORE(VLOAD(v, s + j0), v, o);
                } else {
                    for (uint t = 0; t < width; t++) o[t] = t < nc ? s[j0 + t] : 0.0f;
                }
            }
        }
        return;
    }
    /* Down each column. */
    for (uint q = q0; q < q0 + nq; q++) {
        uint j0 = q * width, nc = min(cols - j0, width);
        __global float *o = out + ((ulong)q * rows + p0) * width;
        for (uint t = 0; t < nc; t++) {
            __global const float *s = src + p0 * x_ps + (j0 + t) * x_js;
            for (uint p = 0; p < np; p++) o[p * width + t] = s[p * x_ps];
        }
        for (uint t = nc; t < width; t++)
            for (uint p = 0; p < np; p++) o[p * width + t] = 0.0f;
    }
}

/* One MR x NR block of C per work-item. Global size (ceil(m / MR), ceil(n / NR),
 * batch), local size (1, 1, 1). Panel q of X (columns q * NR ..) is at
 * x[x_off + q * x_qs + p * x_ps + t] for q < x_full (packed: x_qs = k * NR,
 * x_ps = NR; in place: x_qs = NR, x_ps = the leading dimension); the panels from
 * x_full on are packed at e[(q - x_full) * k * NR + p * NR + t] (the partial last
 * panel of an X read in place). Packed columns past n are zero; A's rows past m
 * repeat row m - 1. Neither is stored, and beta == 0 never reads C. */
__kernel void gemm_block(uint m, uint n, uint k, float alpha, float beta,
                         __global const float *a, ulong a_off, ulong a_qs, ulong a_rs,
                         ulong a_ps, ulong a_stride,
                         __global const float *x, ulong x_off, ulong x_qs, ulong x_ps,
                         ulong x_stride, uint x_full,
                         __global const float *e, ulong e_stride,
                         __global float *c, ulong c_off, ulong c_rs, ulong c_cs, ulong c_stride)
{
    uint i0 = get_global_id(0) * MR, q = get_global_id(1);
    ulong batch = get_global_id(2);
    if (i0 >= m || q * NR >= n) return;

    ulong row[MR];
#pragma unroll
    for (uint r = 0; r < MR; r++) {
        uint i = min(i0 + r, m - 1);
        row[r] = (i / MR) * a_qs + (i % MR) * a_rs;
    }
    __global const float *ap = a + a_off + batch * a_stride;
    __global const float *xp = q < x_full ? x + x_off + batch * x_stride + q * x_qs
                                          : e + batch * e_stride + (ulong)(q - x_full) * k * NR;
    ulong xs = q < x_full ? x_ps : NR;

    floatv acc[MR][NV];
#pragma unroll
    for (uint r = 0; r < MR; r++)
#pragma unroll
        for (uint v = 0; v < NV; v++) acc[r][v] = (floatv)(0.0f);
    for (uint s = 0; s < k; s++) {
        floatv xv[NV];
#pragma unroll
        for (uint v = 0; v < NV; v++) xv[v] = VLOAD(v, xp);
#pragma unroll
        for (uint r = 0; r < MR; r++) {
            floatv av = (floatv)(ap[row[r]]);
#pragma unroll
            for (uint v = 0; v < NV; v++) acc[r][v] = fma(av, xv[v], acc[r][v]);
        }
        ap += a_ps;
        xp += xs;
    }

    uint rows = min(m - i0, (uint)MR), cols = min(n - q * NR, (uint)NR);
    __global float *cp = c + c_off + batch * c_stride + i0 * c_rs + (ulong)q * NR * c_cs;
    if (c_cs == 1 && cols == NR) {
        /* Whole rows of NR contiguous floats. */
#pragma unroll
        for (uint r = 0; r < MR; r++) {
            if (r < rows) {
                __global float *cr = cp + r * c_rs;
#pragma unroll
                for (uint v = 0; v < NV; v++) {
                    floatv out = alpha * acc[r][v];
                    if (beta != 0.0f) out = fma((floatv)beta, VLOAD(v, cr), out);
                    VSTORE(out, v, cr);
                }
            }
        }
        return;
    }
    /* Edges and transposed C, element by element along C's contiguous direction. */
    float tile[MR][NR];
#pragma unroll
    for (uint r = 0; r < MR; r++)
#pragma unroll
        for (uint v = 0; v < NV; v++) VSTORE(alpha * acc[r][v], v, tile[r]);
    if (c_cs == 1) {
        for (uint r = 0; r < rows; r++)
            for (uint j = 0; j < cols; j++) {
                __global float *o = cp + r * c_rs + j;
                *o = beta != 0.0f ? fma(beta, *o, tile[r][j]) : tile[r][j];
            }
    } else {
        for (uint j = 0; j < cols; j++)
            for (uint r = 0; r < rows; r++) {
                __global float *o = cp + j * c_cs + r * c_rs;
                *o = beta != 0.0f ? fma(beta, *o, tile[r][j]) : tile[r][j];
            }
    }
}
