/* src/gemm/blas.h - matrix products, for the library's operations.
 *
 * Row-major, as C arrays are: C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C.
 * Offsets and leading dimensions are in elements. beta == 0 never reads C.
 *
 * Two implementations, the same semantics:
 *   - our own SGEMM (gemm/gemm_cpu.h, cl/gemm_cpu.cl), written for CPU-class
 *     devices (PoCL): the default on devices of type CL_DEVICE_TYPE_CPU;
 *   - CLBlast, which tiles through local memory as GPUs want: the default elsewhere.
 * The variable AGECL_GEMM=own or AGECL_GEMM=clblast forces one of them on any
 * device (read at every call, so that the two can be compared); any other
 * non-empty value fails with AGECL_E_INVALID_ARG.
 *
 * The temporary buffer (CLBlast's scratch, or our packed operands) is the
 * context's, allocated once and grown when a larger product needs it, so no
 * product allocates on the device once warm. Errors name the product (`what`). */
#ifndef AGECL_GEMM_BLAS_H
#define AGECL_GEMM_BLAS_H

#include <stddef.h>
#include <CL/cl.h>
#include "agecl/runtime.h"
#include "gemm/matrix.h"

/* Which implementation runs a product: DEFAULT is AGECL_GEMM's choice, else the
 * device's (ours on CPU-class devices, CLBlast elsewhere); the others force one
 * (e.g. a convolution algorithm built on CLBlast). */
typedef enum agecl__gemm_backend {
    AGECL__GEMM_DEFAULT = 0,
    AGECL__GEMM_OWN,
    AGECL__GEMM_CLBLAST
} agecl__gemm_backend;

agecl_status agecl__gemm(agecl_ctx *ctx, const char *what, size_t m, size_t n, size_t k,
                         float alpha, agecl__matrix a, agecl__matrix b, float beta,
                         agecl__matrix c);
agecl_status agecl__gemm_on(agecl_ctx *ctx, agecl__gemm_backend backend, const char *what,
                            size_t m, size_t n, size_t k, float alpha, agecl__matrix a,
                            agecl__matrix b, float beta, agecl__matrix c);

/* The same product over `batch` matrices spaced by the given strides (elements);
 * an A or B stride of 0 shares that operand across the batch. A C stride of 0
 * is refused (AGECL_E_UNSUPPORTED) on both paths: CLBlast 1.5.3 computes it
 * wrongly. */
agecl_status agecl__gemm_batched(agecl_ctx *ctx, const char *what, size_t m, size_t n, size_t k,
                                 float alpha, agecl__matrix a, size_t a_stride, agecl__matrix b,
                                 size_t b_stride, float beta, agecl__matrix c, size_t c_stride,
                                 size_t batch);
agecl_status agecl__gemm_batched_on(agecl_ctx *ctx, agecl__gemm_backend backend,
                                    const char *what, size_t m, size_t n, size_t k, float alpha,
                                    agecl__matrix a, size_t a_stride, agecl__matrix b,
                                    size_t b_stride, float beta, agecl__matrix c,
                                    size_t c_stride, size_t batch);

#endif
