/* Winograd F(2x2, 3x3) and F(4x4, 3x3) transforms (src/conv/conv2d_winograd.c), for
 * 3x3 convolutions with padding 1 and stride 1; the build option -DWINO_M=2 or 4 gives
 * the output tile's side m, and the input tile's side is ALPHA = m + 2.
 *
 * F(2x2, 3x3), with the matrices
 *   B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
 *         [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
 *         [0 -1  1  0]         [1/2 -1/2  1/2]
 *         [0  1  0 -1]         [ 0    0    1 ]
 * F(4x4, 3x3) (Lavin and Gray 2016; points 0, 1, -1, 2, -2 and infinity), with
 *   B^T = [4  0 -5  0  1  0]   G = [ 1/4     0     0 ]   A^T = [1  1  1  1  1  0]
 *         [0 -4 -4  1  1  0]       [-1/6  -1/6  -1/6 ]         [0  1 -1  2 -2  0]
 *         [0  4 -4 -1  1  0]       [-1/6   1/6  -1/6 ]         [0  1  1  4  4  0]
 *         [0 -2 -1  2  1  0]       [1/24  1/12   1/6 ]         [0  1 -1  8 -8  1]
 *         [0  2 -1 -2  1  0]       [1/24 -1/12   1/6 ]
 *         [0  4  0 -5  0  1]       [  0     0     1  ]
 * an m x m output tile is y = A^T [U (.) V] A with U = G g G^T (the 3x3 filter g) and
 * V = B^T d B (the ALPHA x ALPHA input tile d, read at rows m*ty-1 .. m*ty+m and
 * columns m*tx-1 .. m*tx+m, 0 outside the image); summed over input channels, the
 * ALPHA^2 element-wise products become ALPHA^2 matrix products, one per position
 * p = ALPHA*i + j of the transformed tile. The gradients: dU = (A dY A^T) (.) V summed
 * over tiles, dg = G^T dU G.
 *
 * Layouts (row-major; the matrices of consecutive positions ps floats apart, ps chosen
 * by the host):
 *   U   [P][rows][cols]    transformed filters, a [rows x cols] matrix per position
 *                          (P = ALPHA^2 positions: 16 or 36)
 *   V   [P][c][ld]         transformed tiles of c channels: tile t = (s*th + ty)*tw + tx
 *                          of a chunk of ns samples at column t < T = ns*th*tw of a row
 *                          of ld >= T floats (M and dM alike)
 *   V^T [P][T][ld]         the same transposed, ld >= c (winograd_input_t_cpu)
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

#ifndef WINO_M
#define WINO_M 2
#endif
#define ALPHA (WINO_M + 2)
#define POSITIONS (ALPHA * ALPHA)

/* The transforms, for scalars or vectors alike, of the values X(0), X(1), ... (X a
 * function-like macro naming the operand's elements, read more than once: a private
 * array's): */
#if WINO_M == 2
#define BT(o, X) /* o = B^T d: 4 -> 4 */ \
    o[0] = X(0) - X(2); o[1] = X(1) + X(2); o[2] = X(2) - X(1); o[3] = X(1) - X(3);
#define AT(o, X) /* o = A^T m: 4 -> 2 */ \
    o[0] = X(0) + X(1) + X(2); o[1] = X(1) - X(2) - X(3);
#define AM(o, X) /* o = A g: 2 -> 4 */ \
    o[0] = X(0); o[1] = X(0) + X(1); o[2] = X(0) - X(1); o[3] = -(X(1));
#define GM(o, X) /* o = G g: 3 -> 4 */ \
    o[0] = X(0); o[1] = 0.5f * (X(0) + X(1) + X(2)); o[2] = 0.5f * (X(0) - X(1) + X(2)); \
    o[3] = X(2);
#define GT(o, X) /* o = G^T u: 4 -> 3 */ \
    o[0] = X(0) + 0.5f * (X(1) + X(2)); o[1] = 0.5f * (X(1) - X(2)); \
    o[2] = 0.5f * (X(1) + X(2)) + X(3);
