/* Convolution by Winograd F(m x m, 3x3), m = 2 or 4: 3x3 kernels, padding 1, stride 1.
 * Two algorithms of the plan's table share this file: AGECL_CONV_WINOGRAD (m = 2) and
 * AGECL_CONV_WINOGRAD4 (m = 4).
 *
 * The image is cut into th x tw tiles of m x m outputs (th = ceil(h/m), tw = ceil(w/m);
 * a size that m does not divide leaves part tiles, fed zeros past the image, their
 * extra outputs dropped), each read from an a x a input tile (a = m + 2). In the
 * transformed domain a 3x3 convolution is P = a^2 independent matrix products, one per
 * position of the transformed tile (16 for m = 2, 36 for m = 4), with 2.25x (m = 2)
 * or 4x (m = 4) fewer multiplications than im2col + GEMM (cl/winograd.cl has the
 * matrices and the layouts); F(4x4) also moves 1.78x fewer transformed floats per
 * output, and rounds more (its transforms have coefficients up to 8 and 1/24). Per
 * chunk of ns samples, with T = ns*th*tw tiles:
 *
 *   forward          U = G g G^T [P][c_out][c_in]            (once per call)
 *                    V = B^T d B [P][c_in][T];  M = U V  (P GEMMs);  y = A^T M A
 *   backward_data    the forward of dy with the filters turned by 180 degrees and
 *                    c_in, c_out swapped (for 3x3, pad 1, stride 1, dx is exactly that
 *                    convolution): U' [P][c_in][c_out], V [P][c_out][T], M [P][c_in][T]
 *   backward_filter  V = B^T d B;  dM = A dY A^T [P][c_out][T];
 *                    dU += dM V^T [P][c_out][c_in]  (chunk after chunk);
 *                    then dw = G^T dU G + beta dw
 * The beta of a call is applied once, by its last kernel (the output transform or the
 * filter-gradient transform), so accumulation is exact whatever the chunks.
 *
 * Workspace: the filter part (P c_out c_in floats, U or dU) and, per sample of a
 * chunk, P th tw (c_in + c_out) floats (V and M), a little more for alignment. The
 * chunks fill AGECL_CONV2D_WORKSPACE_LIMIT in all, except on CPU devices, where V and M
 * stay within an eighth of the device's cache (so that they are still cached when the
 * next kernel reads them) unless the chunk would have fewer than min_tiles tiles:
 * 512 for the convolutions, 2048 for backward_filter, whose product sums over the
 * tiles (k = T) and reads and writes all of dU per chunk (F(2x2) figures; F(4x4)
 * takes a quarter of those tiles, the same outputs). Measured on PoCL, 2 cores,
 * batch 64, interleaved medians (a loaded machine: +-10%): at 512 -> 512 channels on
 * 7 x 7 the cache-sized chunks (48 tiles) ran the forward 1.16x and backward_filter
 * 1.6x slower than these; at 256 channels on 14 x 14 backward_filter gained 1.16x
 * from 2048 tiles against 512.
 *
 * The P products of a chunk run as one batched GEMM on CPU devices (our SGEMM, which
 * reads U and V and writes M in place; for backward_filter V is written transposed,
 * [P][T][c_in], since packing V^T inside the GEMM cost as much as the product at 64
 * channels). Elsewhere they run as P GEMMs: CLBlast's strided-batched GEMM allocates
 * padded copies of its operands on every call, its plain GEMM works in the context's
 * temporary buffer.
 *
 * The context's kernel family (agecl/options.h: AGECL_KERNELS=cpu|gpu), read when a
 * plan is created, forces the CPU or the portable kernels (with their chunks and
 * GEMMs) on any device, so that both can be tested on one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conv/conv2d_algo.h"
#include "gemm/blas.h"
#include "runtime/launch.h"
#include "runtime/options_internal.h"
#include "error.h"

#define PROGRAM "winograd"
/* The portable kernels' work-group size: fixed, so that PoCL, which compiles a kernel
 * for each work-group size it is given, builds each once. */
#define GROUP 64

/* The kernels a plan runs, by role; only the CPU kernels write V transposed (INPUT_T,
 * for backward_filter). */
enum { INPUT, OUTPUT, OUTPUT_GRAD, FILTER, FILTER_FLIP, FILTER_GRAD, INPUT_T, KERNELS };
static const char *const portable_kernels[KERNELS] = {
    "winograd_input",       "winograd_output",      "winograd_output_grad", "winograd_filter",
    "winograd_filter_flip", "winograd_filter_grad", NULL};
