/* Convolution as implicit GEMM (cl/conv_implicit.cl): every pass is one tiled
 * product whose gathered operand is read straight from the NCHW tensor, so the
 * patches never go through memory. Meant for GPUs; on CPU devices im2col with the
 * CPU GEMM is faster, but this is correct there too.
 *
 * Tiles (one place: `tiles` below, passed to the kernels as -D options): a
 * work-group computes a 64 x 64 tile of the output with 16 x 16 work-items, 4 x 4
 * outputs each, over slabs of 16 values of K staged in local memory (8.1 KiB). That
 * is the classic SGEMM shape for GPUs: 256 work-items (a multiple of the 32- and
 * 64-wide SIMD groups); 16 accumulators and 8 operand registers per work-item, 2
 * multiply-adds per local-memory read; each element brought from global memory
 * used 64 times; little enough local memory that several work-groups stay resident
 * per compute unit (48 KiB on NVIDIA). Each work-item fetches the next slab into
 * registers while it multiplies the current one, hiding the gather's latency.
 * Devices that allow fewer work-items or less local memory, or whose compiler gives
 * the kernel a lower work-group limit (registers), get the first smaller tile that
 * fits.
 *
 * Where a product has too few output tiles to fill the device (backward_filter,
 * which reduces all n*oh*ow pixels into a small c_out x c_in*k*k output; forward and
 * backward_data on small maps and batches), its K is split into parts so that the
 * device gets about GROUPS_PER_UNIT work-groups per compute unit, each part at least
 * MIN_PART values of K (32 slabs, so that writing a part's partial tile costs
 * little next to its loads). The parts write partial products to the workspace (at
 * most AGECL_CONV2D_WORKSPACE_LIMIT) and a second kernel adds them in order, so the
 * result is the same on every run. */
#include <stdio.h>
#include <stdlib.h>
#include "conv/conv2d_algo.h"
#include "runtime/launch.h"
#include "error.h"

#define GROUPS_PER_UNIT 4
#define MIN_PART 512
#define PROGRAM "conv_implicit"

/* C tile TM x TN per work-group, K slab TK, RM x RN per work-item. */
typedef struct tile {
    int tm, tn, tk, rm, rn;
} tile;

/* Best first. */
static const tile tiles[] = {
    {64, 64, 16, 4, 4}, /* 256 work-items, 8.1 KiB */
    {64, 64, 8, 4, 4},  /* 256 work-items, 4.1 KiB */
    {32, 32, 8, 4, 4},  /* 64 work-items, 2.1 KiB */
    {16, 16, 8, 2, 2},  /* 64 work-items, 1.1 KiB */
};

typedef struct implicit {
    agecl_ctx *ctx;
    agecl_conv2d_desc d;
    int oh, ow;
    tile t;
    char options[AGECL_CONV_PASS_COUNT][160];
    cl_uint parts[AGECL_CONV_PASS_COUNT]; /* K split into parts of part_k values */
    cl_uint part_k[AGECL_CONV_PASS_COUNT];
} implicit;

static size_t work_items(tile t) { return (size_t)(t.tm / t.rm) * (t.tn / t.rn); }

static size_t local_bytes(tile t)
{
    return (size_t)t.tk * (size_t)(t.tm + 1 + t.tn + 1) * sizeof(float);
}

/* The products' sizes M x N x K of each pass. */
static void gemm_size(const implicit *s, agecl_conv2d_pass pass, size_t *m, size_t *n, size_t *k)
{
    const agecl_conv2d_desc *d = &s->d;
    size_t kk = (size_t)d->kernel * d->kernel, pix = (size_t)d->n * s->oh * s->ow;
    switch (pass) {
    case AGECL_CONV_FORWARD: *m = d->c_out, *n = pix, *k = d->c_in * kk; break;
    case AGECL_CONV_BACKWARD_DATA:
        *m = d->c_in, *n = (size_t)d->n * d->h * d->w, *k = d->c_out * kk;
        break;
    default: *m = d->c_out, *n = d->c_in * kk, *k = pix; break;
    }
}

