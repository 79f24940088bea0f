/* src/gemm/clblast_tune.h - the search for CLBlast's SGEMM parameters (see
 * include/agecl/clblast_tune.h; clblast_params.h keeps and applies them). */
#ifndef AGECL_GEMM_CLBLAST_TUNE_H
#define AGECL_GEMM_CLBLAST_TUNE_H

#include <stddef.h>
#include "gemm/clblast_params.h"

/* One product of the timing set: row-major C[m x n] = op(A) op(B). */
typedef struct agecl__clblast_shape {
    size_t m, n, k;
    int a_trans, b_trans;
} agecl__clblast_shape;

/* What a search tries: candidates of each kernel in order, and the products
 * that time them. */
typedef struct agecl__clblast_search {
    const size_t (*xgemm)[AGECL__XGEMM_PARAMS];
    int n_xgemm;
    const size_t (*direct)[AGECL__DIRECT_PARAMS];
    int n_direct;
    const agecl__clblast_shape *shapes;
    int n_shapes;
} agecl__clblast_search;

/* The tune with a given search (agecl_clblast_tune_ex uses the device's lists). */
agecl_status agecl__clblast_tune_search(agecl_ctx *ctx, const agecl__clblast_search *search,
                                        const agecl_clblast_tune_options *options,
                                        agecl_clblast_tune_report *report);

#endif
