/* Programs and kernels of the embedded sources, kept per context, and launching. */
#include <stdlib.h>
#include <string.h>
#include "runtime/cl_sources.h"
#include "runtime/ctx.h"
#include "runtime/launch.h"
#include "error.h"

/* Every program is compiled as OpenCL C 1.2 without fast-math, so that results
 * match the C references to float32 rounding. */
#define BASE_OPTIONS "-cl-std=CL1.2"

const char *agecl__cl_source_find(const char *name)
{
    for (int i = 0; i < agecl__cl_source_count; i++)
        if (!strcmp(agecl__cl_sources[i].name, name)) return agecl__cl_sources[i].source;
    return NULL;
}

/* Options for a platform's quirks: Oclgrind cannot run helpers with restrict
 * pointers once inlined (cl/restrict.clh). */
static const char *platform_options(const agecl_ctx *ctx)
{
    return strstr(ctx->info.platform, "Oclgrind") ? " -DAGECL_NO_RESTRICT" : "";
}

static char *join_options(const agecl_ctx *ctx, const char *options)
{
    const char *quirks = platform_options(ctx);
    size_t n = strlen(BASE_OPTIONS) + strlen(quirks) + (options ? strlen(options) : 0) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s%s", BASE_OPTIONS, quirks, options && *options ? " " : "",
                    options ? options : "");
    return s;
}

agecl_status agecl_program_build(agecl_ctx *ctx, const char *source, const char *options,
                                 cl_program *out)
{
    if (!ctx || !source || !out)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_program_build: ctx, source and out are required");
    char *opts = join_options(ctx, options);
    if (!opts) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "agecl_program_build: options");
    agecl_status s = agecl__cache_build(ctx, source, opts, out);
    free(opts);
    return s;
}

static int grow(void **items, int *cap, int n, size_t size)
{
    if (n < *cap) return 1;
    int c = *cap ? *cap * 2 : 16;
    void *p = realloc(*items, (size_t)c * size);
    if (!p) return 0;
    *items = p;
    *cap = c;
    return 1;
}

agecl_status agecl__program(agecl_ctx *ctx, const char *program, const char *options,
                            cl_program *out)
{
    if (!options) options = "";
    for (int i = 0; i < ctx->n_programs; i++) {
        agecl__program_entry *e = &ctx->programs[i];
        if (!strcmp(e->name, program) && !strcmp(e->options, options)) {
            *out = e->program;
            return AGECL_OK;
        }
    }
    const char *source = agecl__cl_source_find(program);
    if (!source)
        return agecl__fail(AGECL_E_INVALID_ARG, "no embedded OpenCL program named '%s'", program);
    if (!grow((void **)&ctx->programs, &ctx->cap_programs, ctx->n_programs, sizeof *ctx->programs))
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "program table");
    cl_program p;
    char strict[512];
    if (ctx->opt.werror) { /* AGECL_WERROR: a warning fails the build */
        if (snprintf(strict, sizeof strict, "%s%s-Werror", options, *options ? " " : "") >=
            (int)sizeof strict)
            return agecl__fail(AGECL_E_INVALID_ARG, "program cl/%s.cl: options too long", program);
    }
    const char *built = ctx->opt.werror ? strict : options;
    agecl_status s = agecl_program_build(ctx, source, built, &p);
    if (s != AGECL_OK) {
        char detail[1024];
        snprintf(detail, sizeof detail, "%s", agecl_last_error());
        return agecl__fail(s, "program cl/%s.cl (options '%s'): %s", program, built, detail);
    }
    agecl__program_entry *e = &ctx->programs[ctx->n_programs];
    e->name = strdup(program);
    e->options = strdup(options);
    e->program = p;
    if (!e->name || !e->options) {
        free(e->name);
        free(e->options);
        clReleaseProgram(p);
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "program table");
    }
    ctx->n_programs++;
    *out = p;
    return AGECL_OK;
}

/* The context's entry of a kernel, made (program built, kernel created) on first
 * use. The pointer is good until the table grows; its strings live as long as
 * the context. */
