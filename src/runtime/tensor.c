/* Device tensors, views, copies and arenas. */
#include <stdio.h>
#include <string.h>
#include "agecl/tensor.h"
#include "runtime/ctx.h"
#include "runtime/launch.h"
#include "error.h"

static agecl_status check_shape(const char *what, int n, int c, int h, int w)
{
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
        return agecl__fail(AGECL_E_SHAPE, "%s: shape %dx%dx%dx%d has a dimension <= 0", what, n,
                           c, h, w);
    return AGECL_OK;
}

static agecl_status create_buffer(agecl_ctx *ctx, size_t bytes, const char *what, cl_mem *out)
{
    if (bytes > ctx->info.max_alloc_bytes && ctx->info.max_alloc_bytes)
        return agecl__fail(AGECL_E_OUT_OF_MEMORY,
                           "%s: %zu bytes exceed the largest buffer %s allows (%llu bytes)", what,
                           bytes, ctx->info.name, ctx->info.max_alloc_bytes);
    cl_int err = 0;
    *out = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s: clCreateBuffer(%zu bytes) on %s", what, bytes,
                 ctx->info.name);
        return agecl__cl_fail(err, detail);
    }
    return AGECL_OK;
}

agecl_status agecl_tensor_alloc(agecl_ctx *ctx, agecl_tensor *t, int n, int c, int h, int w)
{
    if (!ctx || !t) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_tensor_alloc: NULL argument");
    memset(t, 0, sizeof *t);
    AGECL_TRY(check_shape("agecl_tensor_alloc", n, c, h, w));
    size_t bytes = (size_t)n * c * h * w * sizeof(float);
    AGECL_TRY(create_buffer(ctx, bytes, "agecl_tensor_alloc", &t->buf));
    t->n = n, t->c = c, t->h = h, t->w = w;
    t->owns = 1;
    return AGECL_OK;
}

void agecl_tensor_free(agecl_tensor *t)
{
    if (!t) return;
    if (t->owns && t->buf) clReleaseMemObject(t->buf);
    memset(t, 0, sizeof *t);
}

static size_t buffer_elements(cl_mem buf)
{
    size_t bytes = 0;
    if (!buf || clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL) != CL_SUCCESS)
        return 0;
    return bytes / sizeof(float);
}

agecl_status agecl_tensor_view(const agecl_tensor *base, size_t offset, int n, int c, int h,
                               int w, agecl_tensor *view)
{
    if (!base || !view) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_tensor_view: NULL argument");
    AGECL_TRY(check_shape("agecl_tensor_view", n, c, h, w));
    size_t need = offset + (size_t)n * c * h * w;
    if (need > agecl_tensor_numel(base))
        return agecl__fail(AGECL_E_SHAPE,
                           "agecl_tensor_view: %dx%dx%dx%d at offset %zu reaches element %zu of "
                           "a %dx%dx%dx%d tensor", n, c, h, w, offset, need, base->n, base->c,
                           base->h, base->w);
    *view = (agecl_tensor){base->buf, base->offset + offset, n, c, h, w, 0};
    return AGECL_OK;
}

agecl_status agecl_tensor_reshape(const agecl_tensor *t, int n, int c, int h, int w,
                                  agecl_tensor *out)
{
    if (!t || !out) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_tensor_reshape: NULL argument");
    AGECL_TRY(check_shape("agecl_tensor_reshape", n, c, h, w));
    if ((size_t)n * c * h * w != agecl_tensor_numel(t))
        return agecl__fail(AGECL_E_SHAPE, "agecl_tensor_reshape: %dx%dx%dx%d to %dx%dx%dx%d "
                           "changes the element count", t->n, t->c, t->h, t->w, n, c, h, w);
    *out = (agecl_tensor){t->buf, t->offset, n, c, h, w, 0};
    return AGECL_OK;
}

static agecl_status check_io(agecl_ctx *ctx, const agecl_tensor *t, const void *host,
                             const char *what)
{
    if (!ctx || !t || !host) return agecl__fail(AGECL_E_INVALID_ARG, "%s: NULL argument", what);
    if (!t->buf) return agecl__fail(AGECL_E_INVALID_ARG, "%s: the tensor has no buffer", what);
    size_t have = buffer_elements(t->buf);
    if (t->offset + agecl_tensor_numel(t) > have)
        return agecl__fail(AGECL_E_SHAPE, "%s: tensor %dx%dx%dx%d at offset %zu overruns its "
                           "buffer of %zu elements", what, t->n, t->c, t->h, t->w, t->offset, have);
    return AGECL_OK;
}

agecl_status agecl_tensor_write(agecl_ctx *ctx, agecl_tensor *t, const float *host)
{
    AGECL_TRY(check_io(ctx, t, host, "agecl_tensor_write"));
    cl_int err = clEnqueueWriteBuffer(ctx->queue, t->buf, CL_TRUE, t->offset * sizeof(float),
                                      agecl_tensor_numel(t) * sizeof(float), host, 0, NULL, NULL);
    return err == CL_SUCCESS ? AGECL_OK : agecl__cl_fail(err, "agecl_tensor_write");
}

