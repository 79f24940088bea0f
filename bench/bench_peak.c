/* The device's own ceilings (bench_peak.cl): FMA throughput, the best of
 * float4, float8 and float16 chains, and float4 copy bandwidth. The other
 * sections report their rates as a share of these. The kernels are the bench's
 * own: built through the public agecl_program_build (and its disk cache) and
 * launched with plain OpenCL. */
#include <stdio.h>
#include <string.h>
#include "bench_util.h"

extern const char bench_peak_source[]; /* bench_peak.cl, embedded by tools/embed_cl.py */

#define TARGET_MS 100.0            /* length of one timed run once calibrated */
#define COPY_MAX_BYTES ((size_t)256 << 20)

/* One launch of either kernel over the same work size. */
typedef struct peak_run {
    agecl_ctx *ctx;
    char options[16];              /* "-DVEC=8" */
    char built[16];                /* the options program was built with */
    cl_program program;
    cl_kernel fma, copy;
    size_t global, local;
    agecl_tensor out, src, dst;
    unsigned iters;                /* FMAs per chain */
    cl_uint n4;                    /* float4 elements copied */
    unsigned reps;                 /* copies per timed run */
} peak_run;

static void release_program(peak_run *p)
{
    if (p->fma) clReleaseKernel(p->fma);
    if (p->copy) clReleaseKernel(p->copy);
    if (p->program) clReleaseProgram(p->program);
    p->fma = p->copy = NULL;
    p->program = NULL;
}

/* The program for p->options, built when they changed. */
static agecl_status use_program(peak_run *p)
{
    if (p->program && !strcmp(p->built, p->options)) return AGECL_OK;
    release_program(p);
    AGECL_TRY(agecl_program_build(p->ctx, bench_peak_source, p->options, &p->program));
    cl_int e1, e2;
    p->fma = clCreateKernel(p->program, "fma_peak", &e1);
    p->copy = clCreateKernel(p->program, "copy_peak", &e2);
    snprintf(p->built, sizeof p->built, "%s", p->options);
    return e1 == CL_SUCCESS && e2 == CL_SUCCESS ? AGECL_OK : AGECL_E_OPENCL;
}

/* global rounded up to whole work-groups (the kernels check their bound). */
static agecl_status launch(peak_run *p, cl_kernel k, size_t global)
{
    global = (global + p->local - 1) / p->local * p->local;
    cl_int e = clEnqueueNDRangeKernel(agecl_ctx_queue(p->ctx), k, 1, NULL, &global, &p->local, 0,
                                      NULL, NULL);
    return e == CL_SUCCESS ? AGECL_OK : AGECL_E_OPENCL;
}

static agecl_status run_fma(void *arg)
{
    peak_run *p = arg;
    float a = 0.999f, b = 1e-3f;
    cl_uint iters = p->iters;
    AGECL_TRY(use_program(p));
    cl_int e = clSetKernelArg(p->fma, 0, sizeof(cl_mem), &p->out.buf);
    e |= clSetKernelArg(p->fma, 1, sizeof iters, &iters);
    e |= clSetKernelArg(p->fma, 2, sizeof a, &a);
    e |= clSetKernelArg(p->fma, 3, sizeof b, &b);
    return e == CL_SUCCESS ? launch(p, p->fma, p->global) : AGECL_E_OPENCL;
}

static agecl_status run_copy(void *arg)
{
    peak_run *p = arg;
    AGECL_TRY(use_program(p));
    cl_int e = clSetKernelArg(p->copy, 0, sizeof(cl_mem), &p->src.buf);
    e |= clSetKernelArg(p->copy, 1, sizeof(cl_mem), &p->dst.buf);
    e |= clSetKernelArg(p->copy, 2, sizeof p->n4, &p->n4);
    if (e != CL_SUCCESS) return AGECL_E_OPENCL;
    for (unsigned i = 0; i < p->reps; i++) AGECL_TRY(launch(p, p->copy, p->n4));
    return AGECL_OK;
}

/* Scale *knob (iterations or repetitions, from 1) until one run of fn lasts
 * about TARGET_MS: first by 8 while a run is too short to time well, then in
 * proportion. The first run builds the kernel. */