/* Whether the kernels of every pass built with tile t run on the device. */
static agecl_status try_tile(implicit *s, tile t, int *fits)
{
    const agecl_device_info *dev = agecl_ctx_device(s->ctx);
    *fits = 0;
    if (work_items(t) > dev->max_work_group_size || local_bytes(t) > dev->local_mem_bytes)
        return AGECL_OK;
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++) {
        snprintf(s->options[pass], sizeof s->options[pass],
                 "-DPASS=%d -DKSIZE=%d -DSTRIDE=%d -DPAD=%d -DTM=%d -DTN=%d -DTK=%d -DRM=%d "
                 "-DRN=%d",
                 pass, s->d.kernel, s->d.stride, s->d.pad, t.tm, t.tn, t.tk, t.rm, t.rn);
        cl_kernel k;
        AGECL_TRY(agecl__kernel(s->ctx, PROGRAM, s->options[pass], PROGRAM, &k));
        size_t limit = 0;
        cl_ulong local = 0;
        cl_device_id device = agecl_ctx_cl_device(s->ctx);
        cl_int err = clGetKernelWorkGroupInfo(k, device, CL_KERNEL_WORK_GROUP_SIZE, sizeof limit,
                                              &limit, NULL);
        if (err == CL_SUCCESS)
            err = clGetKernelWorkGroupInfo(k, device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof local,
                                           &local, NULL);
        if (err != CL_SUCCESS) return agecl__cl_fail(err, "conv_implicit: kernel limits");
        if (limit < work_items(t) || local > dev->local_mem_bytes) return AGECL_OK;
        AGECL_TRY(agecl__kernel(s->ctx, PROGRAM, s->options[pass], PROGRAM "_reduce", &k));
    }
    *fits = 1;
    return AGECL_OK;
}

/* The split of K of a pass, and the workspace its parts need (floats). */
static size_t split(implicit *s, agecl_conv2d_pass pass)
{
    size_t m, n, k;
    gemm_size(s, pass, &m, &n, &k);
    size_t tiles_mn = ((m + s->t.tm - 1) / s->t.tm) * ((n + s->t.tn - 1) / s->t.tn);
    size_t want = (size_t)agecl_ctx_device(s->ctx)->compute_units * GROUPS_PER_UNIT;
    size_t parts = (want + tiles_mn - 1) / tiles_mn;
    size_t by_k = (k + MIN_PART - 1) / MIN_PART;
    size_t by_ws = AGECL_CONV2D_WORKSPACE_LIMIT / sizeof(float) / (m * n);
    if (parts > by_k) parts = by_k;
    if (parts > by_ws) parts = by_ws;
    if (parts < 1) parts = 1;
    size_t tk = (size_t)s->t.tk, part_k = ((k + parts - 1) / parts + tk - 1) / tk * tk;
    s->part_k[pass] = (cl_uint)part_k;
    s->parts[pass] = (cl_uint)((k + part_k - 1) / part_k); /* no empty part */
    return s->parts[pass] > 1 ? s->parts[pass] * m * n : 0;
}

static int implicit_supports(agecl_ctx *ctx, const agecl_conv2d_desc *d, agecl_conv2d_pass pass)
{
    (void)ctx, (void)d, (void)pass;
    return 1;
}

static agecl_status implicit_create(agecl_ctx *ctx, const agecl_conv2d_desc *d, void **state,
                                    size_t workspace[AGECL_CONV_PASS_COUNT])
{
    implicit *s = calloc(1, sizeof *s);
    if (!s) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "conv2d_plan_create: implicit state");
    s->ctx = ctx;
    s->d = *d;
    s->oh = agecl__conv2d_out_size(d->h, d);
    s->ow = agecl__conv2d_out_size(d->w, d);
    int fits = 0;
    for (size_t i = 0; i < sizeof tiles / sizeof tiles[0] && !fits; i++) {
        agecl_status st = try_tile(s, tiles[i], &fits);
        if (st != AGECL_OK) {
            free(s);
            return st;
        }
        s->t = tiles[i];
    }
    if (!fits) {
        free(s);
        return agecl__fail(AGECL_E_UNSUPPORTED,
                           "conv2d_plan_create: no implicit-GEMM tile fits the device (%zu "
                           "work-items, %llu bytes of local memory)",
                           agecl_ctx_device(ctx)->max_work_group_size,
                           agecl_ctx_device(ctx)->local_mem_bytes);
    }
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++)
        workspace[pass] = split(s, (agecl_conv2d_pass)pass);
    *state = s;
    return AGECL_OK;
}

static void implicit_destroy(void *state) { free(state); }

/* out = A B + beta * out for pass, through the workspace when K is split; a_name and
 * b_name name the operands' tensors in messages. */
