/* src/runtime/launch.h - how the library's operations find and run their kernels.
 *
 *   agecl__arg args[] = {AGECL_ARG(x->buf), AGECL_ARG(xoff), AGECL_ARG(n)};
 *   size_t global[1] = {count};
 *   return agecl__run(ctx, "prelu", "", "prelu_forward", 1, global, NULL, 3, args);
 *
 * The program is the embedded cl/<program>.cl, built once per context (and per
 * options string, e.g. "-DTILE=8") through the disk cache; kernels are created
 * once and kept. Global sizes are rounded up to a multiple of the local size, so
 * kernels check their bounds. On failure the detail names the kernel. */
#ifndef AGECL_RUNTIME_LAUNCH_H
#define AGECL_RUNTIME_LAUNCH_H

#include <stddef.h>
#include <CL/cl.h>
#include "agecl/runtime.h"
#include "agecl/tensor.h"

typedef struct agecl__arg {
    size_t size;
    const void *value; /* NULL with a size: local memory of that many bytes */
} agecl__arg;

#define AGECL_ARG(x) ((agecl__arg){sizeof(x), &(x)})
#define AGECL_LOCAL(bytes) ((agecl__arg){(bytes), NULL})
#define AGECL_NARGS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The built program of an embedded source (owned by the context). */
agecl_status agecl__program(agecl_ctx *ctx, const char *program, const char *options,
                            cl_program *out);

/* The kernel `kernel` of an embedded program (owned by the context). */
agecl_status agecl__kernel(agecl_ctx *ctx, const char *program, const char *options,
                           const char *kernel, cl_kernel *out);

/* A launch made once, run many times (what the layer plans hold): the kernel
 * looked up, the global size rounded up to the local one; program and name
 * are the context's copies, for messages and the profile. */
typedef struct agecl__launch {
    cl_kernel kernel;
    const char *program, *name;
    int dims;
    size_t global[3], local[3];
    int has_local; /* 0: the driver chooses */
} agecl__launch;

/* Look the kernel up and fix the sizes. local may be NULL. */
agecl_status agecl__launch_make(agecl_ctx *ctx, const char *program, const char *options,
                                const char *kernel, int dims, const size_t *global,
                                const size_t *local, agecl__launch *out);

/* Set args, then enqueue (nothing when a global size is 0). */
agecl_status agecl__launch_run(agecl_ctx *ctx, const agecl__launch *l, int nargs,
                               const agecl__arg *args);

/* Both at once: set args, then enqueue an NDRange of `dims` dimensions. local
 * may be NULL. */
agecl_status agecl__run(agecl_ctx *ctx, const char *program, const char *options,
                        const char *kernel, int dims, const size_t *global, const size_t *local,
                        int nargs, const agecl__arg *args);

/* Offsets are passed to kernels as 32-bit unsigned element counts; this checks
 * that a tensor fits (AGECL_E_UNSUPPORTED otherwise) and gives its offset. */
agecl_status agecl__offset(const agecl_tensor *t, const char *name, cl_uint *offset);

/* Fail with AGECL_E_INVALID_ARG when t is NULL or has no buffer, naming it. */
agecl_status agecl__check_tensor(const agecl_tensor *t, const char *op, const char *name);

#endif
