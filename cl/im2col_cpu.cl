/* im2col for CPU devices (PoCL): the same matrices, arguments and build
 * options (-DKSIZE=3 -DSTRIDE=2 -DPAD=1) as cl/im2col.cl, with the work laid out for
 * a CPU rather than a GPU.
 *
 * Work-item (ch, s) handles channel ch of sample s whole, in a work-group of its own
 * (as cl/gemm_cpu.cl does): the compiler sees plain scalar code with simple loops,
 * vectorised here by hand with float16 (or float8, float4) loads and stores, and
 * one input plane serves all its taps from the cache.
 *
 * With stride 1 and "same" padding (2 * PAD == KSIZE - 1, so out_h = h and
 * out_w = w), the plane of tap (u, v) is the input plane shifted by u - PAD rows and
 * v - PAD columns: both kernels run along whole planes, apart from the few elements
 * where a shifted row wraps into its neighbour, so that the short rows of small maps
 * cost no more than long ones. Otherwise (stride 2) they run row by row: a row of a
 * tap is every STRIDE-th pixel of an input row, with zeros where it leaves the image.
 *
 * (col2im runs on cl/im2col.cl on every device: the CPU gather this file had gave
 * zeros at the first element of some planes under PoCL, a race not yet found.) */
#include "restrict.clh"

#define TAPS (KSIZE * KSIZE)
#define SAME (STRIDE == 1 && 2 * PAD == KSIZE - 1)

static void zero_run(__global float *d, uint n)
{
    uint j = 0;
    for (; j + 16 <= n; j += 16) vstore16((float16)(0.0f), 0, d + j);
    for (; j < n; j++) d[j] = 0.0f;
}

#if SAME
/* d[j] = s[j] for j < n. */
static void copy_run(__global float *RESTRICT d, __global const float *RESTRICT s, uint n)
{
    if (n < 16) {
        for (uint j = 0; j < n; j++) d[j] = s[j];
        return;
    }
    for (uint j = 0; j + 16 <= n; j += 16) vstore16(vload16(0, s + j), 0, d + j);
    vstore16(vload16(0, s + n - 16), 0, d + n - 16);
}

/* Tap (u, v) of a plane: out[i*w + j] = in[(i + u - PAD)*w + j + v - PAD], 0 outside. */
static void im2col_tap(__global float *RESTRICT out, __global const float *RESTRICT in, int u,
                       int v, uint h, uint w)
{
    uint top = max(PAD - u, 0), bottom = max(u - PAD, 0); /* rows of zeros */
    uint left = max(PAD - v, 0), right = max(v - PAD, 0); /* columns of zeros */
    if (top + bottom >= h || left + right >= w) {
        zero_run(out, h * w);
        return;
    }
    /* One run from the first element inside to the last; the columns of zeros in
     * between, which the run copied from the neighbouring rows, set after. */
    uint first = top * w + left, last = (h - bottom) * w - right;
    zero_run(out, first);
    copy_run(out + first, in + (int)first + (u - PAD) * (int)w + v - PAD, last - first);
    zero_run(out + last, h * w - last);
    for (uint i = top; i < h - bottom; i++) {
        for (uint j = 0; j < left; j++) out[i * w + j] = 0.0f;
        for (uint j = w - right; j < w; j++) out[i * w + j] = 0.0f;
    }
}

static void im2col_plane(__global float *RESTRICT taps, uint col_rs,
                         __global const float *RESTRICT in, uint h, uint w, uint oh, uint ow)
{
    for (int u = 0; u < KSIZE; u++)
        for (int v = 0; v < KSIZE; v++)
            im2col_tap(taps + (ulong)(u * KSIZE + v) * col_rs, in, u, v, h, w);
}

#else /* !SAME: row by row */

/* d[j] = s[j * STRIDE] for j < n (reading nothing past s[(n - 1) * STRIDE]). */
static void gather_run(__global float *RESTRICT d, __global const float *RESTRICT s, uint n)
{
#if STRIDE == 2
    /* The even lanes of pairs of vectors; the last vector takes the odd lanes of
     * pairs loaded one float earlier, so as to end on s[2n - 2] (it starts at
     * n - W >= 1, so the loads start inside). */
    if (n > 16) {
        for (uint j = 0; j + 16 < n; j += 16) {
            float16 a = vload16(0, s + 2 * j), b = vload16(0, s + 2 * j + 16);
            vstore16((float16)(a.even, b.even), 0, d + j);
        }
        uint j = n - 16;
        float16 a = vload16(0, s + 2 * j - 1), b = vload16(0, s + 2 * j + 15);
        vstore16((float16)(a.odd, b.odd), 0, d + j);
        return;
    }
    if (n > 8) {
        vstore8(vload16(0, s).even, 0, d);
        vstore8(vload16(0, s + 2 * (n - 8) - 1).odd, 0, d + n - 8);
        return;
    }
    if (n > 4) {
        vstore4(vload8(0, s).even, 0, d);
        vstore4(vload8(0, s + 2 * (n - 4) - 1).odd, 0, d + n - 4);
        return;
    }
#endif
    for (uint j = 0; j < n; j++) d[j] = s[j * STRIDE];
}

/* The output columns [*lo, *hi) of tap column v that read inside a row of w pixels:
 * 0 <= j * STRIDE + v - PAD < w. */
static void inside_columns(int v, uint w, uint ow, uint *lo, uint *hi)
{
    int first = PAD - v, last = (int)w - 1 + PAD - v; /* the range of j * STRIDE */
    uint l = first > 0 ? (uint)(first + STRIDE - 1) / STRIDE : 0;
    uint h = last < 0 ? 0 : min(ow, (uint)last / STRIDE + 1);
    *hi = h;
    *lo = min(l, h);
}

static void im2col_plane(__global float *RESTRICT taps, uint col_rs,
                         __global const float *RESTRICT in, uint h, uint w, uint oh, uint ow)
{
    for (int u = 0; u < KSIZE; u++)
        for (int v = 0; v < KSIZE; v++) {
            __global float *out = taps + (ulong)(u * KSIZE + v) * col_rs;
            uint lo, hi;
            inside_columns(v, w, ow, &lo, &hi);
            int iy = u - PAD;
            for (uint i = 0; i < oh; i++, out += ow, iy += STRIDE) {
                if (iy < 0 || iy >= (int)h || lo == hi) {
                    zero_run(out, ow);
                    continue;
                }
                zero_run(out, lo);
                gather_run(out + lo, in + iy * (int)w + (int)(lo * STRIDE) + v - PAD, hi - lo);
                zero_run(out + hi, ow - hi);
            }
        }
}

#endif

/* Grid (c, ns), work-groups (1, 1): the KSIZE*KSIZE planes of channel ch of sample s,
 * each a run of oh*ow floats at col[col_off + s*col_ss + r*col_rs],
 * r = (ch*KSIZE + u)*KSIZE + v. */
__kernel void im2col(__global const float *x, uint x_off, __global float *col, uint col_off,
                     uint ns, uint c, uint h, uint w, uint oh, uint ow, uint col_ss,
                     uint col_rs)
{
    uint ch = get_global_id(0), s = get_global_id(1);
    if (ch >= c || s >= ns) return;
    im2col_plane(col + col_off + (ulong)s * col_ss + (ulong)ch * TAPS * col_rs, col_rs,
                 x + x_off + ((ulong)s * c + ch) * h * w, h, w, oh, ow);
}
