/* Convolution as im2col + GEMM, over chunks of the batch.
 *
 * With K = c_in*k*k rows of patches, P = out_h*out_w output pixels per sample and a
 * chunk of ns samples, the workspace holds the chunk's patches (im2col) or their
 * gradient, and each call is a few products per chunk. Two layouts of the patches:
 *
 * Wide: col [K][ns*P] and ycol [c_out][ns*P], the columns running over all the
 * pixels of the chunk, and one GEMM per chunk:
 *   forward          col = im2col(x);  ycol = W col;      y = unpermute(ycol) + beta y
 *   backward_data    ycol = permute(dy);  col = W^T ycol; dx = col2im(col) + beta dx
 *   backward_filter  col = im2col(x);  ycol = permute(dy);  dW = ycol col^T + beta dW
 * (the permutations are im2col and col2im with a 1x1 kernel). Wide products run
 * faster than one GEMM per sample on GPUs, more so for the small 14 x 14 maps, and
 * they sum the weight gradient over the chunk in one product: CLBlast 1.5.3's
 * strided-batched GEMM is wrong with a C stride of 0, and it allocates padded copies
 * of its operands on every call, while the library does no device allocation per
 * call. The weight gradient of later chunks is added (beta 1) to the first chunk's.
 *
 * Per sample: col [ns][K][P], the patches of each sample a K x P matrix, so that a
 * batched product reads or writes the NCHW tensor in place, with no permutation:
 *   forward          col = im2col(x);  y_s = W col_s + beta y_s
 *   backward_data    col_s = W^T dy_s;  dx = col2im(col) + beta dx
 *
 * CPU devices (p->cpu) run forward and backward_data per sample and backward_filter
 * wide, with the kernels of cl/im2col_cpu.cl (a work-item per channel and sample,
 * along whole planes or rows) and chunks that stay in the cache (chunk_budget).
 * Measured on PoCL (2 cores, bench_conv --cpu --profile 64, total ms of each call
 * over the preset's convolutions, medians of 5 to 7 runs, the same kernels either
 * way): forward 271 per sample against 281 wide; backward_data 327 against 328,
 * the wide GEMM faster by about what permuting dy costs (45 ms of data movement per
 * sample against 65 wide); backward_filter 329 per sample (one GEMM per sample, each
 * adding to dW) against 285 wide. Other devices run everything wide with
 * cl/im2col.cl (a work-item per element, neighbours on neighbouring elements) and
 * chunks of up to 64 MiB.
 *
 * A 1x1 stride-1 convolution needs no patches: products straight on x and dy (one
 * batched GEMM on CPUs, one GEMM per sample elsewhere), no workspace. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conv/conv2d_algo.h"
#include "gemm/blas.h"
#include "runtime/launch.h"
#include "error.h"

/* The state of an im2col plan. */
typedef struct im2col_plan {
    agecl_ctx *ctx;
    agecl_conv2d_desc d;
    int out_h, out_w;
    int chunk;               /* samples unrolled at once; 0 when no im2col is needed */
    size_t workspace;        /* elements */
    char geometry[48];       /* build options for the kernel size, stride, pad */
    int cpu;                 /* the CPU path: per-sample products, cl/im2col_cpu.cl and
                                cache-sized chunks */
    const char *program;     /* the kernels' program: "im2col_cpu" or "im2col" */
    agecl__gemm_backend backend;
} im2col_plan;

/* The build options of the 1x1 permutations. */
#define PERMUTE "-DKSIZE=1 -DSTRIDE=1 -DPAD=0"

static int is_direct(const agecl_conv2d_desc *d) { return d->kernel == 1 && d->stride == 1; }

static size_t rows(const agecl_conv2d_desc *d) { return (size_t)d->c_in * d->kernel * d->kernel; }

static size_t pixels(const im2col_plan *p) { return (size_t)p->out_h * p->out_w; }

/* The context's kernel family (AGECL_KERNELS); by default CPU devices get theirs,
 * unless the products run on CLBlast: the CPU path's per-sample products suit our
 * GEMM, not CLBlast's. */