static const char *const cpu_kernels[KERNELS] = {
    "winograd_input_cpu",       "winograd_output_cpu",      "winograd_output_grad_cpu",
    "winograd_filter_cpu",      "winograd_filter_flip_cpu", "winograd_filter_grad_cpu",
    "winograd_input_t_cpu"};

typedef struct winograd {
    agecl_ctx *ctx;
    agecl_conv2d_desc d;
    int m;                 /* outputs per tile side: 2 or 4 */
    int positions;         /* elements of a transformed tile: (m + 2)^2 */
    int th, tw;            /* tiles per sample: rows, columns */
    int cpu;               /* the CPU kernels, cache-sized chunks, batched GEMMs */
    char options[32];      /* the program's build options (-DWINO_M=.. -DLANES=..) */
    size_t slack;          /* floats a row of V keeps past its T tiles (LANES - 1 on CPUs) */
    cl_uint filter_stride; /* floats between the positions of U (and dU) */
    size_t filters;        /* floats of U (or dU): positions filter_stride */
    int chunk[AGECL_CONV_PASS_COUNT]; /* samples per chunk */
} winograd;

static int supports(agecl_ctx *ctx, const agecl_conv2d_desc *d, agecl_conv2d_pass pass)
{
    (void)ctx;
    (void)pass;
    return d->kernel == 3 && d->pad == 1 && d->stride == 1;
}

static size_t tiles_per_sample(const winograd *s) { return (size_t)s->th * s->tw; }

/* The columns of the convolutions' products M = U V for a chunk of ns samples: on CPUs
 * the T tiles rounded up to whole panels of the SGEMM (32 columns; the columns past T,
 * zeros in V, cost less than the packing of a partial panel), else T. */
static size_t product_cols(const winograd *s, size_t ns)
{
    size_t tiles = tiles_per_sample(s) * ns;
    return s->cpu ? (tiles + 31) / 32 * 32 : tiles;
}

/* The row length of V and M for a chunk of ns samples: T tiles and the slack,
 * rounded up to 16 floats (64 bytes), and at least the products' columns. */
static size_t row_floats(const winograd *s, size_t ns)
{
    size_t ld = (tiles_per_sample(s) * ns + s->slack + 15) / 16 * 16;
    return ld > product_cols(s, ns) ? ld : product_cols(s, ns);
}

/* The distance between the positions' matrices of `rows` rows of ld floats: whole
 * 4 KiB pages and one cache line more, so that the P streams a transform reads or
 * writes fall in P different cache sets (at multiples of 4 KiB, as 64 rows of any
 * multiple of 16 floats are, they all compete for one set). */
static size_t position_stride(size_t rows, size_t ld)
{
    return (rows * ld + 1023) / 1024 * 1024 + 16;
}

/* The workspace of a chunk of ns samples, in floats. V^T (backward_filter on CPUs)
 * takes no more than V: position_stride(T, c_in) <= position_stride(c_in, ld). */
static size_t chunk_floats(const winograd *s, size_t ns)
{
    size_t ld = row_floats(s, ns);
    return s->filters + (size_t)s->positions * (position_stride((size_t)s->d.c_in, ld) +
                                     position_stride((size_t)s->d.c_out, ld));
}

/* The bytes of V and M a CPU device keeps cached: an eighth of its cache. */
static size_t cache_budget(const winograd *s)
{
    cl_ulong cache = 0;
    if (clGetDeviceInfo(agecl_ctx_cl_device(s->ctx), CL_DEVICE_GLOBAL_MEM_CACHE_SIZE,
                        sizeof cache, &cache, NULL) != CL_SUCCESS || cache == 0)
        cache = (cl_ulong)32 << 20;
    return (size_t)(cache / 8);
}

/* Samples per chunk (see the top of this file): at least one. */
static int choose_chunk(const winograd *s, size_t min_tiles)
{
    size_t limit = AGECL_CONV2D_WORKSPACE_LIMIT / sizeof(float);
    size_t cached = s->cpu ? cache_budget(s) / sizeof(float) : limit;
    int chunk = 1;
    while (chunk < s->d.n) {
        size_t next = chunk_floats(s, (size_t)chunk + 1);
        int few = tiles_per_sample(s) * (size_t)chunk < min_tiles;
        if (next > limit || (next - s->filters > cached && !few)) break;
        chunk++;
    }
    return chunk;
}