#elif WINO_M == 4
#define BT(o, X) /* o = B^T d: 6 -> 6 */ \
    o[0] = 4.0f * X(0) - 5.0f * X(2) + X(4); \
    o[1] = X(3) + X(4) - 4.0f * (X(1) + X(2)); \
    o[2] = X(4) - X(3) + 4.0f * (X(1) - X(2)); \
    o[3] = X(4) - X(2) + 2.0f * (X(3) - X(1)); \
    o[4] = X(4) - X(2) + 2.0f * (X(1) - X(3)); \
    o[5] = 4.0f * X(1) - 5.0f * X(3) + X(5);
#define AT(o, X) /* o = A^T m: 6 -> 4 */ \
    o[0] = X(0) + (X(1) + X(2)) + (X(3) + X(4)); \
    o[1] = (X(1) - X(2)) + 2.0f * (X(3) - X(4)); \
    o[2] = (X(1) + X(2)) + 4.0f * (X(3) + X(4)); \
    o[3] = (X(1) - X(2)) + 8.0f * (X(3) - X(4)) + X(5);
#define AM(o, X) /* o = A g: 4 -> 6 */ \
    o[0] = X(0); \
    o[1] = (X(0) + X(2)) + (X(1) + X(3)); \
    o[2] = (X(0) + X(2)) - (X(1) + X(3)); \
    o[3] = (X(0) + 4.0f * X(2)) + 2.0f * (X(1) + 4.0f * X(3)); \
    o[4] = (X(0) + 4.0f * X(2)) - 2.0f * (X(1) + 4.0f * X(3)); \
    o[5] = X(3);
#define GM(o, X) /* o = G g: 3 -> 6 */ \
    o[0] = 0.25f * X(0); \
    o[1] = (-1.0f / 6) * (X(0) + X(1) + X(2)); \
    o[2] = (-1.0f / 6) * (X(0) - X(1) + X(2)); \
    o[3] = (1.0f / 24) * X(0) + (1.0f / 12) * X(1) + (1.0f / 6) * X(2); \
    o[4] = (1.0f / 24) * X(0) - (1.0f / 12) * X(1) + (1.0f / 6) * X(2); \
    o[5] = X(2);
#define GT(o, X) /* o = G^T u: 6 -> 3 */ \
    o[0] = 0.25f * X(0) - (1.0f / 6) * (X(1) + X(2)) + (1.0f / 24) * (X(3) + X(4)); \
    o[1] = (1.0f / 6) * (X(2) - X(1)) + (1.0f / 12) * (X(3) - X(4)); \
    o[2] = (1.0f / 6) * ((X(3) + X(4)) - (X(1) + X(2))) + X(5);
#else
#error "WINO_M must be 2 or 4"
#endif

/* ---- filters: U [P][rows][cols], positions ps floats apart ----
 * winograd_filter: U [P][c_out][c_in] = G g G^T for g = wt[o][c] (the forward's).
 * winograd_filter_flip: U [P][c_in][c_out] for wt[o][c] turned by 180 degrees (the
 * backward-data's: dx is the forward convolution of dy with these).
 * winograd_filter_grad: dw = G^T dU G + beta * dw for dU [P][c_out][c_in], the
 * adjoint of winograd_filter (beta 0 never reads dw).
 * Portable kernels run a work-item per filter, c_in fastest; the _cpu ones a
 * work-item per row of U (dU), grid (rows), along the row, so that the positions
 * are written (read) in order. The flip is a separate kernel rather than an argument:
 * PoCL ran the CPU loop 3 to 7 times slower with the choice made at run time. */

/* o[ALPHA*i + j] = (G g G^T)[i][j] for the 3x3 filter at src, turned by 180 degrees
 * when flip (a constant after inlining). */
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
    float t[ALPHA][3], r[ALPHA]; /* t = G g (ALPHA x 3), then its rows times G^T */
    #pragma unroll
    for (int c = 0; c < 3; c++) {
#define G_COL(i) g[3 * (i) + c]
        GM(r, G_COL);
#undef G_COL
        #pragma unroll
        for (int i = 0; i < ALPHA; i++) t[i][c] = r[i];
    }
    #pragma unroll
    for (int i = 0; i < ALPHA; i++) {
#define T_ROW(j) t[i][j]
        GM(r, T_ROW);
#undef T_ROW
        #pragma unroll
        for (int j = 0; j < ALPHA; j++) o[ALPHA * i + j] = r[j];
    }
}

