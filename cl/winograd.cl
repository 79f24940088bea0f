/* Winograd F(2x2, 3x3) transforms (src/conv/conv2d_winograd.c), for 3x3 convolutions
 * with padding 1 and stride 1.
 *
 * With the matrices
 *   B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
 *         [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
 *         [0 -1  1  0]         [1/2 -1/2  1/2]
 *         [0  1  0 -1]         [ 0    0    1 ]
 * a 2x2 output tile is y = A^T [U (.) V] A with U = G g G^T (the 3x3 filter g) and
 * V = B^T d B (the 4x4 input tile d, read at rows 2*ty-1 .. 2*ty+2 and columns
 * 2*tx-1 .. 2*tx+2, 0 outside the image); summed over input channels, the 16
 * element-wise products become 16 matrix products, one per position p = 4*i + j of
 * the 4x4 transformed tile. The gradients: dU = (A dY A^T) (.) V summed over tiles,
 * dg = G^T dU G.
 *
 * Layouts (row-major; the matrices of consecutive positions ps floats apart, ps chosen
 * by the host):
 *   U   [16][rows][cols]   transformed filters, a [rows x cols] matrix per position
 *   V   [16][c][ld]        transformed tiles of c channels: tile t = (s*th + ty)*tw + tx
 *                          of a chunk of ns samples at column t < T = ns*th*tw of a row
 *                          of ld >= T floats (M and dM alike)
 *   V^T [16][T][ld]        the same transposed, ld >= c (winograd_input_t_cpu)
 * so that each position's product has contiguous operands.
 *
 * Two families of image kernels, the same results:
 *   - portable (GPUs): a work-item per tile and plane, in one dimension, neighbouring
 *     work-items on neighbouring tiles, in work-groups of 64;
 *   - _cpu (PoCL): a work-item per channel (winograd_input_t_cpu: per tile row
 *     and sample) in a work-group of its own, running along tile rows LANES tiles
 *     at a time in floatLANES vectors (build
 *     option -DLANES=16, 8 or 4, chosen by the host from tw). The tiles of a channel
 *     are stored in one sweep with whole vectors: the lanes past a tile row land on
 *     the tiles that follow, which the same work-item writes later, or, after the
 *     last tile, in the LANES - 1 floats of slack that ld keeps past T;
 *     winograd_input_cpu then clears the row from T to ld, so that the products
 *     can run over whole panels of columns (the columns past T of M are dropped).
 *
 * Small loops over private arrays carry #pragma unroll: without it PoCL 3.1 left those
 * of the filter transform rolled, about 8x slower. */
#include "vector16.clh"

/* The transforms, for scalars or vectors alike: */
#define BT4(o, d0, d1, d2, d3) /* o = B^T d */ \
    o[0] = d0 - d2; o[1] = d1 + d2; o[2] = d2 - d1; o[3] = d1 - d3;
#define AT4(o, m0, m1, m2, m3) /* o = A^T m */ \
    o[0] = m0 + m1 + m2; o[1] = m1 - m2 - m3;
#define A2(o, g0, g1) /* o = A g */ \
    o[0] = g0; o[1] = g0 + g1; o[2] = g0 - g1; o[3] = -(g1);
#define G3(o, g0, g1, g2) /* o = G g */ \
    o[0] = g0; o[1] = 0.5f * (g0 + g1 + g2); o[2] = 0.5f * (g0 - g1 + g2); o[3] = g2;
#define GT4(o, u0, u1, u2, u3) /* o = G^T u */ \
    o[0] = u0 + 0.5f * (u1 + u2); o[1] = 0.5f * (u1 - u2); o[2] = 0.5f * (u1 + u2) + u3;

