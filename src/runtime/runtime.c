/* Contexts: one device, its cl_context and one in-order queue. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "agecl/runtime.h"
#include "runtime/ctx.h"
#include "runtime/launch.h"
#include "runtime/options_internal.h"
#include "error.h"

const char *agecl_version(void) { return "0.1.0"; }

static void CL_CALLBACK ignore_notify(const char *errinfo, const void *info, size_t cb, void *user)
{
    (void)errinfo, (void)info, (void)cb, (void)user; /* errors are reported by return codes */
}

agecl_status agecl_ctx_create(agecl_ctx **out, const char *selector, unsigned flags)
{
    if (!out) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_ctx_create: out is NULL");
    *out = NULL;
    agecl_options o;
    AGECL_TRY(agecl_options_from_env(&o));
    if (selector && *selector) {
        if (strlen(selector) >= sizeof o.device)
            return agecl__fail(AGECL_E_INVALID_ARG, "device selector '%.40s...' is too long", selector);
        strcpy(o.device, selector);
    }
    return agecl_ctx_create_with(out, &o, flags);
}

agecl_status agecl_ctx_create_with(agecl_ctx **out, const agecl_options *o, unsigned flags)
{
    if (!out || !o) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_ctx_create_with: out or o is NULL");
    *out = NULL;
    AGECL_TRY(agecl__options_check(o));
    int index = 0;
    /* an empty device selects the first device, not AGECL_DEVICE */
    AGECL_TRY(agecl_device_select(o->device[0] ? o->device : "any", &index));
    agecl_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "agecl_ctx_create");
    ctx->opt = *o;
    if (o->profile) flags |= AGECL_CTX_PROFILING;
    ctx->opt.profile = (flags & AGECL_CTX_PROFILING) != 0;
    ctx->flags = flags;
    agecl_status s = agecl__device_ids(index, &ctx->platform, &ctx->device);
    if (s == AGECL_OK) s = agecl__device_describe(ctx->platform, ctx->device, index, &ctx->info);
    if (s != AGECL_OK) {
        free(ctx);
        return s;
    }
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform,
                                      0};
    cl_int err = 0;
    ctx->context = clCreateContext(props, 1, &ctx->device, ignore_notify, NULL, &err);
    if (err != CL_SUCCESS) {
        free(ctx);
        return agecl__cl_fail(err, "clCreateContext");
    }
    cl_command_queue_properties qp = (flags & AGECL_CTX_PROFILING) ? CL_QUEUE_PROFILING_ENABLE : 0;
    ctx->queue = clCreateCommandQueue(ctx->context, ctx->device, qp, &err);
    if (err != CL_SUCCESS) {
        clReleaseContext(ctx->context);
        free(ctx);
        return agecl__cl_fail(err, "clCreateCommandQueue");
    }
    agecl__cache_dir_init(o->cache_dir, ctx->cache_dir, sizeof ctx->cache_dir);
    *out = ctx;
    return AGECL_OK;
}

void agecl_ctx_destroy(agecl_ctx *ctx)
{
    if (!ctx) return;
    clFinish(ctx->queue);
    agecl__profile_clear(ctx);
    free(ctx->events);
    free(ctx->profile);
    for (int i = 0; i < ctx->n_kernels; i++) {
        clReleaseKernel(ctx->kernels[i].handle);
        free(ctx->kernels[i].program);
        free(ctx->kernels[i].options);
        free(ctx->kernels[i].kernel);
    }
    free(ctx->kernels);
    for (int i = 0; i < ctx->n_programs; i++) {
        clReleaseProgram(ctx->programs[i].program);
        free(ctx->programs[i].name);
        free(ctx->programs[i].options);
    }
    free(ctx->programs);
    if (ctx->gemm_temp) clReleaseMemObject(ctx->gemm_temp);
    if (ctx->release_gemm) ctx->release_gemm();
    clReleaseCommandQueue(ctx->queue);
    clReleaseContext(ctx->context);
    free(ctx);
}

const agecl_device_info *agecl_ctx_device(const agecl_ctx *ctx) { return &ctx->info; }
cl_context agecl_ctx_cl_context(const agecl_ctx *ctx) { return ctx->context; }
cl_command_queue agecl_ctx_queue(const agecl_ctx *ctx) { return ctx->queue; }
cl_device_id agecl_ctx_cl_device(const agecl_ctx *ctx) { return ctx->device; }
const char *agecl_ctx_cache_dir(const agecl_ctx *ctx) { return ctx->cache_dir; }
const agecl_options *agecl_ctx_options(const agecl_ctx *ctx) { return &ctx->opt; }

agecl_status agecl_ctx_set_options(agecl_ctx *ctx, const agecl_options *o)
{
    if (!ctx || !o) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_ctx_set_options: ctx or o is NULL");
    AGECL_TRY(agecl__options_check(o));
    if (strcmp(o->device, ctx->opt.device) || strcmp(o->cache_dir, ctx->opt.cache_dir) ||
        o->profile != ctx->opt.profile)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_ctx_set_options: the device, cache folder "
                                                "and profiling are fixed when a context is created");
    ctx->opt = *o;
    return AGECL_OK;
}
agecl_cache_stats agecl_ctx_cache_stats(const agecl_ctx *ctx) { return ctx->cache; }

