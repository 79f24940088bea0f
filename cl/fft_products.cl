/* The FFT convolution's sums over channels (src/conv/conv2d_fft.c), between the
 * transforms. Spectra are the half spectra clFFT writes: per plane `nf` complex
 * numbers (real and imaginary parts side by side), planes `dist` complex numbers
 * apart; offsets and strides count complex numbers. Build options: CONJ_A and CONJ_B
 * (0 or 1), the tile TI x TJ. */

/* For every frequency f: C[i][j] (+)= sum_k op(A[i][k]) * op(B[j][k]), complex, with
 * op the conjugate where CONJ_A / CONJ_B say. Element (i, k) of A is frequency f of
 * plane i*a_si + k*a_sk (likewise B, C). A work-item computes a TI x TJ tile of C at
 * one frequency; neighbouring work-items take neighbouring frequencies, so every
 * load of a work-group is contiguous. Real and imaginary parts are kept in separate
 * registers, and work-items past nf compute on the last frequency and store nothing
 * so that the work-group runs without a branch: on PoCL that ran about 20% faster
 * than float2 arithmetic with an early return. accumulate: add to C, else overwrite. */
__kernel void fft_cmac(__global const float *a, uint a_off, uint a_si, uint a_sk,
                       __global const float *b, uint b_off, uint b_sj, uint b_sk,
                       __global float *c, uint c_off, uint c_si, uint c_sj, uint m, uint n,
                       uint k, uint nf, uint dist, uint accumulate)
{
    uint f = get_global_id(0), i0 = get_global_id(1) * TI, j0 = get_global_id(2) * TJ;
    uint fc = min(f, nf - 1);
    uint ai[TI], bj[TJ];
    for (uint t = 0; t < TI; t++) ai[t] = 2 * (a_off + min(i0 + t, m - 1) * a_si * dist + fc);
    for (uint u = 0; u < TJ; u++) bj[u] = 2 * (b_off + min(j0 + u, n - 1) * b_sj * dist + fc);
    uint a_step = 2 * a_sk * dist, b_step = 2 * b_sk * dist;
    float re[TI][TJ], im[TI][TJ];
    for (uint t = 0; t < TI; t++)
        for (uint u = 0; u < TJ; u++) re[t][u] = im[t][u] = 0.0f;
    for (uint kk = 0; kk < k; kk++) {
        float ar[TI], aim[TI], br[TJ], bim[TJ];
        for (uint t = 0; t < TI; t++) {
            ar[t] = a[ai[t]];
            aim[t] = CONJ_A ? -a[ai[t] + 1] : a[ai[t] + 1];
            ai[t] += a_step;
        }
        for (uint u = 0; u < TJ; u++) {
            br[u] = b[bj[u]];
            bim[u] = CONJ_B ? -b[bj[u] + 1] : b[bj[u] + 1];
            bj[u] += b_step;
        }
        for (uint t = 0; t < TI; t++)
            for (uint u = 0; u < TJ; u++) {
                re[t][u] += ar[t] * br[u] - aim[t] * bim[u];
                im[t][u] += ar[t] * bim[u] + aim[t] * br[u];
            }
    }
    if (f >= nf) return;
    for (uint t = 0; t < TI; t++)
        for (uint u = 0; u < TJ; u++) {
            if (i0 + t >= m || j0 + u >= n) continue;
            uint o = 2 * (c_off + ((i0 + t) * c_si + (j0 + u) * c_sj) * dist + f);
            c[o] = accumulate ? c[o] + re[t][u] : re[t][u];
            c[o + 1] = accumulate ? c[o + 1] + im[t][u] : im[t][u];
        }
}
