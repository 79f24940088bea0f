/* Per-channel arguments and the launch sizes shared by the layer operations. */
#include "layers/layer_util.h"
#include "runtime/launch.h"
#include "runtime/options_internal.h"
#include "error.h"

agecl_status agecl__layer_channels(const char *op, agecl__channel_arg *args, int count, int C)
{
    for (int i = 0; i < count; i++)
        AGECL_TRY(agecl__arg_count(args[i].t, op, args[i].name, (size_t)C, "x's channel count",
                                   &args[i].off));
    return AGECL_OK;
}

int agecl__layer_cpu(const agecl_ctx *ctx)
{
    return agecl__options_cpu_kernels(agecl_ctx_options(ctx), agecl_ctx_device(ctx));
}

/* `want` (a power of two) or, when the device allows less for the kernel, the
 * largest power of two it allows. */
static agecl_status group_size(agecl_ctx *ctx, const char *program, const char *kernel,
                               size_t want, size_t *local)
{
    cl_kernel k;
    AGECL_TRY(agecl__kernel(ctx, program, "", kernel, &k));
    size_t limit = 0;
    cl_int err = clGetKernelWorkGroupInfo(k, agecl_ctx_cl_device(ctx), CL_KERNEL_WORK_GROUP_SIZE,
                                          sizeof limit, &limit, NULL);
    if (err != CL_SUCCESS) return agecl__cl_fail(err, kernel);
    size_t size = want;
    while (size > 1 && size > limit) size /= 2;
    *local = size;
    return AGECL_OK;
}

agecl_status agecl__layer_launch(agecl_ctx *ctx, const char *program, const char *kernel,
                                 size_t count, agecl__launch *out)
{
    size_t local;
    AGECL_TRY(group_size(ctx, program, kernel, 256, &local));
    return agecl__launch_make(ctx, program, "", kernel, 1, &count, &local, out);
}

agecl_status agecl__layer_launch_grid(agecl_ctx *ctx, const char *program, const char *kernel,
                                      const size_t size[3], agecl__launch *out)
{
    size_t want = 1;
    while (want < 64 && want < size[0]) want *= 2;
    size_t local[3] = {1, 1, 1};
    AGECL_TRY(group_size(ctx, program, kernel, want, &local[0]));
    return agecl__launch_make(ctx, program, "", kernel, 3, size, local, out);
}

agecl_status agecl__layer_launch_reduce(agecl_ctx *ctx, const char *program, const char *kernel,
                                        size_t channels, agecl__launch *out)
{
    size_t want = (agecl_ctx_device(ctx)->type & CL_DEVICE_TYPE_CPU) ? 64 : 256, local;
    AGECL_TRY(group_size(ctx, program, kernel, want, &local));
    size_t global = channels * local;
    return agecl__launch_make(ctx, program, "", kernel, 1, &global, &local, out);
}

agecl_status agecl__layer_launch_cpu(agecl_ctx *ctx, const char *program, const char *kernel,
                                     const size_t count[2], agecl__launch *out)
{
    const size_t local[2] = {1, 1};
    return agecl__launch_make(ctx, program, "", kernel, 2, count, local, out);
}

agecl_status agecl__layer_run(agecl_ctx *ctx, const char *program, const char *kernel,
                              size_t count, int nargs, const agecl__arg *args)
{
    agecl__launch l;
    AGECL_TRY(agecl__layer_launch(ctx, program, kernel, count, &l));
    return agecl__launch_run(ctx, &l, nargs, args);
}