/* dst[3*i + j] = (G^T dU G)[i][j] + beta * dst for dU[p] = du[p * ps]. */
static void filter_grad_transform(__global const float *du, size_t ps, float beta,
                                  __global float *dst)
{
    float u[POSITIONS], q[3][ALPHA], r[3], o[9]; /* q = G^T dU, then its rows times G */
    #pragma unroll
    for (int p = 0; p < POSITIONS; p++) u[p] = du[p * ps];
    #pragma unroll
    for (int k = 0; k < ALPHA; k++) {
#define U_COL(i) u[ALPHA * (i) + k]
        GT(r, U_COL);
#undef U_COL
        #pragma unroll
        for (int i = 0; i < 3; i++) q[i][k] = r[i];
    }
    #pragma unroll
    for (int i = 0; i < 3; i++) {
#define Q_ROW(j) q[i][j]
        GT(r, Q_ROW);
#undef Q_ROW
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
    float o[POSITIONS];
    filter_transform(wt + wt_off + ((size_t)co * c_in + ci) * 9, 0, o);
    #pragma unroll
    for (int p = 0; p < POSITIONS; p++) u[u_off + p * ps + (size_t)co * c_in + ci] = o[p];
}

__kernel void winograd_filter_flip(__global const float *wt, uint wt_off, __global float *u,
                                   uint u_off, uint c_out, uint c_in, uint ps)
{
    size_t pair = get_global_id(0);
    if (pair >= (size_t)c_out * c_in) return;
    uint ci = pair % c_in, co = pair / c_in;
    float o[POSITIONS];
    filter_transform(wt + wt_off + ((size_t)co * c_in + ci) * 9, 1, o);
    #pragma unroll
    for (int p = 0; p < POSITIONS; p++) u[u_off + p * ps + (size_t)ci * c_out + co] = o[p];
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
        float o[POSITIONS];
        filter_transform(wt + wt_off + ((size_t)co * c_in + ci) * 9, 0, o);
        #pragma unroll
        for (int p = 0; p < POSITIONS; p++) out[p * ps + ci] = o[p];
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
        float o[POSITIONS];
        filter_transform(wt + wt_off + ((size_t)co * c_in + ci) * 9, 1, o);
        #pragma unroll
        for (int p = 0; p < POSITIONS; p++) out[p * ps + co] = o[p];
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
    int y0 = WINO_M * (int)ty - 1, x0 = WINO_M * (int)tx - 1;
    __global const float *plane = x + x_off + (size_t)z * h * w;
    float d[ALPHA][ALPHA];
    #pragma unroll
    for (int r = 0; r < ALPHA; r++) {
        int iy = y0 + r;
        int row_in = iy >= 0 && iy < (int)h;
        #pragma unroll
        for (int k = 0; k < ALPHA; k++) {
            int ix = x0 + k;
            d[r][k] = row_in && ix >= 0 && ix < (int)w ? plane[iy * (int)w + ix] : 0.0f;
        }
    }
    float t[ALPHA][ALPHA], o[ALPHA]; /* t = B^T d, then its rows times B */
    #pragma unroll
    for (int k = 0; k < ALPHA; k++) {
#define D_COL(i) d[i][k]
        BT(o, D_COL);
#undef D_COL
        #pragma unroll
        for (int i = 0; i < ALPHA; i++) t[i][k] = o[i];
    }
    __global float *out = v + v_off + (size_t)ch * ld + (s * th + ty) * tw + tx;
    #pragma unroll
    for (int i = 0; i < ALPHA; i++) {
#define T_ROW(j) t[i][j]
        BT(o, T_ROW);
#undef T_ROW
        #pragma unroll
        for (int j = 0; j < ALPHA; j++) out[(ALPHA * i + j) * ps] = o[j];
    }
}

/* y = A^T M A + beta * y for the planes of y [ns*c][h][w], from M [P][c][ld]; the
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
    float mm[POSITIONS], r[WINO_M][ALPHA], o[ALPHA]; /* r = A^T M, then its rows times A */
    #pragma unroll
    for (int p = 0; p < POSITIONS; p++) mm[p] = in[p * ps];
    #pragma unroll
    for (int k = 0; k < ALPHA; k++) {
#define M_COL(i) mm[ALPHA * (i) + k]
        AT(o, M_COL);
#undef M_COL
        #pragma unroll
        for (int i = 0; i < WINO_M; i++) r[i][k] = o[i];
    }
    __global float *plane = y + y_off + (size_t)z * h * w;
    #pragma unroll
    for (uint i = 0; i < WINO_M; i++) {
        if (WINO_M * ty + i >= h) break;
#define R_ROW(j) r[i][j]
        AT(o, R_ROW);
#undef R_ROW
        #pragma unroll
        for (uint j = 0; j < WINO_M; j++) {
            if (WINO_M * tx + j >= w) break;
            __global float *at = plane + (WINO_M * ty + i) * w + WINO_M * tx + j;
            *at = beta != 0.0f ? o[j] + beta * *at : o[j];
        }
    }
}