/* ---- filters: U [16][rows][cols], positions ps floats apart ----
 * winograd_filter: U [16][c_out][c_in] = G g G^T for g = wt[o][c] (the forward's).
 * winograd_filter_flip: U [16][c_in][c_out] for wt[o][c] turned by 180 degrees (the
 * backward-data's: dx is the forward convolution of dy with these).
 * winograd_filter_grad: dw = G^T dU G + beta * dw for dU [16][c_out][c_in], the
 * adjoint of winograd_filter (beta 0 never reads dw).
 * Portable kernels run a work-item per filter, c_in fastest; the _cpu ones a
 * work-item per row of U (dU), grid (rows), along the row, so that the 16 positions
 * are written (read) in order. The flip is a separate kernel rather than an argument:
 * PoCL ran the CPU loop 3 to 7 times slower with the choice made at run time. */

/* o[4*i + j] = (G g G^T)[i][j] for the 3x3 filter at src, turned by 180 degrees when
 * flip (a constant after inlining). */
static void filter_transform(__global const float *src, int flip, float *o)
{
    float g[9];
    if (flip) {
        #pragma unroll
        for (int k = 0; k < 9; k++) g[k] = src[8 - k];
    } else {
        #pragma unroll
        for (int k = 0; k < 9; k++) g[k] = src[k];
    }
    float t[12], r[4]; /* t = G g (4 x 3), then its rows times G^T */
    G3(r, g[0], g[3], g[6]); t[0] = r[0]; t[3] = r[1]; t[6] = r[2]; t[9] = r[3];
    G3(r, g[1], g[4], g[7]); t[1] = r[0]; t[4] = r[1]; t[7] = r[2]; t[10] = r[3];
    G3(r, g[2], g[5], g[8]); t[2] = r[0]; t[5] = r[1]; t[8] = r[2]; t[11] = r[3];
    #pragma unroll
    for (int i = 0; i < 4; i++) {
        G3(r, t[3 * i], t[3 * i + 1], t[3 * i + 2]);
        #pragma unroll
        for (int j = 0; j < 4; j++) o[4 * i + j] = r[j];
    }
}

/* dst[3*i + j] = (G^T dU G)[i][j] + beta * dst for dU[p] = du[p * ps]. */
static void filter_grad_transform(__global const float *du, size_t ps, float beta,
                                  __global float *dst)
{
    float u[16], q[12], r[4], o[9]; /* q = G^T dU (3 x 4), then its rows times G */
    #pragma unroll
    for (int p = 0; p < 16; p++) u[p] = du[p * ps];
    #pragma unroll
    for (int k = 0; k < 4; k++) {
        GT4(r, u[k], u[4 + k], u[8 + k], u[12 + k]);
        #pragma unroll
        for (int i = 0; i < 3; i++) q[4 * i + k] = r[i];
    }
    #pragma unroll
    for (int i = 0; i < 3; i++) {
        GT4(r, q[4 * i], q[4 * i + 1], q[4 * i + 2], q[4 * i + 3]);
        #pragma unroll
        for (int j = 0; j < 3; j++) o[3 * i + j] = r[j];
    }
    if (beta != 0.0f) {
        #pragma unroll
        for (int k = 0; k < 9; k++) dst[k] = o[k] + beta * dst[k];
    } else {
        #pragma unroll
        for (int k = 0; k < 9; k++) dst[k] = o[k];
    }
}

__kernel void winograd_filter(__global const float *wt, uint wt_off, __global float *u,
                              uint u_off, uint c_out, uint c_in, uint ps)
{
    size_t pair = get_global_id(0);
    if (pair >= (size_t)c_out * c_in) return;
    uint ci = pair % c_in, co = pair / c_in;
    float o[16];
    filter_transform(wt + wt_off + ((size_t)co * c_in + ci) * 9, 0, o);
    #pragma unroll
    for (int p = 0; p < 16; p++) u[u_off + p * ps + (size_t)co * c_in + ci] = o[p];
}

__kernel void winograd_filter_flip(__global const float *wt, uint wt_off, __global float *u,
                                   uint u_off, uint c_out, uint c_in, uint ps)
{
    size_t pair = get_global_id(0);
    if (pair >= (size_t)c_out * c_in) return;
    uint ci = pair % c_in, co = pair / c_in;
    float o[16];
    filter_transform(wt + wt_off + ((size_t)co * c_in + ci) * 9, 1, o);
    #pragma unroll
    for (int p = 0; p < 16; p++) u[u_off + p * ps + (size_t)ci * c_out + co] = o[p];
}