/* The CPU kernels' vector width: of 16, 8, 4 tiles, the one whose blocks cover a tile
 * row with the fewest lanes wasted (a 14 x 14 image has rows of 7 tiles of F(2x2)); at
 * most 8 for F(4x4), whose 36 positions of 16 lanes would not fit the registers. */
static int lanes_for(int tw, int m) { return tw > 8 && m == 2 ? 16 : tw > 4 ? 8 : 4; }

static agecl_status create(agecl_ctx *ctx, const agecl_conv2d_desc *d, int m, void **state,
                           size_t workspace[AGECL_CONV_PASS_COUNT])
{
    int cpu = 0;
    cpu = agecl__options_cpu_kernels(agecl_ctx_options(ctx), agecl_ctx_device(ctx));
    winograd *s = calloc(1, sizeof *s);
    if (!s) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "conv2d_plan_create: winograd state");
    s->ctx = ctx;
    s->d = *d;
    s->m = m;
    s->positions = (m + 2) * (m + 2);
    s->th = (d->h + m - 1) / m;
    s->tw = (d->w + m - 1) / m;
    s->cpu = cpu;
    int lanes = lanes_for(s->tw, m);
    s->slack = cpu ? (size_t)lanes - 1 : 0;
    if (cpu) snprintf(s->options, sizeof s->options, "-DWINO_M=%d -DLANES=%d", m, lanes);
    else snprintf(s->options, sizeof s->options, "-DWINO_M=%d", m);
    s->filter_stride = (cl_uint)position_stride((size_t)d->c_out, (size_t)d->c_in);
    s->filters = (size_t)s->positions * s->filter_stride;
    size_t per_tile = (size_t)(m / 2) * (m / 2); /* F(2x2) tiles in one of this size */
    s->chunk[AGECL_CONV_FORWARD] = s->chunk[AGECL_CONV_BACKWARD_DATA] =
        choose_chunk(s, 512 / per_tile);
    s->chunk[AGECL_CONV_BACKWARD_FILTER] = choose_chunk(s, 2048 / per_tile);
    agecl_status st = AGECL_OK;
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++) {
        workspace[pass] = chunk_floats(s, (size_t)s->chunk[pass]);
        if (workspace[pass] > 0xffffffffu)
            st = agecl__fail(AGECL_E_UNSUPPORTED, "conv2d_plan_create: winograd needs %zu "
                             "workspace elements, past 2^32", workspace[pass]);
    }
    const char *const *kernels = cpu ? cpu_kernels : portable_kernels;
    for (int i = 0; i < KERNELS && st == AGECL_OK; i++) {
        cl_kernel handle;
        if (kernels[i]) st = agecl__kernel(ctx, PROGRAM, s->options, kernels[i], &handle);
    }
    if (st != AGECL_OK) {
        free(s);
        return st;
    }
    *state = s;
    return AGECL_OK;
}

static agecl_status create2(agecl_ctx *ctx, const agecl_conv2d_desc *d, void **state,
                            size_t workspace[AGECL_CONV_PASS_COUNT])
{
    return create(ctx, d, 2, state, workspace);
}

static agecl_status create4(agecl_ctx *ctx, const agecl_conv2d_desc *d, void **state,
                            size_t workspace[AGECL_CONV_PASS_COUNT])
{
    return create(ctx, d, 4, state, workspace);
}

static void destroy(void *state) { free(state); }

/* The workspace of a chunk of ns samples: the filter part, then the matrices V
 * [P][c_a][ld] and M [P][c_b][ld], their positions ps_a and ps_b floats apart. */
typedef struct chunk_ws {
    cl_mem buf;
    cl_uint filters, a, b; /* offsets */
    cl_uint tiles, ld;     /* T, and the row length */
    cl_uint cols;          /* the columns of the convolutions' products */
    cl_uint ps_a, ps_b;
} chunk_ws;

static chunk_ws carve(const winograd *s, const agecl_tensor *ws, int ns, int c_a, int c_b)
{
    size_t ld = row_floats(s, (size_t)ns);
    cl_uint base = (cl_uint)ws->offset, a = base + (cl_uint)s->filters;
    cl_uint ps_a = (cl_uint)position_stride((size_t)c_a, ld),
            ps_b = (cl_uint)position_stride((size_t)c_b, ld);
    return (chunk_ws){ws->buf, base, a, a + (cl_uint)s->positions * ps_a,
                      (cl_uint)(tiles_per_sample(s) * (size_t)ns), (cl_uint)ld,
                      (cl_uint)product_cols(s, (size_t)ns), ps_a, ps_b};
}