/* dM = A dY A^T for the planes of dy [ns*c][h][w] (the adjoint of winograd_output: dY
 * is the m x m output tile, 0 past h or w), into dM [P][c][ld]. */
__kernel void winograd_output_grad(__global const float *dy, uint dy_off, __global float *dm,
                                   uint dm_off, uint ns, uint c, uint h, uint w, uint th,
                                   uint tw, uint ld, uint ps)
{
    size_t tile = get_global_id(0);
    if (tile >= (size_t)ns * c * th * tw) return;
    uint tx = tile % tw, ty = tile / tw % th, z = tile / tw / th;
    uint s = z / c, ch = z % c;
    __global const float *plane = dy + dy_off + (size_t)z * h * w;
    float g[WINO_M][WINO_M];
    #pragma unroll
    for (uint i = 0; i < WINO_M; i++)
        #pragma unroll
        for (uint j = 0; j < WINO_M; j++) {
            uint iy = WINO_M * ty + i, ix = WINO_M * tx + j;
            g[i][j] = iy < h && ix < w ? plane[iy * w + ix] : 0.0f;
        }
    float r[ALPHA][WINO_M], o[ALPHA]; /* r = A dY, then its rows times A^T */
    #pragma unroll
    for (int j = 0; j < WINO_M; j++) {
#define G_COL(i) g[i][j]
        AM(o, G_COL);
#undef G_COL
        #pragma unroll
        for (int i = 0; i < ALPHA; i++) r[i][j] = o[i];
    }
    __global float *out = dm + dm_off + (size_t)ch * ld + (s * th + ty) * tw + tx;
    #pragma unroll
    for (int i = 0; i < ALPHA; i++) {
#define R_ROW(j) r[i][j]
        AM(o, R_ROW);
#undef R_ROW
        #pragma unroll
        for (int j = 0; j < ALPHA; j++) out[(ALPHA * i + j) * ps] = o[j];
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

/* g[k] = columns c0 + m*l + k, l < LANES, k < m, of an image row of w columns
 * (c0 >= 0), 0 past w. `avail` floats can be read from row + c0 (the chunk's end):
 * when the row ends first, whole vectors are read and the lanes past w cleared; when
 * the chunk ends first, element by element. */
static void load_columns(__global const float *row, int c0, int w, size_t avail,
                         floatL g[WINO_M])
{
    floatL a[WINO_M];
    if (avail >= WINO_M * LANES) {
        #pragma unroll
        for (int k = 0; k < WINO_M; k++) a[k] = VLOADL(0, row + c0 + k * LANES);
    } else {
        float buf[WINO_M * LANES];
        for (int j = 0; j < WINO_M * LANES; j++) buf[j] = j < (int)avail ? row[c0 + j] : 0.0f;
        #pragma unroll
        for (int k = 0; k < WINO_M; k++) a[k] = VLOADL(0, buf + k * LANES);
    }
#if WINO_M == 2
    g[0] = EVENS(a[0], a[1]);
    g[1] = ODDS(a[0], a[1]);
#else /* columns 2l and 2l + 1 of each half, then every other one of those */
    floatL e01 = EVENS(a[0], a[1]), o01 = ODDS(a[0], a[1]);
    floatL e23 = EVENS(a[2], a[3]), o23 = ODDS(a[2], a[3]);
    g[0] = EVENS(e01, e23);
    g[1] = EVENS(o01, o23);
    g[2] = ODDS(e01, e23);
    g[3] = ODDS(o01, o23);
#endif
    if (c0 + WINO_M * LANES > w) {
        intL col = (intL)(c0) + WINO_M * LANE_IDS;
        #pragma unroll
        for (int k = 0; k < WINO_M; k++) g[k] = select((floatL)(0.0f), g[k], col + k < (intL)(w));
    }
}

/* v[ALPHA*i + j] = (B^T d B)[i][j] for the tiles tx .. tx+LANES-1 of tile row ty of
 * a plane (end: the chunk's end). */
static void input_block(__global const float *plane, __global const float *end, uint ty,
                        uint tx, uint h, uint w, floatL *v)
{
    floatL d[ALPHA][ALPHA], t[ALPHA][ALPHA], o[ALPHA];
    #pragma unroll
    for (int r = 0; r < ALPHA; r++) {
        int iy = WINO_M * (int)ty - 1 + r, c0 = WINO_M * (int)tx;
        if (iy < 0 || iy >= (int)h) {
            #pragma unroll
            for (int k = 0; k < ALPHA; k++) d[r][k] = 0.0f;
            continue;
        }
        __global const float *row = plane + iy * w;
        load_columns(row, c0, w, end - (row + c0), &d[r][1]);
        /* columns c0 + m*l - 1 and c0 + m*l + m: the last and first ones shifted by a
         * lane, with the columns just outside the block */
        float left = c0 > 0 ? row[c0 - 1] : 0.0f;
        float right = c0 + WINO_M * LANES < (int)w ? row[c0 + WINO_M * LANES] : 0.0f;
        d[r][0] = shuffle2(d[r][WINO_M], (floatL)(left), SHIFT_UP);
        d[r][ALPHA - 1] = shuffle2(d[r][1], (floatL)(right), SHIFT_DOWN);
    }
    #pragma unroll
    for (int k = 0; k < ALPHA; k++) {
#define D_COL(i) d[i][k]
        BT(o, D_COL);
#undef D_COL
        #pragma unroll
        for (int i = 0; i < ALPHA; i++) t[i][k] = o[i];
    }
    #pragma unroll
    for (int i = 0; i < ALPHA; i++) {
#define T_ROW(j) t[i][j]
        BT(o, T_ROW);
#undef T_ROW
        #pragma unroll
        for (int j = 0; j < ALPHA; j++) v[ALPHA * i + j] = o[j];
    }
}

/* V = B^T d B, channel ch of every sample of x [ns][c][h][w], into V [P][c][ld]. */
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
                floatL o[POSITIONS];
                input_block(plane, end, ty, tx, h, w, o);
                #pragma unroll
                for (int p = 0; p < POSITIONS; p++) VSTOREL(o[p], 0, out + p * ps);
            }
    }
    /* zeros past the tiles: the products may run over whole panels of the row */
    for (uint t = ns * th * tw; t < ld; t++) {
        #pragma unroll
        for (int p = 0; p < POSITIONS; p++) chan[p * ps + t] = 0.0f;
    }
}