static void choose_path(im2col_plan *p)
{
    const agecl_options *o = agecl_ctx_options(p->ctx);
    if (o->kernels == AGECL_FAMILY_AUTO)
        p->cpu = (agecl_ctx_device(p->ctx)->type & CL_DEVICE_TYPE_CPU) != 0 &&
                 p->backend != AGECL__GEMM_CLBLAST;
    else
        p->cpu = o->kernels == AGECL_FAMILY_CPU;
    p->program = p->cpu ? "im2col_cpu" : "im2col";
}

/* The workspace a chunk may fill. On CPUs an eighth of the device's cache (4 MiB of
 * 32 on the 2-core PoCL machine), so that the patches im2col writes are still cached
 * when the GEMM reads them: there, chunks of 2 to 4 MiB ran the "cpu" preset's
 * convolutions about 1.25x faster than chunks of 64 MiB (bench_conv --cpu, batch
 * 64), and chunks of one sample (up to 5.2 MB) about as fast. */
static size_t chunk_budget(const im2col_plan *p)
{
    if (!p->cpu) return AGECL_CONV2D_WORKSPACE_LIMIT;
    cl_ulong cache = 0;
    if (clGetDeviceInfo(agecl_ctx_cl_device(p->ctx), CL_DEVICE_GLOBAL_MEM_CACHE_SIZE,
                        sizeof cache, &cache, NULL) != CL_SUCCESS || cache == 0)
        cache = (cl_ulong)32 << 20;
    return cache / 8 < AGECL_CONV2D_WORKSPACE_LIMIT ? (size_t)(cache / 8)
                                                     : AGECL_CONV2D_WORKSPACE_LIMIT;
}

static agecl_status prepare(im2col_plan *p)
{
    choose_path(p);
    if (is_direct(&p->d)) {
        p->chunk = 0;
        p->workspace = 0;
        return AGECL_OK;
    }
    size_t per_sample = (rows(&p->d) + (size_t)p->d.c_out) * pixels(p);
    size_t fit = chunk_budget(p) / sizeof(float) / per_sample;
    p->chunk = fit < 1 ? 1 : fit > (size_t)p->d.n ? p->d.n : (int)fit;
    p->workspace = per_sample * (size_t)p->chunk;
    if (p->workspace > 0xffffffffu)
        return agecl__fail(AGECL_E_UNSUPPORTED,
                           "conv2d_plan_create: one sample needs %zu workspace elements, past 2^32",
                           p->workspace);
    snprintf(p->geometry, sizeof p->geometry, "-DKSIZE=%d -DSTRIDE=%d -DPAD=%d", p->d.kernel,
             p->d.stride, p->d.pad);
    /* Build now what the calls will run: im2col and col2im of the geometry, and the
     * permutes of backward_filter (both paths) and of the wide passes (not CPUs). */
    cl_kernel handle;
    AGECL_TRY(agecl__kernel(p->ctx, p->program, p->geometry, "im2col", &handle));
    AGECL_TRY(agecl__kernel(p->ctx, p->program, p->geometry, "col2im", &handle));
    AGECL_TRY(agecl__kernel(p->ctx, p->program, PERMUTE, "im2col", &handle));
    if (!p->cpu) AGECL_TRY(agecl__kernel(p->ctx, p->program, PERMUTE, "col2im", &handle));
    return AGECL_OK;
}

/* A chunk's column matrix: element (s, r, p) at off + s*ss + r*rs + p. */
typedef struct cols {
    cl_mem buf;
    cl_uint off, ss, rs;
} cols;

/* Samples [s0, s0 + ns) of t (c x h x w each) and an output size oh x ow: the
 * arguments both kernels share, in their order. */
typedef struct image_args {
    cl_uint off, ns, c, h, w, oh, ow;
} image_args;

static image_args image(const im2col_plan *p, const agecl_tensor *t, int s0, int ns)
{
    return (image_args){(cl_uint)(t->offset + (size_t)s0 * t->c * t->h * t->w), (cl_uint)ns,
                        (cl_uint)t->c, (cl_uint)t->h, (cl_uint)t->w, (cl_uint)p->out_h,
                        (cl_uint)p->out_w};
}

/* Launch `kernel` over the samples: on CPUs a work-item per channel and sample, each
 * in a work-group of its own (cl/im2col_cpu.cl); else a work-item per element of the
 * (width, height, channels) grid given, in work-groups of the driver's choice. */
