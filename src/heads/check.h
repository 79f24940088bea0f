/* src/heads/check.h - what the heads' operations share (not installed); their
 * arguments are checked by core/args.h. */
#ifndef AGECL_HEADS_CHECK_H
#define AGECL_HEADS_CHECK_H

#include <stddef.h>
#include "agecl/tensor.h"
#include "core/args.h"

/* The work-group size of the heads' reductions: a power of two, as their tree
 * sums need, and a size both PoCL and GPUs run well. */
#define AGECL__HEADS_GROUP 64

/* Elements per row of a tensor seen as t->n rows. */
static inline size_t agecl__heads_cols(const agecl_tensor *t)
{
    return agecl_tensor_numel(t) / (size_t)t->n;
}

#endif