agecl_status agecl_tensor_read(agecl_ctx *ctx, const agecl_tensor *t, float *host)
{
    AGECL_TRY(check_io(ctx, t, host, "agecl_tensor_read"));
    cl_int err = clEnqueueReadBuffer(ctx->queue, t->buf, CL_TRUE, t->offset * sizeof(float),
                                     agecl_tensor_numel(t) * sizeof(float), host, 0, NULL, NULL);
    return err == CL_SUCCESS ? AGECL_OK : agecl__cl_fail(err, "agecl_tensor_read");
}

agecl_status agecl_tensor_fill(agecl_ctx *ctx, agecl_tensor *t, float value)
{
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_tensor_fill: ctx is NULL");
    AGECL_TRY(agecl__check_tensor(t, "agecl_tensor_fill", "t"));
    cl_uint off, n = (cl_uint)agecl_tensor_numel(t);
    AGECL_TRY(agecl__offset(t, "t", &off));
    agecl__arg args[] = {AGECL_ARG(t->buf), AGECL_ARG(off), AGECL_ARG(n), AGECL_ARG(value)};
    size_t global = n, local = 64;
    return agecl__run(ctx, "fill", "", "fill", 1, &global, &local, AGECL_NARGS(args), args);
}

agecl_status agecl_tensor_copy(agecl_ctx *ctx, const agecl_tensor *src, agecl_tensor *dst)
{
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_tensor_copy: ctx is NULL");
    AGECL_TRY(agecl__check_tensor(src, "agecl_tensor_copy", "src"));
    AGECL_TRY(agecl__check_tensor(dst, "agecl_tensor_copy", "dst"));
    if (agecl_tensor_numel(src) != agecl_tensor_numel(dst))
        return agecl__fail(AGECL_E_SHAPE, "agecl_tensor_copy: %zu elements into %zu",
                           agecl_tensor_numel(src), agecl_tensor_numel(dst));
    cl_uint so, dof, n = (cl_uint)agecl_tensor_numel(src);
    AGECL_TRY(agecl__offset(src, "src", &so));
    AGECL_TRY(agecl__offset(dst, "dst", &dof));
    agecl__arg args[] = {AGECL_ARG(src->buf), AGECL_ARG(so), AGECL_ARG(dst->buf), AGECL_ARG(dof),
                         AGECL_ARG(n)};
    size_t global = n, local = 64;
    return agecl__run(ctx, "fill", "", "copy", 1, &global, &local, AGECL_NARGS(args), args);
}

const char *agecl_tensor_describe(const agecl_tensor *t, const char *name, char *buf, size_t len)
{
    if (!t) snprintf(buf, len, "%s: (null)", name);
    else snprintf(buf, len, "%s: %dx%dx%dx%d @ %zu", name, t->n, t->c, t->h, t->w, t->offset);
    return buf;
}

void agecl_arena_init_counting(agecl_arena *a)
{
    if (a) memset(a, 0, sizeof *a);
}

agecl_status agecl_arena_alloc(agecl_ctx *ctx, agecl_arena *a, size_t capacity)
{
    if (!ctx || !a) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_arena_alloc: NULL argument");
    if (a->buf) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_arena_alloc: already allocated");
    if (!capacity) capacity = a->used;
    if (!capacity) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_arena_alloc: nothing to allocate");
    AGECL_TRY(create_buffer(ctx, capacity * sizeof(float), "agecl_arena_alloc", &a->buf));
    a->capacity = capacity;
    a->used = 0;
    return AGECL_OK;
}

agecl_status agecl_arena_carve(agecl_arena *a, agecl_tensor *t, int n, int c, int h, int w)
{
    if (!a || !t) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_arena_carve: NULL argument");
    AGECL_TRY(check_shape("agecl_arena_carve", n, c, h, w));
    size_t start = (a->used + AGECL_ALIGN - 1) / AGECL_ALIGN * AGECL_ALIGN;
    size_t end = start + (size_t)n * c * h * w;
    if (a->buf && end > a->capacity)
        return agecl__fail(AGECL_E_OUT_OF_MEMORY,
                           "agecl_arena_carve: %dx%dx%dx%d does not fit (%zu of %zu elements "
                           "used)", n, c, h, w, a->used, a->capacity);
    *t = (agecl_tensor){a->buf, start, n, c, h, w, 0};
    a->used = end;
    return AGECL_OK;
}

void agecl_arena_reset(agecl_arena *a)
{
    if (a) a->used = 0;
}

void agecl_arena_free(agecl_arena *a)
{
    if (!a) return;
    if (a->buf) clReleaseMemObject(a->buf);
    memset(a, 0, sizeof *a);
}
