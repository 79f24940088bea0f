/* src/runtime/rows.h - what the row-wise operations share (the losses, RAPL,
 * reference selection; not installed); their arguments are checked by
 * runtime/args.h. */
#ifndef AGECL_RUNTIME_ROWS_H
#define AGECL_RUNTIME_ROWS_H

#include <stddef.h>
#include "agecl/tensor.h"
#include "runtime/args.h"

/* The work-group size of their reductions: a power of two, as their tree sums
 * need, and a size both PoCL and GPUs run well. */
#define AGECL__ROWS_GROUP 64

/* Elements per row of a tensor seen as t->n rows. */
static inline size_t agecl__row_len(const agecl_tensor *t)
{
    return agecl_tensor_numel(t) / (size_t)t->n;
}

#endif