/* The same into the transposed layout V^T [P][T][ld] (tile t of channel ch at
 * t*ld + ch), tile row ty of sample s (grid (th, ns)): for each block of tiles, channel
 * after channel, a float at a time, so that the P x LANES rows of V^T being filled
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
            floatL o[POSITIONS];
            input_block(planes + (size_t)ch * h * w, end, ty, tx, h, w, o);
            #pragma unroll
            for (int p = 0; p < POSITIONS; p++) {
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
                floatL g[WINO_M][WINO_M], r[ALPHA][WINO_M], o[ALPHA];
                #pragma unroll
                for (int i = 0; i < WINO_M; i++) {
                    int iy = WINO_M * (int)ty + i, c0 = WINO_M * (int)tx;
                    if (iy >= (int)h) {
                        #pragma unroll
                        for (int k = 0; k < WINO_M; k++) g[i][k] = 0.0f;
                        continue;
                    }
                    __global const float *row = plane + iy * w;
                    load_columns(row, c0, w, end - (row + c0), g[i]);
                }
                #pragma unroll
                for (int j = 0; j < WINO_M; j++) {
#define G_COL(i) g[i][j]
                    AM(o, G_COL);
#undef G_COL
                    #pragma unroll
                    for (int i = 0; i < ALPHA; i++) r[i][j] = o[i];
                }
                #pragma unroll
                for (int i = 0; i < ALPHA; i++) {
#define R_ROW(j) r[i][j]
                    AM(o, R_ROW);
#undef R_ROW
                    #pragma unroll
                    for (int j = 0; j < ALPHA; j++) VSTOREL(o[j], 0, out + (ALPHA * i + j) * ps);
                }
            }
    }
}

/* The m vectors o[k] (lane l: column m*l + k of a block) as m*LANES consecutive
 * columns, in m vectors. */