static agecl_status launch(const im2col_plan *p, const char *options, const char *kernel,
                           image_args a, const size_t grid[3], int nargs, const agecl__arg *args)
{
    if (p->cpu) {
        size_t global[2] = {a.c, a.ns}, local[2] = {1, 1};
        return agecl__run(p->ctx, p->program, options, kernel, 2, global, local, nargs, args);
    }
    return agecl__run(p->ctx, p->program, options, kernel, 3, grid, NULL, nargs, args);
}

/* dst = im2col of the samples of src, with the geometry of `options`. */
static agecl_status im2col(const im2col_plan *p, const char *options,
                           const agecl_tensor *src, image_args a, int taps, cols dst)
{
    agecl__arg args[] = {AGECL_ARG(src->buf), AGECL_ARG(a.off), AGECL_ARG(dst.buf),
                         AGECL_ARG(dst.off), AGECL_ARG(a.ns), AGECL_ARG(a.c), AGECL_ARG(a.h),
                         AGECL_ARG(a.w), AGECL_ARG(a.oh), AGECL_ARG(a.ow), AGECL_ARG(dst.ss),
                         AGECL_ARG(dst.rs)};
    size_t grid[3] = {a.ow, a.oh, (size_t)a.c * taps};
    return launch(p, options, "im2col", a, grid, AGECL_NARGS(args), args);
}

/* The samples of dst = col2im(src) + beta * dst, with the geometry of `options`. */
static agecl_status col2im(const im2col_plan *p, const char *options, cols src,
                           agecl_tensor *dst, image_args a, float beta)
{
    agecl__arg args[] = {AGECL_ARG(src.buf), AGECL_ARG(src.off), AGECL_ARG(dst->buf),
                         AGECL_ARG(a.off), AGECL_ARG(a.ns), AGECL_ARG(a.c), AGECL_ARG(a.h),
                         AGECL_ARG(a.w), AGECL_ARG(a.oh), AGECL_ARG(a.ow), AGECL_ARG(src.ss),
                         AGECL_ARG(src.rs), AGECL_ARG(beta)};
    size_t grid[3] = {a.w, a.h, a.c};
    return launch(p, options, "col2im", a, grid, AGECL_NARGS(args), args);
}

static agecl__matrix mat(cl_mem buf, size_t offset, size_t ld, int trans)
{
    return (agecl__matrix){buf, offset, ld, trans};
}

static agecl__matrix as_matrix(cols c, int trans) { return mat(c.buf, c.off, c.rs, trans); }

/* The chunk's wide matrices in the workspace: col [K][ns*P], then ycol [c_out][ns*P]. */
static void wide_cols(const im2col_plan *p, const agecl_tensor *ws, int ns, cols *col,
                      cols *ycol)
{
    cl_uint np = (cl_uint)pixels(p), wide = np * (cl_uint)ns;
    *col = (cols){ws->buf, (cl_uint)ws->offset, np, wide};
    *ycol = (cols){ws->buf, (cl_uint)(ws->offset + rows(&p->d) * wide), np, wide};
}

/* The chunk's per-sample patches in the workspace: col [ns][K][P]. */
static cols sample_cols(const im2col_plan *p, const agecl_tensor *ws)
{
    cl_uint np = (cl_uint)pixels(p);
    return (cols){ws->buf, (cl_uint)ws->offset, (cl_uint)rows(&p->d) * np, np};
}

static int chunk_size(const im2col_plan *p, int s0)
{
    return p->d.n - s0 < p->chunk ? p->d.n - s0 : p->chunk;
}

/* Sample b of t as a [c, h*w] matrix. */
static agecl__matrix sample(const agecl_tensor *t, int b, int trans)
{
    size_t hw = (size_t)t->h * t->w;
    return mat(t->buf, t->offset + (size_t)b * t->c * hw, hw, trans);
}

static size_t sample_size(const agecl_tensor *t) { return (size_t)t->c * t->h * t->w; }