__kernel void winograd_filter_grad(__global const float *du, uint du_off, __global float *dw,
                                   uint dw_off, uint c_out, uint c_in, uint ps, float beta)
{
    size_t pair = get_global_id(0);
    if (pair >= (size_t)c_out * c_in) return;
    uint ci = pair % c_in, co = pair / c_in;
    filter_grad_transform(du + du_off + (size_t)co * c_in + ci, ps, beta,
                          dw + dw_off + ((size_t)co * c_in + ci) * 9);
}

__kernel void winograd_filter_cpu(__global const float *wt, uint wt_off, __global float *u,
                                  uint u_off, uint c_out, uint c_in, uint ps)
{
    uint co = get_global_id(0);
    if (co >= c_out) return;
    __global float *out = u + u_off + (size_t)co * c_in;
    for (uint ci = 0; ci < c_in; ci++) {
        float o[16];
        filter_transform(wt + wt_off + ((size_t)co * c_in + ci) * 9, 0, o);
        #pragma unroll
        for (int p = 0; p < 16; p++) out[p * ps + ci] = o[p];
    }
}

__kernel void winograd_filter_flip_cpu(__global const float *wt, uint wt_off,
                                       __global float *u, uint u_off, uint c_out, uint c_in,
                                       uint ps)
{
    uint ci = get_global_id(0);
    if (ci >= c_in) return;
    __global float *out = u + u_off + (size_t)ci * c_out;
    for (uint co = 0; co < c_out; co++) {
        float o[16];
        filter_transform(wt + wt_off + ((size_t)co * c_in + ci) * 9, 1, o);
        #pragma unroll
        for (int p = 0; p < 16; p++) out[p * ps + co] = o[p];
    }
}

__kernel void winograd_filter_grad_cpu(__global const float *du, uint du_off,
                                       __global float *dw, uint dw_off, uint c_out, uint c_in,
                                       uint ps, float beta)
{
    uint co = get_global_id(0);
    if (co >= c_out) return;
    for (uint ci = 0; ci < c_in; ci++)
        filter_grad_transform(du + du_off + (size_t)co * c_in + ci, ps, beta,
                              dw + dw_off + ((size_t)co * c_in + ci) * 9);
}

/* ---- images, portable: a work-item per tile and plane z = s*c + ch, tiles fastest ---- */

/* V = B^T d B for the planes of x [ns*c][h][w]. */
__kernel void winograd_input(__global const float *x, uint x_off, __global float *v, uint v_off,
                             uint ns, uint c, uint h, uint w, uint th, uint tw, uint ld, uint ps)
{
    size_t tile = get_global_id(0);
    if (tile >= (size_t)ns * c * th * tw) return;
    uint tx = tile % tw, ty = tile / tw % th, z = tile / tw / th;
    uint s = z / c, ch = z % c;
    int y0 = 2 * (int)ty - 1, x0 = 2 * (int)tx - 1;
    __global const float *plane = x + x_off + (size_t)z * h * w;
    float d[4][4];
    #pragma unroll
    for (int r = 0; r < 4; r++) {
        int iy = y0 + r;
        int row_in = iy >= 0 && iy < (int)h;
        #pragma unroll
        for (int k = 0; k < 4; k++) {
            int ix = x0 + k;
            d[r][k] = row_in && ix >= 0 && ix < (int)w ? plane[iy * (int)w + ix] : 0.0f;
        }
    }
    float t[4][4], o[4]; /* t = B^T d, then its rows times B */
    #pragma unroll
    for (int k = 0; k < 4; k++) {
        BT4(o, d[0][k], d[1][k], d[2][k], d[3][k]);
        #pragma unroll
        for (int i = 0; i < 4; i++) t[i][k] = o[i];
    }
    __global float *out = v + v_off + (size_t)ch * ld + (s * th + ty) * tw + tx;
    #pragma unroll
    for (int i = 0; i < 4; i++) {
        BT4(o, t[i][0], t[i][1], t[i][2], t[i][3]);
        #pragma unroll
        for (int j = 0; j < 4; j++) out[(4 * i + j) * ps] = o[j];
    }
}

