/* src/heads/check.h - argument checks shared by the heads' operations (not installed). */
#ifndef AGECL_HEADS_CHECK_H
#define AGECL_HEADS_CHECK_H

#include <stddef.h>
#include "agecl/tensor.h"

/* The work-group size of the heads' reductions: a power of two, as their tree
 * sums need, and a size both PoCL and GPUs run well. */
#define AGECL__HEADS_GROUP 64

/* Elements per row of a tensor seen as t->n rows. */
static inline size_t agecl__heads_cols(const agecl_tensor *t)
{
    return agecl_tensor_numel(t) / (size_t)t->n;
}

/* A tensor (agecl__check_tensor) holding exactly count elements, else
 * AGECL_E_SHAPE naming op and the tensor; *off receives its offset. */
agecl_status agecl__heads_expect_count(const agecl_tensor *t, const char *op, const char *name,
                                       size_t count, cl_uint *off);

/* A tensor of `rows` rows (t->n) of `cols` elements each, likewise. */
agecl_status agecl__heads_expect_rows(const agecl_tensor *t, const char *op, const char *name,
                                      int rows, size_t cols, cl_uint *off);

/* A tensor that is present and fits 32-bit offsets, whatever its shape. */
agecl_status agecl__heads_expect_any(const agecl_tensor *t, const char *op, const char *name,
                                     cl_uint *off);

#endif
