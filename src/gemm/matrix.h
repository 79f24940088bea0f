/* src/gemm/matrix.h - an operand of the matrix products (gemm/blas.h). */
#ifndef AGECL_GEMM_MATRIX_H
#define AGECL_GEMM_MATRIX_H

#include <stddef.h>
#include <CL/cl.h>

/* A row-major matrix in a device buffer: offset and leading dimension in
 * elements. */
typedef struct agecl__matrix {
    cl_mem buf;
    size_t offset;
    size_t ld;
    int trans;      /* 1: the buffer holds the transpose of the operand */
} agecl__matrix;

#endif