/* y = A^T M A + beta * y for the planes of y [ns*c][h][w], from M [16][c][ld]; the
 * outputs of edge tiles past h or w are dropped. beta 0 never reads y. */
__kernel void winograd_output(__global const float *m, uint m_off, __global float *y, uint y_off,
                              uint ns, uint c, uint h, uint w, uint th, uint tw, uint ld,
                              uint ps, float beta)
{
    size_t tile = get_global_id(0);
    if (tile >= (size_t)ns * c * th * tw) return;
    uint tx = tile % tw, ty = tile / tw % th, z = tile / tw / th;
    uint s = z / c, ch = z % c;
    __global const float *in = m + m_off + (size_t)ch * ld + (s * th + ty) * tw + tx;
    float r[2][4], o[4]; /* r = A^T M, then its rows times A */
    #pragma unroll
    for (int k = 0; k < 4; k++) {
        AT4(o, in[k * ps], in[(4 + k) * ps], in[(8 + k) * ps],
            in[(12 + k) * ps]);
        r[0][k] = o[0];
        r[1][k] = o[1];
    }
    __global float *plane = y + y_off + (size_t)z * h * w;
    for (uint i = 0; i < 2 && 2 * ty + i < h; i++) {
        AT4(o, r[i][0], r[i][1], r[i][2], r[i][3]);
        for (uint j = 0; j < 2 && 2 * tx + j < w; j++) {
            __global float *at = plane + (2 * ty + i) * w + 2 * tx + j;
            *at = beta != 0.0f ? o[j] + beta * *at : o[j];
        }
    }
}

/* dM = A dY A^T for the planes of dy [ns*c][h][w] (the adjoint of winograd_output: dY
 * is the 2x2 output tile, 0 past h or w), into dM [16][c][ld]. */
__kernel void winograd_output_grad(__global const float *dy, uint dy_off, __global float *dm,
                                   uint dm_off, uint ns, uint c, uint h, uint w, uint th,
                                   uint tw, uint ld, uint ps)
{
    size_t tile = get_global_id(0);
    if (tile >= (size_t)ns * c * th * tw) return;
    uint tx = tile % tw, ty = tile / tw % th, z = tile / tw / th;
    uint s = z / c, ch = z % c;
    __global const float *plane = dy + dy_off + (size_t)z * h * w;
    float g[2][2];
    for (uint i = 0; i < 2; i++)
        for (uint j = 0; j < 2; j++) {
            uint iy = 2 * ty + i, ix = 2 * tx + j;
            g[i][j] = iy < h && ix < w ? plane[iy * w + ix] : 0.0f;
        }
    float r[4][2], o[4]; /* r = A dY, then its rows times A^T */
    #pragma unroll
    for (int j = 0; j < 2; j++) {
        A2(o, g[0][j], g[1][j]);
        #pragma unroll
        for (int i = 0; i < 4; i++) r[i][j] = o[i];
    }
    __global float *out = dm + dm_off + (size_t)ch * ld + (s * th + ty) * tw + tx;
    #pragma unroll
    for (int i = 0; i < 4; i++) {
        A2(o, r[i][0], r[i][1]);
        #pragma unroll
        for (int j = 0; j < 4; j++) out[(4 * i + j) * ps] = o[j];
    }
}