static void interleave(const floatL *o, floatL *cols)
{
#if WINO_M == 2
    cols[0] = shuffle2(o[0], o[1], MASK_LO);
    cols[1] = shuffle2(o[0], o[1], MASK_HI);
#else /* columns k and k + 2 paired, then the pairs */
    floatL lo02 = shuffle2(o[0], o[2], MASK_LO), hi02 = shuffle2(o[0], o[2], MASK_HI);
    floatL lo13 = shuffle2(o[1], o[3], MASK_LO), hi13 = shuffle2(o[1], o[3], MASK_HI);
    cols[0] = shuffle2(lo02, lo13, MASK_LO);
    cols[1] = shuffle2(lo02, lo13, MASK_HI);
    cols[2] = shuffle2(hi02, hi13, MASK_LO);
    cols[3] = shuffle2(hi02, hi13, MASK_HI);
#endif
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
                floatL mm[POSITIONS], r[WINO_M][ALPHA], o[ALPHA], cols[WINO_M];
                #pragma unroll
                for (int p = 0; p < POSITIONS; p++) mm[p] = VLOADL(0, at + p * ps);
                #pragma unroll
                for (int k = 0; k < ALPHA; k++) {
#define M_COL(i) mm[ALPHA * (i) + k]
                    AT(o, M_COL);
#undef M_COL
                    #pragma unroll
                    for (int i = 0; i < WINO_M; i++) r[i][k] = o[i];
                }
                /* outputs inside the image */
                uint n = min((uint)(WINO_M * LANES), w - WINO_M * tx);
                for (uint i = 0; i < WINO_M && WINO_M * ty + i < h; i++) {
#define R_ROW(j) r[i][j]
                    AT(o, R_ROW);
#undef R_ROW
                    interleave(o, cols);
                    __global float *row = plane + (WINO_M * ty + i) * w + WINO_M * tx;
                    /* whole vectors while they fit in the row, then a float at a time */
                    #pragma unroll
                    for (uint q = 0; q < WINO_M; q++) {
                        if ((q + 1) * LANES <= n) {
                            floatL v = cols[q];
                            if (beta != 0.0f) v += beta * VLOADL(0, row + q * LANES);
                            VSTOREL(v, 0, row + q * LANES);
                        } else if (q * LANES < n) {
                            float buf[LANES];
                            VSTOREL(cols[q], 0, buf);
                            for (uint j = q * LANES; j < n; j++)
                                row[j] = beta != 0.0f ? buf[j - q * LANES] + beta * row[j]
                                                      : buf[j - q * LANES];
                        }
                    }
                }
            }
    }
}