static agecl_status run_forward(const im2col_plan *p, const agecl_tensor *x,
                                          const agecl_tensor *wt, float beta, agecl_tensor *y,
                                          const agecl_tensor *ws)
{
    const agecl_conv2d_desc *d = &p->d;
    agecl_ctx *ctx = p->ctx;
    size_t k = rows(d), m = (size_t)d->c_out, np = pixels(p);
    agecl__matrix w = mat(wt->buf, wt->offset, k, 0);
    if (is_direct(d) && p->cpu)
        return agecl__gemm_batched_on(ctx, p->backend, "conv2d_forward", m, np, k, 1.0f, w, 0, sample(x, 0, 0),
                                   sample_size(x), beta, sample(y, 0, 0), sample_size(y),
                                   (size_t)d->n);
    if (is_direct(d)) {
        for (int b = 0; b < d->n; b++)
            AGECL_TRY(agecl__gemm_on(ctx, p->backend, "conv2d_forward", m, np, k, 1.0f, w, sample(x, b, 0),
                                  beta, sample(y, b, 0)));
        return AGECL_OK;
    }
    for (int s0 = 0; s0 < d->n; s0 += p->chunk) {
        int ns = chunk_size(p, s0);
        if (p->cpu) {
            cols col = sample_cols(p, ws);
            AGECL_TRY(im2col(p, p->geometry, x, image(p, x, s0, ns), d->kernel * d->kernel, col));
            AGECL_TRY(agecl__gemm_batched_on(ctx, p->backend, "conv2d_forward", m, np, k, 1.0f, w, 0,
                                          as_matrix(col, 0), col.ss, beta, sample(y, s0, 0),
                                          sample_size(y), (size_t)ns));
            continue;
        }
        cols col, ycol;
        wide_cols(p, ws, ns, &col, &ycol);
        AGECL_TRY(im2col(p, p->geometry, x, image(p, x, s0, ns), d->kernel * d->kernel, col));
        AGECL_TRY(agecl__gemm_on(ctx, p->backend, "conv2d_forward", m, col.rs, k, 1.0f, w, as_matrix(col, 0),
                              0.0f, as_matrix(ycol, 0)));
        AGECL_TRY(col2im(p, PERMUTE, ycol, y, image(p, y, s0, ns), beta));
    }
    return AGECL_OK;
}

static agecl_status run_backward_data(const im2col_plan *p,
                                                const agecl_tensor *dy, const agecl_tensor *wt,
                                                float beta, agecl_tensor *dx,
                                                const agecl_tensor *ws)
{
    const agecl_conv2d_desc *d = &p->d;
    agecl_ctx *ctx = p->ctx;
    size_t k = rows(d), m = (size_t)d->c_out, np = pixels(p);
    agecl__matrix w_t = mat(wt->buf, wt->offset, k, 1);
    if (is_direct(d) && p->cpu)
        return agecl__gemm_batched_on(ctx, p->backend, "conv2d_backward_data", k, np, m, 1.0f, w_t, 0,
                                   sample(dy, 0, 0), sample_size(dy), beta, sample(dx, 0, 0),
                                   sample_size(dx), (size_t)d->n);
    if (is_direct(d)) {
        for (int b = 0; b < d->n; b++)
            AGECL_TRY(agecl__gemm_on(ctx, p->backend, "conv2d_backward_data", k, np, m, 1.0f, w_t,
                                  sample(dy, b, 0), beta, sample(dx, b, 0)));
        return AGECL_OK;
    }
    for (int s0 = 0; s0 < d->n; s0 += p->chunk) {
        int ns = chunk_size(p, s0);
        cols col, ycol;
        if (p->cpu) {
            col = sample_cols(p, ws);
            AGECL_TRY(agecl__gemm_batched_on(ctx, p->backend, "conv2d_backward_data", k, np, m,
                                             1.0f, w_t, 0, sample(dy, s0, 0), sample_size(dy),
                                             0.0f, as_matrix(col, 0), col.ss, (size_t)ns));
        } else {
            wide_cols(p, ws, ns, &col, &ycol);
            AGECL_TRY(im2col(p, PERMUTE, dy, image(p, dy, s0, ns), 1, ycol));
            AGECL_TRY(agecl__gemm_on(ctx, p->backend, "conv2d_backward_data", k, col.rs, m,
                                     1.0f, w_t, as_matrix(ycol, 0), 0.0f, as_matrix(col, 0)));
        }
        AGECL_TRY(col2im(p, p->geometry, col, dx, image(p, dx, s0, ns), beta));
    }
    return AGECL_OK;
}