/* ---- images, CPU: a work-item per channel, LANES tiles of a tile row at a time ---- */
#ifndef LANES
#define LANES 16
#endif
#if LANES == 16
typedef float16 floatL;
typedef int16 intL;
#define LANE_IDS (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
#define SHIFT_UP (uint16)(16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)
#define SHIFT_DOWN (uint16)(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
#define VLOADL vload16
#define VSTOREL vstore16
#define EVENS(a, b) ((float16)((a).even, (b).even))
#define ODDS(a, b) ((float16)((a).odd, (b).odd))
#define MASK_LO (uint16)(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define MASK_HI (uint16)(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
#elif LANES == 8
typedef float8 floatL;
typedef int8 intL;
#define LANE_IDS (int8)(0, 1, 2, 3, 4, 5, 6, 7)
#define SHIFT_UP (uint8)(8, 0, 1, 2, 3, 4, 5, 6)
#define SHIFT_DOWN (uint8)(1, 2, 3, 4, 5, 6, 7, 8)
#define VLOADL vload8
#define VSTOREL vstore8
#define EVENS(a, b) ((float8)((a).even, (b).even))
#define ODDS(a, b) ((float8)((a).odd, (b).odd))
#define MASK_LO (uint8)(0, 8, 1, 9, 2, 10, 3, 11)
#define MASK_HI (uint8)(4, 12, 5, 13, 6, 14, 7, 15)
#elif LANES == 4
typedef float4 floatL;
typedef int4 intL;
#define LANE_IDS (int4)(0, 1, 2, 3)
#define SHIFT_UP (uint4)(4, 0, 1, 2)
#define SHIFT_DOWN (uint4)(1, 2, 3, 4)
#define VLOADL vload4
#define VSTOREL vstore4
#define EVENS(a, b) ((float4)((a).even, (b).even))
#define ODDS(a, b) ((float4)((a).odd, (b).odd))
#define MASK_LO (uint4)(0, 4, 1, 5)
#define MASK_HI (uint4)(2, 6, 3, 7)
#else
#error "LANES must be 16, 8 or 4"
#endif

/* Columns c0 + 2*l (even) and c0 + 2*l + 1 (odd), l < LANES, of an image row of w
 * columns (c0 >= 0), 0 past w. `avail` floats can be read from row + c0 (the
 * chunk's end): when the row ends first, whole vectors are read and the lanes past
 * w cleared; when the chunk ends first, element by element. */
static void load_pairs(__global const float *row, int c0, int w, size_t avail, floatL *even,
                       floatL *odd)
{
    floatL a, b;
    if (avail >= 2 * LANES) {
        a = VLOADL(0, row + c0), b = VLOADL(0, row + c0 + LANES);
    } else {
        float buf[2 * LANES];
        for (int j = 0; j < 2 * LANES; j++) buf[j] = j < (int)avail ? row[c0 + j] : 0.0f;
        a = VLOADL(0, buf), b = VLOADL(0, buf + LANES);
    }
    *even = EVENS(a, b);
    *odd = ODDS(a, b);
    if (c0 + 2 * LANES > w) {
        intL col = (intL)(c0) + 2 * LANE_IDS;
        *even = select((floatL)(0.0f), *even, col < (intL)(w));
        *odd = select((floatL)(0.0f), *odd, col + 1 < (intL)(w));
    }
}

/* v[4*i + j] = (B^T d B)[i][j] for the tiles tx .. tx+LANES-1 of tile row ty of a
 * plane (end: the chunk's end). */
static void input_block(__global const float *plane, __global const float *end, uint ty,
                        uint tx, uint h, uint w, floatL *v)
{
    floatL d[4][4], t[4][4], o[4];
    #pragma unroll
    for (int r = 0; r < 4; r++) {
        int iy = 2 * (int)ty - 1 + r, c0 = 2 * (int)tx;
        if (iy < 0 || iy >= (int)h) {
            d[r][0] = d[r][1] = d[r][2] = d[r][3] = 0.0f;
            continue;
        }
        __global const float *row = plane + iy * w;
        load_pairs(row, c0, w, end - (row + c0), &d[r][1], &d[r][2]);
        /* columns c0 + 2l - 1 and c0 + 2l + 2: the odd and even ones shifted by a
         * lane, with the columns just outside the block */
        float left = c0 > 0 ? row[c0 - 1] : 0.0f;
        float right = c0 + 2 * LANES < (int)w ? row[c0 + 2 * LANES] : 0.0f;
        d[r][0] = shuffle2(d[r][2], (floatL)(left), SHIFT_UP);
        d[r][3] = shuffle2(d[r][1], (floatL)(right), SHIFT_DOWN);
    }
    #pragma unroll
    for (int k = 0; k < 4; k++) {
        BT4(o, d[0][k], d[1][k], d[2][k], d[3][k]);
        #pragma unroll
        for (int i = 0; i < 4; i++) t[i][k] = o[i];
    }
    #pragma unroll
    for (int i = 0; i < 4; i++) {
        BT4(o, t[i][0], t[i][1], t[i][2], t[i][3]);
        #pragma unroll
        for (int j = 0; j < 4; j++) v[4 * i + j] = o[j];
    }
}