agecl_status agecl_ctx_finish(agecl_ctx *ctx)
{
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_ctx_finish: ctx is NULL");
    cl_int err = clFinish(ctx->queue);
    return err == CL_SUCCESS ? AGECL_OK : agecl__cl_fail(err, "clFinish");
}

agecl_status agecl__profile_add(agecl_ctx *ctx, const char *kernel, cl_event event)
{
    if (ctx->n_events == ctx->cap_events) {
        int cap = ctx->cap_events ? ctx->cap_events * 2 : 256;
        void *p = realloc(ctx->events, (size_t)cap * sizeof *ctx->events);
        if (!p) {
            clReleaseEvent(event);
            return agecl__fail(AGECL_E_OUT_OF_MEMORY, "profiling events");
        }
        ctx->events = p;
        ctx->cap_events = cap;
    }
    ctx->events[ctx->n_events++] = (agecl__profile_event){kernel, event};
    return AGECL_OK;
}

void agecl__profile_clear(agecl_ctx *ctx)
{
    for (int i = 0; i < ctx->n_events; i++) clReleaseEvent(ctx->events[i].event);
    ctx->n_events = 0;
}

void agecl_ctx_profile_reset(agecl_ctx *ctx)
{
    if (!ctx) return;
    clFinish(ctx->queue);
    agecl__profile_clear(ctx);
    ctx->n_profile = 0;
}

agecl_status agecl_ctx_profile(agecl_ctx *ctx, const agecl_profile_entry **entries, int *count)
{
    if (!ctx || !entries || !count)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_ctx_profile: NULL argument");
    if (!(ctx->flags & AGECL_CTX_PROFILING))
        return agecl__fail(AGECL_E_INVALID_ARG,
                           "agecl_ctx_profile: the context was created without AGECL_CTX_PROFILING");
    AGECL_TRY(agecl_ctx_finish(ctx));
    for (int i = 0; i < ctx->n_events; i++) {
        cl_ulong t0 = 0, t1 = 0;
        clGetEventProfilingInfo(ctx->events[i].event, CL_PROFILING_COMMAND_START, sizeof t0, &t0,
                                NULL);
        clGetEventProfilingInfo(ctx->events[i].event, CL_PROFILING_COMMAND_END, sizeof t1, &t1,
                                NULL);
        int j = 0;
        while (j < ctx->n_profile && strcmp(ctx->profile[j].name, ctx->events[i].kernel)) j++;
        if (j == ctx->n_profile) {
            if (ctx->n_profile == ctx->cap_profile) {
                int cap = ctx->cap_profile ? ctx->cap_profile * 2 : 32;
                void *p = realloc(ctx->profile, (size_t)cap * sizeof *ctx->profile);
                if (!p) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "profile table");
                ctx->profile = p;
                ctx->cap_profile = cap;
            }
            ctx->profile[ctx->n_profile++] = (agecl_profile_entry){ctx->events[i].kernel, 0, 0};
        }
        ctx->profile[j].calls++;
        ctx->profile[j].ms += t1 > t0 ? (double)(t1 - t0) * 1e-6 : 0.0;
    }
    agecl__profile_clear(ctx);
    *entries = ctx->profile;
    *count = ctx->n_profile;
    return AGECL_OK;
}

/* y = a*x + y over a size that is no multiple of any vector width, compared
 * with the same sum on the host. */
agecl_status agecl_selfcheck(agecl_ctx *ctx)
{
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_selfcheck: ctx is NULL");
    enum { N = 1031 };
    float x[N], y[N], got[N];
    for (int i = 0; i < N; i++) {
        x[i] = sinf((float)i) * 3.0f;
        y[i] = cosf((float)i * 0.5f);
    }
    agecl_tensor tx = {0}, ty = {0};
    agecl_status s = agecl_tensor_alloc(ctx, &tx, 1, 1, 1, N);
    if (s == AGECL_OK) s = agecl_tensor_alloc(ctx, &ty, 1, 1, 1, N);
    if (s == AGECL_OK) s = agecl_tensor_write(ctx, &tx, x);
    if (s == AGECL_OK) s = agecl_tensor_write(ctx, &ty, y);
    if (s == AGECL_OK) {
        float a = 1.5f;
        cl_uint n = N;
        agecl__arg args[] = {AGECL_ARG(tx.buf), AGECL_ARG(ty.buf), AGECL_ARG(a), AGECL_ARG(n)};
        size_t global = N, local = 64;
        s = agecl__run(ctx, "selfcheck", "", "saxpy", 1, &global, &local, AGECL_NARGS(args),
                       args);
        if (s == AGECL_OK) s = agecl_tensor_read(ctx, &ty, got);
        for (int i = 0; s == AGECL_OK && i < N; i++) {
            float want = 1.5f * x[i] + y[i];
            if (!(fabsf(got[i] - want) <= 1e-6f * (1.0f + fabsf(want))))
                s = agecl__fail(AGECL_E_OPENCL,
                                "self-check on %s: element %d is %g, expected %g",
                                ctx->info.name, i, got[i], want);
        }
    }
    agecl_tensor_free(&tx);
    agecl_tensor_free(&ty);
    return s;
}
