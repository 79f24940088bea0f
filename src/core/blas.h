/* src/core/blas.h - matrix products through CLBlast, for the library's operations.
 *
 * Row-major, as C arrays are: C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C.
 * Offsets and leading dimensions are in elements. The GEMM's temporary buffer is
 * the context's, allocated once and grown when a larger product needs it, so no
 * product allocates on the device. Errors name the product (`what`). */
#ifndef AGECL_CORE_BLAS_H
#define AGECL_CORE_BLAS_H

#include <stddef.h>
#include <CL/cl.h>
#include "agecl/runtime.h"

typedef struct agecl__matrix {
    cl_mem buf;
    size_t offset;
    size_t ld;
    int trans;      /* 1: the buffer holds the transpose of the operand */
} agecl__matrix;

agecl_status agecl__gemm(agecl_ctx *ctx, const char *what, size_t m, size_t n, size_t k,
                         float alpha, agecl__matrix a, agecl__matrix b, float beta,
                         agecl__matrix c);

/* The same product over `batch` matrices spaced by the given strides (elements).
 * CLBlast 1.5.3 gives wrong results for a C stride of 0: refused here. */
agecl_status agecl__gemm_batched(agecl_ctx *ctx, const char *what, size_t m, size_t n, size_t k,
                                 float alpha, agecl__matrix a, size_t a_stride, agecl__matrix b,
                                 size_t b_stride, float beta, agecl__matrix c, size_t c_stride,
                                 size_t batch);

/* The name of a CLBlast status code. */
const char *agecl__clblast_error_name(int code);

#endif