/* V = B^T d B, channel ch of every sample of x [ns][c][h][w], into V [16][c][ld]. */
__kernel void winograd_input_cpu(__global const float *x, uint x_off, __global float *v,
                                 uint v_off, uint ns, uint c, uint h, uint w, uint th, uint tw,
                                 uint ld, uint ps)
{
    uint ch = get_global_id(0);
    if (ch >= c) return;
    __global float *chan = v + v_off + (size_t)ch * ld;
    __global const float *end = x + x_off + (size_t)ns * c * h * w;
    for (uint s = 0; s < ns; s++) {
        __global const float *plane = x + x_off + ((size_t)s * c + ch) * h * w;
        for (uint ty = 0; ty < th; ty++)
            for (uint tx = 0; tx < tw; tx += LANES) {
                __global float *out = chan + (s * th + ty) * tw + tx;
                floatL o[16];
                input_block(plane, end, ty, tx, h, w, o);
                #pragma unroll
                for (int p = 0; p < 16; p++) VSTOREL(o[p], 0, out + p * ps);
            }
    }
    /* zeros past the tiles: the products may run over whole panels of the row */
    for (uint t = ns * th * tw; t < ld; t++) {
        #pragma unroll
        for (int p = 0; p < 16; p++) chan[p * ps + t] = 0.0f;
    }
}

/* The same into the transposed layout V^T [16][T][ld] (tile t of channel ch at
 * t*ld + ch), tile row ty of sample s (grid (th, ns)): for each block of tiles, channel
 * after channel, a float at a time, so that the 16 x LANES rows of V^T being filled
 * stay in the cache until they are whole. */
__kernel void winograd_input_t_cpu(__global const float *x, uint x_off, __global float *v,
                                   uint v_off, uint ns, uint c, uint h, uint w, uint th, uint tw,
                                   uint ld, uint ps)
{
    uint ty = get_global_id(0), s = get_global_id(1);
    if (ty >= th || s >= ns) return;
    __global const float *end = x + x_off + (size_t)ns * c * h * w;
    __global const float *planes = x + x_off + (size_t)s * c * h * w;
    __global float *first = v + v_off + (size_t)((s * th + ty) * tw) * ld;
    for (uint tx = 0; tx < tw; tx += LANES) {
        uint n = min((uint)LANES, tw - tx);
        __global float *out = first + (size_t)tx * ld;
        for (uint ch = 0; ch < c; ch++) {
            floatL o[16];
            input_block(planes + (size_t)ch * h * w, end, ty, tx, h, w, o);
            #pragma unroll
            for (int p = 0; p < 16; p++) {
                float lanes[LANES];
                VSTOREL(o[p], 0, lanes);
                for (uint l = 0; l < n; l++) out[p * ps + l * ld + ch] = lanes[l];
            }
        }
    }
}

