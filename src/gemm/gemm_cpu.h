/* src/gemm/gemm_cpu.h - the library's own SGEMM for CPU-class devices (cl/gemm_cpu.cl).
 *
 * The same product as agecl__gemm_batched (gemm/blas.h): row-major, any
 * transposes, offsets, leading dimensions and strides (an A or B stride of 0
 * shares that operand across the batch; a C stride of 0 is the caller's to
 * refuse). Each work-item computes one block of C (a tile) in SIMD registers.
 * The operands are read in place where their layout allows, else packed into
 * `packed`, a device buffer of at least agecl__gemm_cpu_pack_bytes bytes; blas.c
 * chooses between this and CLBlast and owns that buffer. */
#ifndef AGECL_GEMM_GEMM_CPU_H
#define AGECL_GEMM_GEMM_CPU_H

#include <stddef.h>
#include <CL/cl.h>
#include "agecl/runtime.h"
#include "gemm/matrix.h"

/* A work-item's block of C: mr rows of nr columns, in vectors of vw floats. */
typedef struct agecl__gemm_tile {
    size_t mr, nr, vw;
} agecl__gemm_tile;

extern const agecl__gemm_tile agecl__gemm_tile_wide;   /* 8 x 32 in float16: AVX-512 */
extern const agecl__gemm_tile agecl__gemm_tile_narrow; /* 6 x 16 in float8: AVX2 and less */

/* The tile for ctx's device, from its native float vector width. */
agecl__gemm_tile agecl__gemm_cpu_tile(agecl_ctx *ctx);

/* Bytes of packing buffer agecl__gemm_cpu needs for this product. */
size_t agecl__gemm_cpu_pack_bytes(agecl__gemm_tile tile, size_t m, size_t n, size_t k,
                                  agecl__matrix a, size_t a_stride, agecl__matrix b,
                                  size_t b_stride, size_t batch);

agecl_status agecl__gemm_cpu(agecl_ctx *ctx, agecl__gemm_tile tile, const char *what, size_t m,
                             size_t n, size_t k, float alpha, agecl__matrix a, size_t a_stride,
                             agecl__matrix b, size_t b_stride, float beta, agecl__matrix c,
                             size_t c_stride, size_t batch, cl_mem packed);

#endif
