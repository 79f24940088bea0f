/* im2col and its adjoint col2im, for square kernels of KSIZE x KSIZE taps with
 * stride STRIDE and padding PAD (build options: -DKSIZE=3 -DSTRIDE=2 -DPAD=1).
 *
 * For samples s of x [ns, c, h, w], the column matrix holds, at
 *   col[col_off + s*col_ss + r*col_rs + i*ow + j],   r = (ch*KSIZE + u)*KSIZE + v,
 * the input pixel x[s, ch, i*STRIDE + u - PAD, j*STRIDE + v - PAD] (0 outside the image).
 * col_ss and col_rs choose the layout, e.g. [c*k*k][ns*oh*ow] (col_ss = oh*ow,
 * col_rs = ns*oh*ow). With KSIZE 1, STRIDE 1, PAD 0, im2col permutes [ns][c][hw]
 * to [c][ns*hw] and col2im permutes it back.
 *
 * Both kernels run on a (width, height, channel-or-row) grid, width fastest so that
 * neighbouring work-items touch neighbouring elements, and loop over the samples:
 * the index arithmetic is done once per work-item, not per element. */
#define TAPS (KSIZE * KSIZE)

/* Grid (ow, oh, c*KSIZE*KSIZE): one column element per sample. */
__kernel void im2col(__global const float *x, uint x_off, __global float *col, uint col_off,
                     uint ns, uint c, uint h, uint w, uint oh, uint ow, uint col_ss,
                     uint col_rs)
{
    uint j = get_global_id(0), i = get_global_id(1), r = get_global_id(2);
    if (j >= ow || i >= oh || r >= c * TAPS) return;
    uint v = r % KSIZE, u = (r / KSIZE) % KSIZE, ch = r / TAPS;
    int iy = (int)(i * STRIDE + u) - PAD, ix = (int)(j * STRIDE + v) - PAD;
    int inside = iy >= 0 && iy < (int)h && ix >= 0 && ix < (int)w;
    uint src = inside ? x_off + (ch * h + (uint)iy) * w + (uint)ix : 0;
    uint dst = col_off + r * col_rs + i * ow + j;
    uint x_ss = c * h * w;
    for (uint s = 0; s < ns; s++)
        col[dst + s * col_ss] = inside ? x[src + s * x_ss] : 0.0f;
}

/* Grid (w, h, c): x = col2im(col) + beta * x. Each work-item gathers, in a fixed
 * order, the column entries that im2col copied from its pixel, so the sum is
 * deterministic and no two work-items write the same element. beta == 0 never
 * reads x. */
__kernel void col2im(__global const float *col, uint col_off, __global float *x, uint x_off,
                     uint ns, uint c, uint h, uint w, uint oh, uint ow, uint col_ss,
                     uint col_rs, float beta)
{
    uint ix = get_global_id(0), iy = get_global_id(1), ch = get_global_id(2);
    if (ix >= w || iy >= h || ch >= c) return;
    /* The column entries of this pixel, as offsets from a sample's start. */
    uint src[TAPS];
    uint taps = 0;
    for (uint u = 0; u < KSIZE; u++) {
        int ty = (int)(iy + PAD) - (int)u; /* = i*STRIDE for the output row i it feeds */
        if (ty < 0 || ty % STRIDE != 0 || ty / STRIDE >= (int)oh) continue;
        for (uint v = 0; v < KSIZE; v++) {
            int tx = (int)(ix + PAD) - (int)v;
            if (tx < 0 || tx % STRIDE != 0 || tx / STRIDE >= (int)ow) continue;
            src[taps++] = col_off + ((ch * KSIZE + u) * KSIZE + v) * col_rs +
                          (uint)(ty / STRIDE) * ow + (uint)(tx / STRIDE);
        }
    }
    uint dst = x_off + (ch * h + iy) * w + ix, x_ss = c * h * w;
    for (uint s = 0; s < ns; s++) {
        float sum = 0.0f;
        for (uint t = 0; t < taps; t++) sum += col[src[t] + s * col_ss];
        uint at = dst + s * x_ss;
        x[at] = beta != 0.0f ? sum + beta * x[at] : sum;
    }
}
