/* agecl/tensor.h - device tensors, views and arenas.
 *
 * A tensor is a view of float32 elements in an OpenCL buffer: the buffer, an
 * offset in elements and an NCHW shape, packed (W fastest). Tensors do not own
 * their buffer, except those made by agecl_tensor_alloc.
 *
 * An arena is one buffer carved into tensors, as llm.c carves its parameters:
 * a model adds up what it needs (carving with no buffer only counts), allocates
 * once, then carves again for real. Offsets are rounded to AGECL_ALIGN elements
 * so that every tensor starts on a 256-byte boundary. */
#ifndef AGECL_TENSOR_H
#define AGECL_TENSOR_H

#include <stddef.h>
#include <CL/cl.h>
#include "agecl/status.h"
#include "agecl/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AGECL_ALIGN 64 /* elements */

typedef struct agecl_tensor {
    cl_mem buf;      /* NULL for a tensor carved from a counting arena */
    size_t offset;   /* in elements */
    int n, c, h, w;
    int owns;        /* 1 when agecl_tensor_free must release buf */
} agecl_tensor;

static inline size_t agecl_tensor_numel(const agecl_tensor *t)
{
    return (size_t)t->n * (size_t)t->c * (size_t)t->h * (size_t)t->w;
}

/* A tensor with its own buffer; its contents are undefined. */
agecl_status agecl_tensor_alloc(agecl_ctx *ctx, agecl_tensor *t, int n, int c, int h, int w);
/* Release a tensor made by agecl_tensor_alloc (does nothing for views); resets *t. */
void agecl_tensor_free(agecl_tensor *t);

/* A view into base's buffer, `offset` elements past base's start. Fails with
 * AGECL_E_SHAPE when it would reach past base. */
agecl_status agecl_tensor_view(const agecl_tensor *base, size_t offset, int n, int c, int h,
                               int w, agecl_tensor *view);

/* The same elements seen with another shape of the same size. */
agecl_status agecl_tensor_reshape(const agecl_tensor *t, int n, int c, int h, int w,
                                  agecl_tensor *out);

/* Blocking host <-> device copies of the whole tensor. */
agecl_status agecl_tensor_write(agecl_ctx *ctx, agecl_tensor *t, const float *host);
agecl_status agecl_tensor_read(agecl_ctx *ctx, const agecl_tensor *t, float *host);

/* Set every element to value (a kernel; not blocking). */
agecl_status agecl_tensor_fill(agecl_ctx *ctx, agecl_tensor *t, float value);
/* dst = src, element by element (same number of elements; not blocking). */
agecl_status agecl_tensor_copy(agecl_ctx *ctx, const agecl_tensor *src, agecl_tensor *dst);

/* "x: 64x3x112x112 @ 0" for messages. */
const char *agecl_tensor_describe(const agecl_tensor *t, const char *name, char *buf, size_t len);

typedef struct agecl_arena {
    cl_mem buf;        /* NULL while counting */
    size_t capacity;   /* elements */
    size_t used;       /* elements carved so far */
} agecl_arena;

/* An arena that only counts: carving it hands out offsets with a NULL buffer. */
void agecl_arena_init_counting(agecl_arena *a);
/* Allocate `capacity` elements (0: what a counting pass carved); used starts at 0. */
agecl_status agecl_arena_alloc(agecl_ctx *ctx, agecl_arena *a, size_t capacity);
/* Carve the next tensor; AGECL_E_OUT_OF_MEMORY when it does not fit. */
agecl_status agecl_arena_carve(agecl_arena *a, agecl_tensor *t, int n, int c, int h, int w);
/* Start carving again from offset 0 (the buffer is kept). */
void agecl_arena_reset(agecl_arena *a);
void agecl_arena_free(agecl_arena *a);

#ifdef __cplusplus
}
#endif
#endif