static agecl_status kernel_entry(agecl_ctx *ctx, const char *program, const char *options,
                                 const char *kernel, const agecl__kernel_entry **out)
{
    if (!options) options = "";
    for (int i = 0; i < ctx->n_kernels; i++) {
        agecl__kernel_entry *e = &ctx->kernels[i];
        if (!strcmp(e->kernel, kernel) && !strcmp(e->program, program) &&
            !strcmp(e->options, options)) {
            *out = e;
            return AGECL_OK;
        }
    }
    cl_program p;
    AGECL_TRY(agecl__program(ctx, program, options, &p));
    if (!grow((void **)&ctx->kernels, &ctx->cap_kernels, ctx->n_kernels, sizeof *ctx->kernels))
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "kernel table");
    cl_int err = 0;
    cl_kernel k = clCreateKernel(p, kernel, &err);
    if (err != CL_SUCCESS)
        return agecl__fail(AGECL_E_OPENCL, "clCreateKernel(%s) in cl/%s.cl: %s", kernel, program,
                           agecl__cl_error_name(err));
    agecl__kernel_entry *e = &ctx->kernels[ctx->n_kernels];
    e->program = strdup(program);
    e->options = strdup(options);
    e->kernel = strdup(kernel);
    e->handle = k;
    if (!e->program || !e->options || !e->kernel) {
        free(e->program);
        free(e->options);
        free(e->kernel);
        clReleaseKernel(k);
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "kernel table");
    }
    ctx->n_kernels++;
    *out = e;
    return AGECL_OK;
}

agecl_status agecl__kernel(agecl_ctx *ctx, const char *program, const char *options,
                           const char *kernel, cl_kernel *out)
{
    const agecl__kernel_entry *e;
    AGECL_TRY(kernel_entry(ctx, program, options, kernel, &e));
    *out = e->handle;
    return AGECL_OK;
}

agecl_status agecl__launch_make(agecl_ctx *ctx, const char *program, const char *options,
                                const char *kernel, int dims, const size_t *global,
                                const size_t *local, agecl__launch *out)
{
    if (dims < 1 || dims > 3)
        return agecl__fail(AGECL_E_INVALID_ARG, "kernel %s: %d dimensions", kernel, dims);
    const agecl__kernel_entry *e;
    AGECL_TRY(kernel_entry(ctx, program, options, kernel, &e));
    /* The names as the context keeps them, which outlive the launch (the
     * profile holds the kernel's until it is read). */
    *out = (agecl__launch){.kernel = e->handle, .program = e->program, .name = e->kernel,
                           .dims = dims, .has_local = local != NULL};
    for (int d = 0; d < dims; d++) {
        out->local[d] = local ? local[d] : 1;
        out->global[d] = (global[d] + out->local[d] - 1) / out->local[d] * out->local[d];
    }
    return AGECL_OK;
}

agecl_status agecl__launch_run(agecl_ctx *ctx, const agecl__launch *l, int nargs,
                               const agecl__arg *args)
{
    for (int i = 0; i < nargs; i++) {
        cl_int err = clSetKernelArg(l->kernel, (cl_uint)i, args[i].size, args[i].value);
        if (err != CL_SUCCESS)
            return agecl__fail(AGECL_E_OPENCL, "kernel %s: argument %d: %s", l->name, i,
                               agecl__cl_error_name(err));
    }
    for (int d = 0; d < l->dims; d++)
        if (l->global[d] == 0) return AGECL_OK; /* nothing to do */
    int profiling = (ctx->flags & AGECL_CTX_PROFILING) != 0;
    cl_event ev = NULL;
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, l->kernel, (cl_uint)l->dims, NULL, l->global,
                                        l->has_local ? l->local : NULL, 0, NULL,
                                        profiling ? &ev : NULL);
    if (err != CL_SUCCESS) {
        char what[160];
        snprintf(what, sizeof what, "enqueue kernel %s (cl/%s.cl)", l->name, l->program);
        return agecl__cl_fail(err, what);
    }
    return profiling ? agecl__profile_add(ctx, l->name, ev) : AGECL_OK;
}

agecl_status agecl__run(agecl_ctx *ctx, const char *program, const char *options,
                        const char *kernel, int dims, const size_t *global, const size_t *local,
                        int nargs, const agecl__arg *args)
{
    agecl__launch l;
    AGECL_TRY(agecl__launch_make(ctx, program, options, kernel, dims, global, local, &l));
    return agecl__launch_run(ctx, &l, nargs, args);
}

agecl_status agecl__check_tensor(const agecl_tensor *t, const char *op, const char *name)
{
    if (!t) return agecl__fail(AGECL_E_INVALID_ARG, "%s: tensor %s is NULL", op, name);
    if (!t->buf) return agecl__fail(AGECL_E_INVALID_ARG, "%s: tensor %s has no buffer", op, name);
    if (t->n <= 0 || t->c <= 0 || t->h <= 0 || t->w <= 0)
        return agecl__fail(AGECL_E_SHAPE, "%s: tensor %s has shape %dx%dx%dx%d", op, name, t->n,
                           t->c, t->h, t->w);
    return AGECL_OK;
}

agecl_status agecl__offset(const agecl_tensor *t, const char *name, cl_uint *offset)
{
    size_t end = t->offset + agecl_tensor_numel(t);
    if (end > 0xffffffffu)
        return agecl__fail(AGECL_E_UNSUPPORTED, "tensor %s reaches element %zu, past 2^32", name,
                           end);
    *offset = (cl_uint)t->offset;
    return AGECL_OK;
}
