/* Convolution as im2col + GEMM (CLBlast), over chunks of the batch.
 *
 * With K = c_in*k*k rows of patches, P = out_h*out_w output pixels per sample and a
 * chunk of ns samples, the workspace holds two matrices whose columns run over all
 * the pixels of the chunk (ns*P of them, sample after sample):
 *   col  [K][ns*P]      the patches of x (im2col), or their gradient
 *   ycol [c_out][ns*P]  y or dy of the chunk, permuted from NCHW
 * and each call is one GEMM per chunk:
 *   forward          col = im2col(x);  ycol = W col;      y = unpermute(ycol) + beta y
 *   backward_data    ycol = permute(dy);  col = W^T ycol; dx = col2im(col) + beta dx
 *   backward_filter  col = im2col(x);  ycol = permute(dy);  dW = ycol col^T + beta dW
 * (the permutations are im2col and col2im with a 1x1 kernel). Wide products run
 * faster than one GEMM per sample (about 1.5x on PoCL, more on GPUs for the small
 * 14 x 14 maps), and they are the only way to sum the weight gradient over the
 * batch in one product: CLBlast 1.5.3's strided-batched GEMM is wrong with a C
 * stride of 0, and it allocates padded copies of its operands on every call, while
 * the library does no device allocation per call. The weight gradient of later
 * chunks is added (beta 1) to the first chunk's, which applies the caller's beta.
 * A 1x1 stride-1 convolution needs no patches: one GEMM per sample straight on x
 * and dy, no workspace. */
#include <stdio.h>
#include "conv/conv2d_plan.h"
#include "core/blas.h"
#include "core/launch.h"
#include "error.h"

/* The build options of the 1x1 permutations. */
#define PERMUTE "-DKSIZE=1 -DSTRIDE=1 -DPAD=0"

static int is_direct(const agecl_conv2d_desc *d) { return d->kernel == 1 && d->stride == 1; }

static size_t rows(const agecl_conv2d_desc *d) { return (size_t)d->c_in * d->kernel * d->kernel; }

static size_t pixels(const agecl_conv2d_plan *p) { return (size_t)p->out_h * p->out_w; }