static agecl_status calibrate(bench_dev *d, bench_fn fn, peak_run *p, unsigned *knob,
                              unsigned max)
{
    *knob = 1;
    AGECL_TRY(fn(p));
    AGECL_TRY(agecl_ctx_finish(d->ctx));
    for (;;) {
        double t0 = bench_now_ms();
        AGECL_TRY(fn(p));
        AGECL_TRY(agecl_ctx_finish(d->ctx));
        double ms = bench_now_ms() - t0;
        if (ms >= TARGET_MS / 8 || *knob >= max / 8) {
            double scaled = *knob * (ms > 0 ? TARGET_MS / ms : 8.0);
            *knob = scaled < 1 ? 1 : scaled > max ? max : (unsigned)scaled;
            return AGECL_OK;
        }
        *knob *= 8;
    }
}

static agecl_status fma_widths(bench_dev *d, peak_run *p)
{
    static const int widths[] = {4, 8, 16};
    double gflops[3], ms[3];
    char shapes[3][48];
    for (int i = 0; i < 3; i++) {
        snprintf(p->options, sizeof p->options, "-DVEC=%d", widths[i]);
        bench_progress("peak: fma float%d", widths[i]);
        AGECL_TRY(calibrate(d, run_fma, p, &p->iters, 1u << 24));
        AGECL_TRY(bench_time(d, run_fma, p, &ms[i]));
        gflops[i] = 2.0 * 8 * widths[i] * p->iters * (double)p->global / (ms[i] * 1e6);
        snprintf(shapes[i], sizeof shapes[i], "%zu items x %u iters", p->global, p->iters);
        if (gflops[i] > d->peak_gflops) d->peak_gflops = gflops[i];
    }
    static const char *names[] = {"fma_float4", "fma_float8", "fma_float16"};
    for (int i = 0; i < 3; i++) {
        bench_result r = bench_result_init("peak", names[i], shapes[i], 0);
        r.ms = ms[i];
        r.gflops = gflops[i];
        bench_emit(d, &r);
    }
    return AGECL_OK;
}

static agecl_status copy_bandwidth(bench_dev *d, peak_run *p)
{
    const agecl_device_info *info = agecl_ctx_device(d->ctx);
    size_t bytes = COPY_MAX_BYTES;
    if (info->max_alloc_bytes && bytes > info->max_alloc_bytes) bytes = info->max_alloc_bytes;
    if (info->global_mem_bytes && bytes > info->global_mem_bytes / 8)
        bytes = info->global_mem_bytes / 8;
    bytes &= ~(size_t)15;
    int floats = (int)(bytes / sizeof(float));
    p->n4 = (cl_uint)(bytes / 16);
    AGECL_TRY(agecl_tensor_alloc(d->ctx, &p->src, 1, 1, 1, floats));
    AGECL_TRY(agecl_tensor_alloc(d->ctx, &p->dst, 1, 1, 1, floats));
    AGECL_TRY(agecl_tensor_fill(d->ctx, &p->src, 1.0f));
    AGECL_TRY(agecl_tensor_fill(d->ctx, &p->dst, 0.0f));
    bench_progress("peak: copy %.0f MiB", bytes / 1048576.0);
    AGECL_TRY(calibrate(d, run_copy, p, &p->reps, 1u << 12));
    double ms;
    AGECL_TRY(bench_time(d, run_copy, p, &ms));
    ms /= p->reps;
    d->peak_gbps = 2.0 * bytes / (ms * 1e6);
    char shape[48];
    snprintf(shape, sizeof shape, "%.0f MiB x %u, read+write", bytes / 1048576.0, p->reps);
    bench_result r = bench_result_init("peak", "copy_float4", shape, 0);
    r.ms = ms;
    r.gbps = d->peak_gbps;
    bench_emit(d, &r);
    return AGECL_OK;
}

agecl_status bench_peak(bench_dev *d)
{
    const agecl_device_info *info = agecl_ctx_device(d->ctx);
    peak_run p = {.ctx = d->ctx};
    /* Enough work-groups to fill every compute unit several times over. */
    p.local = info->max_work_group_size < 256 ? info->max_work_group_size : 256;
    p.global = (info->compute_units ? info->compute_units : 1) * 8 * p.local;
    d->peak_gflops = d->peak_gbps = 0;
    agecl_status s = agecl_tensor_alloc(d->ctx, &p.out, 1, 1, 1, (int)p.global);
    if (s == AGECL_OK) s = fma_widths(d, &p);
    if (s == AGECL_OK) s = copy_bandwidth(d, &p);
    release_program(&p);
    agecl_tensor_free(&p.out);
    agecl_tensor_free(&p.src);
    agecl_tensor_free(&p.dst);
    return s;
}
