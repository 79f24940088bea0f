/* src/runtime/args.h - the one checker of the tensor arguments of every operation
 * (layers, heads, optimiser). Each check fails with a message that starts with the
 * operation's name and names the tensor; on success *off is the tensor's offset in
 * elements, as the kernels take it (32 bits: agecl__offset). */
#ifndef AGECL_RUNTIME_ARGS_H
#define AGECL_RUNTIME_ARGS_H

#include <stddef.h>
#include "agecl/tensor.h"

/* A tensor with a buffer (agecl__check_tensor), whatever its shape. */
agecl_status agecl__arg_tensor(const agecl_tensor *t, const char *op, const char *name,
                               cl_uint *off);

/* A tensor of exactly count elements; what (may be NULL) says where the count
 * comes from ("x's channel count"). AGECL_E_SHAPE otherwise. */
agecl_status agecl__arg_count(const agecl_tensor *t, const char *op, const char *name, size_t count,
                              const char *what, cl_uint *off);

/* A tensor of the shape of ref (called ref_name in the message). */
agecl_status agecl__arg_like(const agecl_tensor *t, const char *op, const char *name,
                             const agecl_tensor *ref, const char *ref_name, cl_uint *off);

/* A tensor of exactly the shape n x c x h x w (whose = who expects it: "the plan"). */
agecl_status agecl__arg_shape(const agecl_tensor *t, const char *op, const char *name, int n, int c,
                              int h, int w, const char *whose, cl_uint *off);

/* A tensor of `rows` rows (t->n) of `cols` elements each. */
agecl_status agecl__arg_rows(const agecl_tensor *t, const char *op, const char *name, int rows,
                             size_t cols, cl_uint *off);

#endif