static agecl_status product(const implicit *s, agecl_conv2d_pass pass, const agecl_tensor *a,
                            const char *a_name, const agecl_tensor *b, const char *b_name,
                            float beta, agecl_tensor *out, const char *out_name,
                            const agecl_tensor *ws)
{
    cl_uint a_off, b_off, out_off, ws_off = 0, parts = s->parts[pass];
    AGECL_TRY(agecl__offset(a, a_name, &a_off));
    AGECL_TRY(agecl__offset(b, b_name, &b_off));
    AGECL_TRY(agecl__offset(out, out_name, &out_off));
    if (parts > 1) AGECL_TRY(agecl__offset(ws, "workspace", &ws_off));
    size_t m, n, k;
    gemm_size(s, pass, &m, &n, &k);
    const agecl_conv2d_desc *d = &s->d;
    cl_mem c = parts > 1 ? ws->buf : out->buf;
    cl_uint c_off = parts > 1 ? ws_off : out_off;
    float c_beta = parts > 1 ? 0.0f : beta;
    cl_uint M = (cl_uint)m, N = (cl_uint)n, K = (cl_uint)k, part_k = s->part_k[pass],
            c_in = (cl_uint)d->c_in, h = (cl_uint)d->h, w = (cl_uint)d->w,
            c_out = (cl_uint)d->c_out, oh = (cl_uint)s->oh, ow = (cl_uint)s->ow;
    agecl__arg args[] = {AGECL_ARG(a->buf), AGECL_ARG(a_off), AGECL_ARG(b->buf),
                         AGECL_ARG(b_off), AGECL_ARG(c),      AGECL_ARG(c_off),
                         AGECL_ARG(c_beta), AGECL_ARG(M),     AGECL_ARG(N),
                         AGECL_ARG(K),      AGECL_ARG(part_k), AGECL_ARG(c_in),
                         AGECL_ARG(h),      AGECL_ARG(w),     AGECL_ARG(c_out),
                         AGECL_ARG(oh),     AGECL_ARG(ow)};
    size_t wx = (size_t)(s->t.tn / s->t.rn), wy = (size_t)(s->t.tm / s->t.rm);
    size_t local[3] = {wx, wy, 1};
    size_t global[3] = {(n + s->t.tn - 1) / s->t.tn * wx, (m + s->t.tm - 1) / s->t.tm * wy,
                        parts};
    AGECL_TRY(agecl__run(s->ctx, PROGRAM, s->options[pass], PROGRAM, 3, global, local,
                         AGECL_NARGS(args), args));
    if (parts == 1) return AGECL_OK;
    cl_uint count = M * N;
    agecl__arg sum_args[] = {AGECL_ARG(ws->buf),  AGECL_ARG(ws_off), AGECL_ARG(parts),
                             AGECL_ARG(out->buf), AGECL_ARG(out_off), AGECL_ARG(count),
                             AGECL_ARG(beta)};
    size_t sum_global[1] = {count}, sum_local[1] = {64};
    return agecl__run(s->ctx, PROGRAM, s->options[pass], PROGRAM "_reduce", 1, sum_global,
                      sum_local, AGECL_NARGS(sum_args), sum_args);
}

static agecl_status implicit_forward(void *state, const agecl_tensor *x, const agecl_tensor *wt,
                                     float beta, agecl_tensor *y, const agecl_tensor *ws)
{
    return product(state, AGECL_CONV_FORWARD, wt, "wt", x, "x", beta, y, "y", ws);
}

static agecl_status implicit_backward_data(void *state, const agecl_tensor *dy,
                                           const agecl_tensor *wt, float beta, agecl_tensor *dx,
                                           const agecl_tensor *ws)
{
    return product(state, AGECL_CONV_BACKWARD_DATA, wt, "wt", dy, "dy", beta, dx, "dx", ws);
}

static agecl_status implicit_backward_filter(void *state, const agecl_tensor *x,
                                             const agecl_tensor *dy, float beta, agecl_tensor *dw,
                                             const agecl_tensor *ws)
{
    return product(state, AGECL_CONV_BACKWARD_FILTER, dy, "dy", x, "x", beta, dw, "dw", ws);
}

const agecl__conv2d_algo agecl__conv2d_implicit = {
    .id = AGECL_CONV_IMPLICIT_GEMM,
    .name = "implicit",
    .supports = implicit_supports,
    .create = implicit_create,
    .destroy = implicit_destroy,
    .run = {implicit_forward, implicit_backward_data, implicit_backward_filter},
};