agecl_status agecl__conv2d_im2col_prepare(agecl_conv2d_plan *p)
{
    if (is_direct(&p->d)) {
        p->chunk = 0;
        p->workspace = 0;
        return AGECL_OK;
    }
    size_t per_sample = (rows(&p->d) + (size_t)p->d.c_out) * pixels(p);
    size_t fit = AGECL_CONV2D_WORKSPACE_LIMIT / sizeof(float) / per_sample;
    p->chunk = fit < 1 ? 1 : fit > (size_t)p->d.n ? p->d.n : (int)fit;
    p->workspace = per_sample * (size_t)p->chunk;
    if (p->workspace > 0xffffffffu)
        return agecl__fail(AGECL_E_UNSUPPORTED,
                           "conv2d_plan_create: one sample needs %zu workspace elements, past 2^32",
                           p->workspace);
    snprintf(p->geometry, sizeof p->geometry, "-DKSIZE=%d -DSTRIDE=%d -DPAD=%d", p->d.kernel,
             p->d.stride, p->d.pad);
    const char *options[2] = {p->geometry, PERMUTE}, *kernels[2] = {"im2col", "col2im"};
    for (int o = 0; o < 2; o++)
        for (int k = 0; k < 2; k++) {
            cl_kernel handle;
            AGECL_TRY(agecl__kernel(p->ctx, "im2col", options[o], kernels[k], &handle));
        }
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

static image_args image(const agecl_tensor *t, int s0, int ns, int oh, int ow)
{
    return (image_args){(cl_uint)(t->offset + (size_t)s0 * t->c * t->h * t->w), (cl_uint)ns,
                        (cl_uint)t->c, (cl_uint)t->h, (cl_uint)t->w, (cl_uint)oh, (cl_uint)ow};
}

/* dst = im2col of the samples of src, with the geometry of `options`. */
static agecl_status im2col(agecl_ctx *ctx, const char *options, const agecl_tensor *src,
                           image_args a, int taps, cols dst)
{
    agecl__arg args[] = {AGECL_ARG(src->buf), AGECL_ARG(a.off), AGECL_ARG(dst.buf),
                         AGECL_ARG(dst.off), AGECL_ARG(a.ns), AGECL_ARG(a.c), AGECL_ARG(a.h),
                         AGECL_ARG(a.w), AGECL_ARG(a.oh), AGECL_ARG(a.ow), AGECL_ARG(dst.ss),
                         AGECL_ARG(dst.rs)};
    size_t global[3] = {a.ow, a.oh, (size_t)a.c * taps};
    return agecl__run(ctx, "im2col", options, "im2col", 3, global, NULL, AGECL_NARGS(args), args);
}

/* The samples of dst = col2im(src) + beta * dst, with the geometry of `options`. */
static agecl_status col2im(agecl_ctx *ctx, const char *options, cols src, agecl_tensor *dst,
                           image_args a, float beta)
{
    agecl__arg args[] = {AGECL_ARG(src.buf), AGECL_ARG(src.off), AGECL_ARG(dst->buf),
                         AGECL_ARG(a.off), AGECL_ARG(a.ns), AGECL_ARG(a.c), AGECL_ARG(a.h),
                         AGECL_ARG(a.w), AGECL_ARG(a.oh), AGECL_ARG(a.ow), AGECL_ARG(src.ss),
                         AGECL_ARG(src.rs), AGECL_ARG(beta)};
    size_t global[3] = {a.w, a.h, a.c};
    return agecl__run(ctx, "im2col", options, "col2im", 3, global, NULL, AGECL_NARGS(args), args);
}

static agecl__matrix mat(cl_mem buf, size_t offset, size_t ld, int trans)
{
    return (agecl__matrix){buf, offset, ld, trans};
}

static agecl__matrix as_matrix(cols c, int trans) { return mat(c.buf, c.off, c.rs, trans); }

/* The chunk's two matrices in the workspace: col [K][ns*P], then ycol [c_out][ns*P]. */
static void chunk_cols(const agecl_conv2d_plan *p, const agecl_tensor *ws, int ns, cols *col,
                       cols *ycol)
{
    cl_uint np = (cl_uint)pixels(p), wide = np * (cl_uint)ns;
    *col = (cols){ws->buf, (cl_uint)ws->offset, np, wide};
    *ycol = (cols){ws->buf, (cl_uint)(ws->offset + rows(&p->d) * wide), np, wide};
}

static int chunk_size(const agecl_conv2d_plan *p, int s0)
{
    return p->d.n - s0 < p->chunk ? p->d.n - s0 : p->chunk;
}

/* Sample b of t as a [c, h*w] matrix (for the 1x1 stride-1 products). */
static agecl__matrix sample(const agecl_tensor *t, int b, int trans)
{
    size_t hw = (size_t)t->h * t->w;
    return mat(t->buf, t->offset + (size_t)b * t->c * hw, hw, trans);
}

agecl_status agecl__conv2d_im2col_forward(const agecl_conv2d_plan *p, const agecl_tensor *x,
                                          const agecl_tensor *wt, float beta, agecl_tensor *y,
                                          const agecl_tensor *ws)
{
    const agecl_conv2d_desc *d = &p->d;
    agecl_ctx *ctx = p->ctx;
    size_t k = rows(d);
    agecl__matrix w = mat(wt->buf, wt->offset, k, 0);
    if (is_direct(d)) {
        for (int b = 0; b < d->n; b++)
            AGECL_TRY(agecl__gemm(ctx, "conv2d_forward", (size_t)d->c_out, pixels(p), k, 1.0f,
                                  w, sample(x, b, 0), beta, sample(y, b, 0)));
        return AGECL_OK;
    }
    for (int s0 = 0; s0 < d->n; s0 += p->chunk) {
        int ns = chunk_size(p, s0);
        cols col, ycol;
        chunk_cols(p, ws, ns, &col, &ycol);
        AGECL_TRY(im2col(ctx, p->geometry, x, image(x, s0, ns, p->out_h, p->out_w),
                         d->kernel * d->kernel, col));
        AGECL_TRY(agecl__gemm(ctx, "conv2d_forward", (size_t)d->c_out, col.rs, k, 1.0f, w,
                              as_matrix(col, 0), 0.0f, as_matrix(ycol, 0)));
        AGECL_TRY(col2im(ctx, PERMUTE, ycol, y, image(y, s0, ns, p->out_h, p->out_w), beta));
    }
    return AGECL_OK;
}

agecl_status agecl__conv2d_im2col_backward_data(const agecl_conv2d_plan *p,
                                                const agecl_tensor *dy, const agecl_tensor *wt,
                                                float beta, agecl_tensor *dx,
                                                const agecl_tensor *ws)
{
    const agecl_conv2d_desc *d = &p->d;
    agecl_ctx *ctx = p->ctx;
    size_t k = rows(d);
    agecl__matrix w_t = mat(wt->buf, wt->offset, k, 1);
    if (is_direct(d)) {
        for (int b = 0; b < d->n; b++)
            AGECL_TRY(agecl__gemm(ctx, "conv2d_backward_data", k, pixels(p), (size_t)d->c_out,
                                  1.0f, w_t, sample(dy, b, 0), beta, sample(dx, b, 0)));
        return AGECL_OK;
    }
    for (int s0 = 0; s0 < d->n; s0 += p->chunk) {
        int ns = chunk_size(p, s0);
        cols col, ycol;
        chunk_cols(p, ws, ns, &col, &ycol);
        AGECL_TRY(im2col(ctx, PERMUTE, dy, image(dy, s0, ns, p->out_h, p->out_w), 1, ycol));
        AGECL_TRY(agecl__gemm(ctx, "conv2d_backward_data", k, col.rs, (size_t)d->c_out, 1.0f,
                              w_t, as_matrix(ycol, 0), 0.0f, as_matrix(col, 0)));
        AGECL_TRY(col2im(ctx, p->geometry, col, dx, image(dx, s0, ns, p->out_h, p->out_w),
                         beta));
    }
    return AGECL_OK;
}

agecl_status agecl__conv2d_im2col_backward_filter(const agecl_conv2d_plan *p,
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
            AGECL_TRY(agecl__gemm(ctx, "conv2d_backward_filter", m, n, pixels(p), 1.0f,
                                  sample(dy, b, 0), sample(x, b, 1), b == 0 ? beta : 1.0f, dwm));
        return AGECL_OK;
    }
    for (int s0 = 0; s0 < d->n; s0 += p->chunk) {
        int ns = chunk_size(p, s0);
        cols col, ycol;
        chunk_cols(p, ws, ns, &col, &ycol);
        AGECL_TRY(im2col(ctx, p->geometry, x, image(x, s0, ns, p->out_h, p->out_w),
                         d->kernel * d->kernel, col));
        AGECL_TRY(im2col(ctx, PERMUTE, dy, image(dy, s0, ns, p->out_h, p->out_w), 1, ycol));
        AGECL_TRY(agecl__gemm(ctx, "conv2d_backward_filter", m, n, col.rs, 1.0f,
                              as_matrix(ycol, 0), as_matrix(col, 1), s0 == 0 ? beta : 1.0f, dwm));
    }
    return AGECL_OK;
}