/* The kernels index the workspace with 32-bit offsets. */
static agecl_status check_workspace(const winograd *s, int pass, const agecl_tensor *ws,
                                    const char *what)
{
    if (ws->offset + chunk_floats(s, (size_t)s->chunk[pass]) > 0xffffffffu)
        return agecl__fail(AGECL_E_UNSUPPORTED,
                           "%s: the workspace ends past 2^32 elements of its buffer", what);
    return AGECL_OK;
}

/* Samples s0 .. s0+ns-1 of t (c planes of h x w each) as the image kernels see them. */
typedef struct planes {
    cl_uint off, ns, c, h, w, th, tw;
} planes;

static planes samples(const winograd *s, const agecl_tensor *t, int s0, int ns)
{
    return (planes){(cl_uint)(t->offset + (size_t)s0 * t->c * t->h * t->w),
                    (cl_uint)ns, (cl_uint)t->c, (cl_uint)t->h, (cl_uint)t->w,
                    (cl_uint)s->th, (cl_uint)s->tw};
}

/* Image kernel `role` over the planes p: its (image or matrix, offset) pairs in the
 * kernel's order, the geometry, the row length and position stride of the matrix,
 * and beta when has_beta. CPU kernels run a work-item per channel (INPUT_T: per tile
 * row and sample; OUTPUT: per channel and group of samples) in work-groups of one;
 * portable ones a work-item per tile and plane, in work-groups of GROUP. */
static agecl_status run_image(const winograd *s, int role, cl_mem first, cl_uint first_off,
                              cl_mem second, cl_uint second_off, planes p, cl_uint ld,
                              cl_uint ps, int has_beta, float beta)
{
    agecl__arg args[] = {AGECL_ARG(first), AGECL_ARG(first_off), AGECL_ARG(second),
                         AGECL_ARG(second_off), AGECL_ARG(p.ns), AGECL_ARG(p.c),
                         AGECL_ARG(p.h), AGECL_ARG(p.w), AGECL_ARG(p.th),
                         AGECL_ARG(p.tw), AGECL_ARG(ld), AGECL_ARG(ps), AGECL_ARG(beta)};
    int nargs = AGECL_NARGS(args) - (has_beta ? 0 : 1);
    if (s->cpu) {
        size_t global[2] = {p.c, 1}, local[2] = {1, 1};
        if (role == INPUT_T) global[0] = p.th, global[1] = p.ns;
        /* OUTPUT: the samples split in groups when there are fewer than 32 channels */
        if (role == OUTPUT && p.c < 32) global[1] = (32 + p.c - 1) / p.c;
        return agecl__run(s->ctx, PROGRAM, s->options, cpu_kernels[role], 2, global, local,
                          nargs, args);
    }
    size_t global[1] = {(size_t)p.ns * p.c * p.th * p.tw}, local[1] = {GROUP};
    return agecl__run(s->ctx, PROGRAM, s->options, portable_kernels[role], 1, global, local,
                      nargs, args);
}

/* Filter kernel `role` (beta: FILTER_GRAD's): on CPUs a work-item per row of U (dU),
 * in work-groups of one; else a work-item per filter, in work-groups of GROUP. */
static agecl_status run_filter(const winograd *s, int role, cl_mem src, cl_uint src_off,
                               cl_mem dst, cl_uint dst_off, float beta)
{
    cl_uint c_out = (cl_uint)s->d.c_out, c_in = (cl_uint)s->d.c_in, ps = s->filter_stride;
    agecl__arg args[] = {AGECL_ARG(src),     AGECL_ARG(src_off), AGECL_ARG(dst),
                         AGECL_ARG(dst_off), AGECL_ARG(c_out),   AGECL_ARG(c_in),
                         AGECL_ARG(ps),      AGECL_ARG(beta)};
    int nargs = AGECL_NARGS(args) - (role == FILTER_GRAD ? 0 : 1);
    if (s->cpu) {
        size_t global[1] = {role == FILTER_FLIP ? c_in : c_out}, local[1] = {1};
        return agecl__run(s->ctx, PROGRAM, s->options, cpu_kernels[role], 1, global, local,
                          nargs, args);
    }
    size_t global[1] = {(size_t)c_in * c_out}, local[1] = {GROUP};
    return agecl__run(s->ctx, PROGRAM, s->options, portable_kernels[role], 1, global, local,
                      nargs, args);
}

