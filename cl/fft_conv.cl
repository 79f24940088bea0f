/* The FFT convolution's own kernels around clFFT's transforms (src/conv/conv2d_fft.c):
 * padding planes into transform-sized buffers and cropping the results.
 *
 * A group of planes is planes (i, j) of a tensor [.][c][h][w]: i = i0 + p / nj and
 * j = j0 + p % nj for the p-th plane of the group; planes with i >= i_end or
 * j >= j_end stand for nothing (zeros in, dropped out), so groups can be rounded up.
 *
 * Offsets are in elements. The products between transforms: cl/fft_products.cl. */

/* dst planes [planes][fh][fw] = planes p0 .. p0+planes-1 of the group, zero-padded.
 * A work-item per column of a plane, down its rows: neighbours write neighbouring
 * columns, and the plane's place in the group is worked out once per column. */
__kernel void fft_pad(__global const float *src, uint src_off, uint c, uint h, uint w,
                      uint i0, uint i_end, uint j0, uint j_end, uint nj, uint p0, uint planes,
                      __global float *dst, uint dst_off, uint fh, uint fw)
{
    uint q = get_global_id(0), p = get_global_id(1);
    if (q >= fw || p >= planes) return;
    uint g = p0 + p, i = i0 + g / nj, j = j0 + g % nj;
    __global float *out = dst + dst_off + p * fh * fw + q;
    uint rows = i < i_end && j < j_end && q < w ? h : 0; /* rows read from src */
    if (rows) {
        __global const float *in = src + src_off + (i * c + j) * h * w + q;
        for (uint r = 0; r < rows; r++) out[r * fw] = in[r * w];
    }
    for (uint r = rows; r < fh; r++) out[r * fw] = 0.0f;
}

/* The group's planes p0 .. p0+planes-1 of dst = scale * src, read circularly shifted
 * by `shift` rows and columns, + beta * dst (beta 0: dst is not read). A work-item
 * per column of a plane, as fft_pad. */
__kernel void fft_crop(__global const float *src, uint src_off, uint fh, uint fw, int shift,
                       float scale, __global float *dst, uint dst_off, uint c, uint h, uint w,
                       uint i0, uint i_end, uint j0, uint j_end, uint nj, uint p0, uint planes,
                       float beta)
{
    uint q = get_global_id(0), p = get_global_id(1);
    if (q >= w || p >= planes) return;
    uint g = p0 + p, i = i0 + g / nj, j = j0 + g % nj;
    if (i >= i_end || j >= j_end) return;
    uint sq = (uint)((int)q + (int)fw + shift) % fw, sr = (uint)((int)fh + shift) % fh;
    __global const float *in = src + src_off + p * fh * fw + sq;
    __global float *out = dst + dst_off + (i * c + j) * h * w + q;
    for (uint r = 0; r < h; r++) {
        float v = scale * in[sr * fw];
        out[r * w] = beta == 0.0f ? v : v + beta * out[r * w];
        sr = sr + 1 == fh ? 0 : sr + 1;
    }
}