static agecl_status run_backward_filter(const im2col_plan *p,
                                                  const agecl_tensor *x, const agecl_tensor *dy,
                                                  float beta, agecl_tensor *dw,
                                                  const agecl_tensor *ws)
{
    const agecl_conv2d_desc *d = &p->d;
    agecl_ctx *ctx = p->ctx;
    size_t m = (size_t)d->c_out, n = rows(d);
    agecl__matrix dwm = mat(dw->buf, dw->offset, n, 0);
    if (is_direct(d)) {
        for (int b = 0; b < d->n; b++)
            AGECL_TRY(agecl__gemm_on(ctx, p->backend, "conv2d_backward_filter", m, n, pixels(p), 1.0f,
                                  sample(dy, b, 0), sample(x, b, 1), b == 0 ? beta : 1.0f, dwm));
        return AGECL_OK;
    }
    for (int s0 = 0; s0 < d->n; s0 += p->chunk) {
        int ns = chunk_size(p, s0);
        cols col, ycol;
        wide_cols(p, ws, ns, &col, &ycol);
        AGECL_TRY(im2col(p, p->geometry, x, image(p, x, s0, ns), d->kernel * d->kernel, col));
        AGECL_TRY(im2col(p, PERMUTE, dy, image(p, dy, s0, ns), 1, ycol));
        AGECL_TRY(agecl__gemm_on(ctx, p->backend, "conv2d_backward_filter", m, n, col.rs, 1.0f,
                              as_matrix(ycol, 0), as_matrix(col, 1), s0 == 0 ? beta : 1.0f, dwm));
    }
    return AGECL_OK;
}

/* The table's entry points: state is an im2col_plan. */
static agecl_status forward(void *state, const agecl_tensor *x, const agecl_tensor *wt,
                            float beta, agecl_tensor *y, const agecl_tensor *ws)
{
    return run_forward(state, x, wt, beta, y, ws);
}

static agecl_status backward_data(void *state, const agecl_tensor *dy, const agecl_tensor *wt,
                                  float beta, agecl_tensor *dx, const agecl_tensor *ws)
{
    return run_backward_data(state, dy, wt, beta, dx, ws);
}

static agecl_status backward_filter(void *state, const agecl_tensor *x, const agecl_tensor *dy,
                                    float beta, agecl_tensor *dw, const agecl_tensor *ws)
{
    return run_backward_filter(state, x, dy, beta, dw, ws);
}

static agecl_status create(agecl_ctx *ctx, const agecl_conv2d_desc *d,
                           agecl__gemm_backend backend, void **state,
                           size_t workspace[AGECL_CONV_PASS_COUNT])
{
    im2col_plan *p = calloc(1, sizeof *p);
    if (!p) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "conv2d_plan_create: im2col state");
    p->ctx = ctx;
    p->d = *d;
    p->out_h = agecl__conv2d_out_size(d->h, d);
    p->out_w = agecl__conv2d_out_size(d->w, d);
    p->backend = backend;
    agecl_status s = prepare(p);
    if (s != AGECL_OK) {
        free(p);
        return s;
    }
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++) workspace[pass] = p->workspace;
    *state = p;
    return AGECL_OK;
}

static agecl_status create_gemm(agecl_ctx *ctx, const agecl_conv2d_desc *d, void **state,
                                size_t workspace[AGECL_CONV_PASS_COUNT])
{
    return create(ctx, d, AGECL__GEMM_DEFAULT, state, workspace);
}

static agecl_status create_clblast(agecl_ctx *ctx, const agecl_conv2d_desc *d, void **state,
                                   size_t workspace[AGECL_CONV_PASS_COUNT])
{
    return create(ctx, d, AGECL__GEMM_CLBLAST, state, workspace);
}

static int supports_all(agecl_ctx *ctx, const agecl_conv2d_desc *d, agecl_conv2d_pass pass)
{
    (void)ctx, (void)d, (void)pass;
    return 1;
}

const agecl__conv2d_algo agecl__conv2d_im2col_gemm = {
    .id = AGECL_CONV_IM2COL_GEMM, .name = "im2col", .supports = supports_all,
    .create = create_gemm, .destroy = free, .run = {forward, backward_data, backward_filter}};

const agecl__conv2d_algo agecl__conv2d_im2col_clblast = {
    .id = AGECL_CONV_IM2COL_CLBLAST, .name = "clblast", .supports = supports_all,
    .create = create_clblast, .destroy = free, .run = {forward, backward_data, backward_filter}};
