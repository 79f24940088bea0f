/* im2col and col2im for CPU devices (PoCL): the same matrices, arguments and build
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
 * col2im gathers: each element of x sums, taps in a fixed order, the column entries
 * im2col copied from it, then adds beta * x (beta == 0 never reads x). The sum is
 * deterministic and each element written once, by one work-item. Where a run of
 * vectors does not end on a whole vector, its last vector overlaps the one before:
 * stores that rewrite the same values (col2im computes that vector first, from the
 * old x, and stores it last). */
#include "restrict.clh"
#include "vector16.clh"

#define TAPS (KSIZE * KSIZE)
#define SAME (STRIDE == 1 && 2 * PAD == KSIZE - 1)

static void zero_run(__global float *d, uint n)
{
    uint j = 0;
    for (; j + 16 <= n; j += 16) vstore16((float16)(0.0f), 0, d + j);
    for (; j < n; j++) d[j] = 0.0f;
}

/* x[q] = sum + beta * x[q], not reading x when beta is 0. */
static void store_sum(__global float *x, float sum, float beta)
{
    *x = beta != 0.0f ? sum + beta * *x : sum;
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

/* Element q = iy*w + ix of the plane: col_uv[q + (PAD - u)*w + PAD - v] over the taps
 * that read it. */
static float col2im_at(__global const float *taps, uint col_rs, uint q, uint h, uint w)
{
    int iy = (int)(q / w), ix = (int)(q % w);
    float sum = 0.0f;
    for (int u = 0; u < KSIZE; u++) {
        int i = iy + PAD - u;
        if (i < 0 || i >= (int)h) continue;
        for (int v = 0; v < KSIZE; v++) {
            int j = ix + PAD - v;
            if (j >= 0 && j < (int)w) sum += taps[(u * KSIZE + v) * col_rs + i * w + j];
        }
    }
    return sum;
}

/* Elements q0 .. q0 + 15 (ix0 = q0 % w) in rows that every tap row reads, far enough
 * from the plane's ends that every load stays inside it; the taps of a column that
 * does not read the element add a zero. */
static float16 col2im_at16(__global const float *taps, uint col_rs, uint q0, uint ix0, uint w)
{
    int16 ix = (int)ix0 + (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    while (any(ix >= (int)w)) ix = select(ix, ix - (int)w, ix >= (int)w);
    float16 sum = (float16)(0.0f);
#pragma unroll
    for (int u = 0; u < KSIZE; u++)
#pragma unroll
        for (int v = 0; v < KSIZE; v++) {
            int shift = (PAD - u) * (int)w + PAD - v;
            float16 t = vload16(0, taps + (u * KSIZE + v) * col_rs + (int)q0 + shift);
            int16 inside = ix + (PAD - v) >= 0 && ix + (PAD - v) < (int)w;
            sum += select((float16)(0.0f), t, inside);
        }
    return sum;
}

static void col2im_plane(__global float *plane, __global const float *taps, uint col_rs,
                         uint h, uint w, uint oh, uint ow, float beta)
{
    /* Vectors from row PAD, column PAD to row h-1-PAD, column w-1-PAD; elements on
     * their own before and after. */
    /* (max, not n > qa ? n - qa : 0, which LLVM makes a saturating subtraction that
     * Oclgrind 21.10 cannot run) */
    uint n = h * w, qa = PAD * (w + 1), qb = (uint)max((int)n - (int)qa, 0), q = 0;
    if (qb >= qa + 16) {
        for (; q < qa; q++) store_sum(plane + q, col2im_at(taps, col_rs, q, h, w), beta);
        uint qt = qb - 16, ix0 = qa % w;
        float16 tail = col2im_at16(taps, col_rs, qt, qt % w, w);
        if (beta != 0.0f) tail += beta * vload16(0, plane + qt);
        for (; q < qt; q += 16) {
            float16 sum = col2im_at16(taps, col_rs, q, ix0, w);
            if (beta != 0.0f) sum += beta * vload16(0, plane + q);
            vstore16(sum, 0, plane + q);
            for (ix0 += 16; ix0 >= w; ix0 -= w) {}
        }
        vstore16(tail, 0, plane + qt);
        q = qb;
    }
    for (; q < n; q++) store_sum(plane + q, col2im_at(taps, col_rs, q, h, w), beta);
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

/* Column ix of a row of x: the column entries over the taps that read it (tap_row[u]:
 * the output row from which tap row u reads this row, or -1). */
static float col2im_row_at(__global const float *taps, uint col_rs, const int *tap_row, uint ix,
                           uint ow)
{
    float sum = 0.0f;
    for (int u = 0; u < KSIZE; u++) {
        if (tap_row[u] < 0) continue;
        for (int v = 0; v < KSIZE; v++) {
            int tx = (int)ix + PAD - v;
            if (tx >= 0 && tx % STRIDE == 0 && tx / STRIDE < (int)ow)
                sum += taps[(u * KSIZE + v) * col_rs + tap_row[u] * ow + tx / STRIDE];
        }
    }
    return sum;
}

#if STRIDE == 2
/* Tap column v reads x column 2m + p (p = 0, 1) into output column m + OFFSET(p, v)
 * when FEEDS(p, v). */
#define FEEDS(p, v) ((((p) + PAD - (v)) & 1) == 0)
#define OFFSET(p, v) (((p) + PAD - (v)) / 2)

/* Columns 2m .. 2m + 2W - 1 of a row of x (col2im_row_at's sums, in its order) from
 * W-wide loads at output columns m + OFFSET .. m + OFFSET + W - 1, inside the row. */
#define COL2IM_PAIRS(W, W2)                                                                \
    static float##W2 col2im_pairs##W(__global const float *taps, uint col_rs,             \
                                     const int *tap_row, uint ow, int m)                  \
    {                                                                                     \
        float##W even = (float##W)(0.0f), odd = (float##W)(0.0f);                         \
        _Pragma("unroll") for (int u = 0; u < KSIZE; u++) {                               \
            if (tap_row[u] < 0) continue;                                                 \
            _Pragma("unroll") for (int v = 0; v < KSIZE; v++) {                           \
                __global const float *r =                                                 \
                    taps + (u * KSIZE + v) * col_rs + tap_row[u] * ow + m;                \
                if (FEEDS(0, v)) even += vload##W(0, r + OFFSET(0, v));                   \
                if (FEEDS(1, v)) odd += vload##W(0, r + OFFSET(1, v));                    \
            }                                                                             \
        }                                                                                 \
        float##W2 out;                                                                    \
        out.even = even;                                                                  \
        out.odd = odd;                                                                    \
        return out;                                                                       \
    }
COL2IM_PAIRS(8, 16)
COL2IM_PAIRS(4, 8)

/* The last m a pair of W-wide vectors may start at in a row, or -1 when none fits: the
 * loads must stay below output column ow, the stores (2m .. 2m + 2W - 1) below
 * column w. (A row narrower than 2W has no pair: C's division rounds -1 / 2 up to 0,
 * which once stored one element past the row, into the next plane.) */
static int last_pair(int W, uint w, uint ow)
{
    int reach = 0; /* the largest OFFSET */
    for (int v = 0; v < KSIZE; v++)
        for (int p = 0; p < 2; p++)
            if (FEEDS(p, v)) reach = max(reach, OFFSET(p, v));
    if ((int)w < 2 * W) return -1;
    return max(-1, min((int)ow - reach - W, ((int)w - 2 * W) / 2));
}

/* Columns 0 .. 2 * last + 2W - 1 of a row of x by pairs of W-wide vectors. */
#define ROW_PAIRS(W, W2, last)                                                             \
    {                                                                                     \
        float##W2 tail = col2im_pairs##W(taps, col_rs, tap_row, ow, last);                \
        if (beta != 0.0f) tail += beta * vload##W2(0, row + 2 * last);                    \
        for (int m = 0; m < last; m += W) {                                               \
            float##W2 sum = col2im_pairs##W(taps, col_rs, tap_row, ow, m);                \
            if (beta != 0.0f) sum += beta * vload##W2(0, row + 2 * m);                    \
            vstore##W2(sum, 0, row + 2 * m);                                              \
        }                                                                                 \
        vstore##W2(tail, 0, row + 2 * last);                                              \
        return 2 * (uint)last + 2 * W;                                                    \
    }

/* The row's columns from 0 that vectors give, and so the first column left. */
static uint col2im_row_vectors(__global float *row, __global const float *taps, uint col_rs,
                               const int *tap_row, uint ow, int last8, int last4, float beta)
{
    if (last8 >= 0) ROW_PAIRS(8, 16, last8)
    if (last4 >= 0) ROW_PAIRS(4, 8, last4)
    return 0;
}
#endif

static void col2im_plane(__global float *plane, __global const float *taps, uint col_rs,
                         uint h, uint w, uint oh, uint ow, float beta)
{
#if STRIDE == 2
    int last8 = last_pair(8, w, ow), last4 = last_pair(4, w, ow);
#endif
    for (uint iy = 0; iy < h; iy++) {
        __global float *row = plane + iy * w;
        int tap_row[KSIZE];
        for (int u = 0; u < KSIZE; u++) {
            int ty = (int)iy + PAD - u; /* = i * STRIDE for output row i */
            tap_row[u] = ty >= 0 && ty % STRIDE == 0 && ty / STRIDE < (int)oh ? ty / STRIDE : -1;
        }
        uint ix = 0;
#if STRIDE == 2
        ix = col2im_row_vectors(row, taps, col_rs, tap_row, ow, last8, last4, beta);
#endif
        for (; ix < w; ix++)
            store_sum(row + ix, col2im_row_at(taps, col_rs, tap_row, ix, ow), beta);
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

/* Grid (c, ns), work-groups (1, 1): channel ch of sample s of
 * x = col2im(col) + beta * x. */
__kernel void col2im(__global const float *col, uint col_off, __global float *x, uint x_off,
                     uint ns, uint c, uint h, uint w, uint oh, uint ow, uint col_ss,
                     uint col_rs, float beta)
{
    uint ch = get_global_id(0), s = get_global_id(1);
    if (ch >= c || s >= ns) return;
    col2im_plane(x + x_off + ((ulong)s * c + ch) * h * w,
                 col + col_off + (ulong)s * col_ss + (ulong)ch * TAPS * col_rs, col_rs, h, w,
                 oh, ow, beta);
}