static agecl__matrix mat(cl_mem buf, size_t offset, size_t ld, int trans)
{
    return (agecl__matrix){buf, offset, ld, trans};
}

/* The P products C_p = A_p B_p + beta C_p (A_p m x k, B_p k x n, C_p m x n), the
 * matrices of each operand a_stride, b_stride, c_stride floats apart. */
static agecl_status products(const winograd *s, const char *what, size_t m, size_t n, size_t k,
                             agecl__matrix a, size_t a_stride, agecl__matrix b, size_t b_stride,
                             float beta, agecl__matrix c, size_t c_stride)
{
    if (s->cpu)
        return agecl__gemm_batched(s->ctx, what, m, n, k, 1.0f, a, a_stride, b, b_stride, beta,
                                   c, c_stride, (size_t)s->positions);
    for (size_t p = 0; p < (size_t)s->positions; p++) {
        agecl__matrix ap = a, bp = b, cp = c;
        ap.offset += p * a_stride;
        bp.offset += p * b_stride;
        cp.offset += p * c_stride;
        AGECL_TRY(agecl__gemm(s->ctx, what, m, n, k, 1.0f, ap, bp, beta, cp));
    }
    return AGECL_OK;
}

static int chunk_size(const winograd *s, int pass, int s0)
{
    return s->d.n - s0 < s->chunk[pass] ? s->d.n - s0 : s->chunk[pass];
}

static agecl_status convolve_with(const winograd *s, int pass, const char *what,
                                  const agecl_tensor *in, cl_mem u_buf, size_t u_off, float beta,
                                  agecl_tensor *out, const agecl_tensor *ws);

/* out = conv(in, filters) + beta * out, with the filters of wt as they are (the
 * forward) or turned and transposed (flip: backward_data). in has c_a channels, out
 * c_b. */
static agecl_status convolve(const winograd *s, int pass, const char *what,
                             const agecl_tensor *in, const agecl_tensor *wt, int flip,
                             float beta, agecl_tensor *out, const agecl_tensor *ws)
{
    AGECL_TRY(check_workspace(s, pass, ws, what));
    chunk_ws w0 = carve(s, ws, 0, 0, 0);
    AGECL_TRY(run_filter(s, flip ? FILTER_FLIP : FILTER, wt->buf, (cl_uint)wt->offset, w0.buf,
                         w0.filters, 0.0f));
    return convolve_with(s, pass, what, in, w0.buf, w0.filters, beta, out, ws);
}

/* convolve from transformed filters already made: U at u_off of u_buf. */
static agecl_status convolve_with(const winograd *s, int pass, const char *what,
                                  const agecl_tensor *in, cl_mem u_buf, size_t u_off, float beta,
                                  agecl_tensor *out, const agecl_tensor *ws)
{
    size_t c_a = (size_t)in->c, c_b = (size_t)out->c;
    for (int s0 = 0; s0 < s->d.n; s0 += s->chunk[pass]) {
        int ns = chunk_size(s, pass, s0);
        chunk_ws w = carve(s, ws, ns, (int)c_a, (int)c_b);
        planes pin = samples(s, in, s0, ns), pout = samples(s, out, s0, ns);
        AGECL_TRY(run_image(s, INPUT, in->buf, pin.off, w.buf, w.a, pin, w.ld, w.ps_a, 0, 0.0f));
        /* M_p (c_b x T) = U_p (c_b x c_a) V_p (c_a x T) */
        AGECL_TRY(products(s, what, c_b, w.cols, c_a, mat(u_buf, u_off, c_a, 0),
                           s->filter_stride, mat(w.buf, w.a, w.ld, 0), w.ps_a, 0.0f,
                           mat(w.buf, w.b, w.ld, 0), w.ps_b));
        AGECL_TRY(run_image(s, OUTPUT, w.buf, w.b, out->buf, pout.off, pout, w.ld, w.ps_b, 1,
                            beta));
    }
    return AGECL_OK;
}

static agecl_status forward(void *state, const agecl_tensor *x, const agecl_tensor *wt,
                            float beta, agecl_tensor *y, const agecl_tensor *ws)
{
    return convolve(state, AGECL_CONV_FORWARD, "conv2d_forward", x, wt, 0, beta, y, ws);
}

/* Inference with fixed weights keeps U = G g G^T between calls (agecl_conv2d_prepare). */
static size_t prepared_floats(const void *state) { return ((const winograd *)state)->filters; }

