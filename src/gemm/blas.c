/* Matrix products: our own kernels on CPU-class devices, CLBlast elsewhere. */
#include <stdlib.h>
#include <string.h>
#include <clblast_c.h>
#include "gemm/blas.h"
#include "gemm/clblast_params.h"
#include "runtime/ctx.h"
#include "gemm/gemm_cpu.h"
#include "error.h"

static agecl_status blas_fail(int code, const char *what)
{
    agecl_status s = (code == CLBlastTempBufferAllocFailure || code == CL_OUT_OF_HOST_MEMORY ||
                      code == CL_MEM_OBJECT_ALLOCATION_FAILURE)
                         ? AGECL_E_OUT_OF_MEMORY
                         : AGECL_E_BLAS;
    return agecl__fail(s, "%s: CLBlast: %s (%d)", what, agecl__clblast_error_name(code), code);
}

/* Grow the context's GEMM temporary buffer to at least `bytes`. CLBlast's
 * temporaries and our packed panels share it (one in-order queue). */
static agecl_status ensure_temp(agecl_ctx *ctx, size_t bytes, const char *what)
{
    if (bytes <= ctx->gemm_temp_bytes && ctx->gemm_temp) return AGECL_OK;
    /* Commands already enqueued may still use the old buffer. OpenCL defers the
     * release until they finish, but PoCL 3.1 was seen handing its memory out
     * again while they ran; growth is rare, so wait for the queue first. */
    if (ctx->gemm_temp) {
        cl_int err = clFinish(ctx->queue);
        if (err != CL_SUCCESS) return agecl__cl_fail(err, what);
        clReleaseMemObject(ctx->gemm_temp);
    }
    ctx->gemm_temp = NULL;
    ctx->gemm_temp_bytes = 0;
    cl_int err = 0;
    cl_mem m = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes ? bytes : 4, NULL, &err);
    if (err != CL_SUCCESS) {
        char detail[200];
        snprintf(detail, sizeof detail, "%s: GEMM temporary buffer of %zu bytes", what, bytes);
        return agecl__cl_fail(err, detail);
    }
    ctx->gemm_temp = m;
    ctx->gemm_temp_bytes = bytes;
    return AGECL_OK;
}

/* Whether this product runs on our kernels: the context's gemm option (AGECL_GEMM)
 * forces a path, else CPU-class devices use ours. */
static int use_own(const agecl_ctx *ctx, agecl__gemm_backend backend)
{
    if (backend != AGECL__GEMM_DEFAULT) return backend == AGECL__GEMM_OWN;
    if (ctx->opt.gemm != AGECL_GEMM_PATH_AUTO) return ctx->opt.gemm == AGECL_GEMM_PATH_OWN;
    return (ctx->info.type & CL_DEVICE_TYPE_CPU) != 0;
}

static agecl_status gemm_own(agecl_ctx *ctx, const char *what, size_t m, size_t n, size_t k,
                             float alpha, agecl__matrix a, size_t a_stride, agecl__matrix b,
                             size_t b_stride, float beta, agecl__matrix c, size_t c_stride,
                             size_t batch)
{
    agecl__gemm_tile tile = agecl__gemm_cpu_tile(ctx);
    size_t bytes = agecl__gemm_cpu_pack_bytes(tile, m, n, k, a, a_stride, b, b_stride, batch);
    AGECL_TRY(ensure_temp(ctx, bytes, what));
    return agecl__gemm_cpu(ctx, tile, what, m, n, k, alpha, a, a_stride, b, b_stride, beta, c,
                           c_stride, batch, ctx->gemm_temp);
}

static CLBlastTranspose tr(int t) { return t ? CLBlastTransposeYes : CLBlastTransposeNo; }

static agecl_status finish_event(agecl_ctx *ctx, cl_event ev, const char *name)
{
    return ev ? agecl__profile_add(ctx, name, ev) : AGECL_OK;
}