/* dM = A dY A^T, channel ch of every sample of dy [ns][c][h][w]. */
__kernel void winograd_output_grad_cpu(__global const float *dy, uint dy_off,
                                       __global float *dm, uint dm_off, uint ns, uint c, uint h,
                                       uint w, uint th, uint tw, uint ld, uint ps)
{
    uint ch = get_global_id(0);
    if (ch >= c) return;
    __global float *chan = dm + dm_off + (size_t)ch * ld;
    __global const float *end = dy + dy_off + (size_t)ns * c * h * w;
    for (uint s = 0; s < ns; s++) {
        __global const float *plane = dy + dy_off + ((size_t)s * c + ch) * h * w;
        for (uint ty = 0; ty < th; ty++)
            for (uint tx = 0; tx < tw; tx += LANES) {
                __global float *out = chan + (s * th + ty) * tw + tx;
                floatL g[2][2], r[4][2], o[4];
                #pragma unroll
                for (int i = 0; i < 2; i++) {
                    int iy = 2 * (int)ty + i, c0 = 2 * (int)tx;
                    if (iy >= (int)h) {
                        g[i][0] = g[i][1] = 0.0f;
                        continue;
                    }
                    __global const float *row = plane + iy * w;
                    load_pairs(row, c0, w, end - (row + c0), &g[i][0], &g[i][1]);
                }
                #pragma unroll
                for (int j = 0; j < 2; j++) {
                    A2(o, g[0][j], g[1][j]);
                    #pragma unroll
                    for (int i = 0; i < 4; i++) r[i][j] = o[i];
                }
                #pragma unroll
                for (int i = 0; i < 4; i++) {
                    A2(o, r[i][0], r[i][1]);
                    #pragma unroll
                    for (int j = 0; j < 4; j++) VSTOREL(o[j], 0, out + (4 * i + j) * ps);
                }
            }
    }
}

/* y = A^T M A + beta * y, channel ch of the samples s = get_global_id(1) + k *
 * get_global_size(1) of y [ns][c][h][w] (grid (c, groups): the host takes one group
 * unless there are few channels), so that each row of M is read in order (a
 * work-item per channel and sample, reading a sample's stretch of the row, ran the
 * kernel 1.6 to 1.9 times slower at 64 to 256 channels).
 * The reads of M past a tile row's end stay inside the slack of ld. */
__kernel void winograd_output_cpu(__global const float *m, uint m_off, __global float *y,
                                  uint y_off, uint ns, uint c, uint h, uint w, uint th, uint tw,
                                  uint ld, uint ps, float beta)
{
    uint ch = get_global_id(0);
    if (ch >= c) return;
    for (uint s = get_global_id(1); s < ns; s += get_global_size(1)) {
        __global const float *in = m + m_off + (size_t)ch * ld + (size_t)s * th * tw;
        __global float *plane = y + y_off + ((size_t)s * c + ch) * h * w;
        for (uint ty = 0; ty < th; ty++)
            for (uint tx = 0; tx < tw; tx += LANES) {
                __global const float *at = in + ty * tw + tx;
                floatL r[2][4], o[4];
                #pragma unroll
                for (int k = 0; k < 4; k++) {
                    AT4(o, VLOADL(0, at + k * ps), VLOADL(0, at + (4 + k) * ps),
                        VLOADL(0, at + (8 + k) * ps), VLOADL(0, at + (12 + k) * ps));
                    r[0][k] = o[0];
                    r[1][k] = o[1];
                }
                uint cols = min((uint)(2 * LANES), w - 2 * tx); /* outputs inside the image */
                for (uint i = 0; i < 2 && 2 * ty + i < h; i++) {
                    AT4(o, r[i][0], r[i][1], r[i][2], r[i][3]);
                    floatL lo = shuffle2(o[0], o[1], MASK_LO), hi = shuffle2(o[0], o[1], MASK_HI);
                    __global float *row = plane + (2 * ty + i) * w + 2 * tx;
                    /* whole vectors while they fit in the row, then a float at a time */
                    if (cols >= LANES) {
                        if (beta != 0.0f) lo += beta * VLOADL(0, row);
                        VSTOREL(lo, 0, row);
                    }
                    if (cols == 2 * LANES) {
                        if (beta != 0.0f) hi += beta * VLOADL(0, row + LANES);
                        VSTOREL(hi, 0, row + LANES);
                        continue;
                    }
                    float buf[2 * LANES];
                    VSTOREL(lo, 0, buf);
                    VSTOREL(hi, 0, buf + LANES);
                    for (uint j = cols >= LANES ? LANES : 0; j < cols; j++)
                        row[j] = beta != 0.0f ? buf[j] + beta * row[j] : buf[j];
                }
            }
    }
}