static agecl_status prepare(void *state, const agecl_tensor *wt, const agecl_tensor *out)
{
    const winograd *s = state;
    if (out->offset + s->filters > 0xffffffffu)
        return agecl__fail(AGECL_E_UNSUPPORTED, "conv2d_prepare: the prepared tensor ends past "
                           "2^32 elements of its buffer");
    return run_filter(s, FILTER, wt->buf, (cl_uint)wt->offset, out->buf, (cl_uint)out->offset,
                      0.0f);
}

static agecl_status forward_prepared(void *state, const agecl_tensor *x, const agecl_tensor *u,
                                     float beta, agecl_tensor *y, const agecl_tensor *ws)
{
    const winograd *s = state;
    AGECL_TRY(check_workspace(s, AGECL_CONV_FORWARD, ws, "conv2d_forward_prepared"));
    return convolve_with(s, AGECL_CONV_FORWARD, "conv2d_forward_prepared", x, u->buf, u->offset,
                         beta, y, ws);
}

static agecl_status backward_data(void *state, const agecl_tensor *dy, const agecl_tensor *wt,
                                  float beta, agecl_tensor *dx, const agecl_tensor *ws)
{
    return convolve(state, AGECL_CONV_BACKWARD_DATA, "conv2d_backward_data", dy, wt, 1, beta,
                    dx, ws);
}

static agecl_status backward_filter(void *state, const agecl_tensor *x, const agecl_tensor *dy,
                                    float beta, agecl_tensor *dw, const agecl_tensor *ws)
{
    const winograd *s = state;
    const int pass = AGECL_CONV_BACKWARD_FILTER;
    const char *what = "conv2d_backward_filter";
    AGECL_TRY(check_workspace(s, pass, ws, what));
    size_t c_in = (size_t)s->d.c_in, c_out = (size_t)s->d.c_out;
    chunk_ws w = carve(s, ws, 0, 0, 0);
    for (int s0 = 0; s0 < s->d.n; s0 += s->chunk[pass]) {
        int ns = chunk_size(s, pass, s0);
        w = carve(s, ws, ns, (int)c_in, (int)c_out);
        planes px = samples(s, x, s0, ns), pdy = samples(s, dy, s0, ns);
        AGECL_TRY(run_image(s, OUTPUT_GRAD, dy->buf, pdy.off, w.buf, w.b, pdy, w.ld, w.ps_b, 0,
                            0.0f));
        /* dU_p (c_out x c_in) += dM_p (c_out x T) V_p^T (T x c_in), V^T as such on CPUs */
        agecl__matrix v_t = mat(w.buf, w.a, w.ld, 1);
        cl_uint ps_t = w.ps_a;
        if (s->cpu) {
            v_t = mat(w.buf, w.a, c_in, 0);
            ps_t = (cl_uint)position_stride(w.tiles, c_in);
            AGECL_TRY(run_image(s, INPUT_T, x->buf, px.off, w.buf, w.a, px, (cl_uint)c_in, ps_t,
                                0, 0.0f));
        } else {
            AGECL_TRY(run_image(s, INPUT, x->buf, px.off, w.buf, w.a, px, w.ld, w.ps_a, 0,
                                0.0f));
        }
        AGECL_TRY(products(s, what, c_out, c_in, w.tiles, mat(w.buf, w.b, w.ld, 0), w.ps_b,
                           v_t, ps_t, s0 == 0 ? 0.0f : 1.0f, mat(w.buf, w.filters, c_in, 0),
                           s->filter_stride));
    }
    return run_filter(s, FILTER_GRAD, w.buf, w.filters, dw->buf, (cl_uint)dw->offset, beta);
}

const agecl__conv2d_algo agecl__conv2d_winograd = {
    .id = AGECL_CONV_WINOGRAD, .name = "winograd", .supports = supports, .create = create2,
    .destroy = destroy, .run = {forward, backward_data, backward_filter},
    .prepared_floats = prepared_floats, .prepare = prepare, .forward_prepared = forward_prepared,
};

const agecl__conv2d_algo agecl__conv2d_winograd4 = {
    .id = AGECL_CONV_WINOGRAD4, .name = "winograd4", .supports = supports, .create = create4,
    .destroy = destroy, .run = {forward, backward_data, backward_filter},
    .prepared_floats = prepared_floats, .prepare = prepare, .forward_prepared = forward_prepared,
};