agecl_status agecl__gemm(agecl_ctx *ctx, const char *what, size_t m, size_t n, size_t k,
                         float alpha, agecl__matrix a, agecl__matrix b, float beta,
                         agecl__matrix c)
{
    return agecl__gemm_on(ctx, AGECL__GEMM_DEFAULT, what, m, n, k, alpha, a, b, beta, c);
}

agecl_status agecl__gemm_on(agecl_ctx *ctx, agecl__gemm_backend backend, const char *what,
                            size_t m, size_t n, size_t k, float alpha, agecl__matrix a,
                            agecl__matrix b, float beta, agecl__matrix c)
{
    if (!m || !n) return AGECL_OK;
    int own = use_own(ctx, backend);
    if (own) return gemm_own(ctx, what, m, n, k, alpha, a, 0, b, 0, beta, c, 0, 1);
    agecl__clblast_use(ctx); /* the tuned parameters saved for this device, if any */
    size_t temp = 0;
    int code = CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, tr(a.trans), tr(b.trans), m, n, k,
                                          a.offset, a.ld, b.offset, b.ld, c.offset, c.ld,
                                          &ctx->queue, &temp);
    if (code != CLBlastSuccess) return blas_fail(code, what);
    AGECL_TRY(ensure_temp(ctx, temp, what));
    cl_event ev = NULL;
    int profiling = (ctx->flags & AGECL_CTX_PROFILING) != 0;
    code = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, tr(a.trans), tr(b.trans), m, n, k,
                                      alpha, a.buf, a.offset, a.ld, b.buf, b.offset, b.ld, beta,
                                      c.buf, c.offset, c.ld, &ctx->queue,
                                      profiling ? &ev : NULL, ctx->gemm_temp);
    if (code != CLBlastSuccess) return blas_fail(code, what);
    return finish_event(ctx, ev, "clblast_sgemm");
}

agecl_status agecl__gemm_batched(agecl_ctx *ctx, const char *what, size_t m, size_t n, size_t k,
                                 float alpha, agecl__matrix a, size_t a_stride, agecl__matrix b,
                                 size_t b_stride, float beta, agecl__matrix c, size_t c_stride,
                                 size_t batch)
{
    return agecl__gemm_batched_on(ctx, AGECL__GEMM_DEFAULT, what, m, n, k, alpha, a, a_stride, b,
                                  b_stride, beta, c, c_stride, batch);
}

agecl_status agecl__gemm_batched_on(agecl_ctx *ctx, agecl__gemm_backend backend,
                                    const char *what, size_t m, size_t n, size_t k, float alpha,
                                    agecl__matrix a, size_t a_stride, agecl__matrix b,
                                    size_t b_stride, float beta, agecl__matrix c,
                                    size_t c_stride, size_t batch)
{
    if (!m || !n || !batch) return AGECL_OK;
    if (c_stride == 0 && batch > 1)
        return agecl__fail(AGECL_E_UNSUPPORTED,
                           "%s: a batched GEMM with a C stride of 0 (CLBlast 1.5.3 computes it "
                           "wrongly)", what);
    int own = use_own(ctx, backend);
    if (own)
        return gemm_own(ctx, what, m, n, k, alpha, a, a_stride, b, b_stride, beta, c, c_stride,
                        batch);
    agecl__clblast_use(ctx);
    cl_event ev = NULL;
    int profiling = (ctx->flags & AGECL_CTX_PROFILING) != 0;
    int code = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, tr(a.trans), tr(b.trans), m, n,
                                          k, alpha, a.buf, a.offset, a.ld, a_stride, b.buf,
                                          b.offset, b.ld, b_stride, beta, c.buf, c.offset, c.ld,
                                          c_stride, batch, &ctx->queue, profiling ? &ev : NULL);
    if (code != CLBlastSuccess) return blas_fail(code, what);
    return finish_event(ctx, ev, "clblast_sgemm_batched");
}
