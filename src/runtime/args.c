/* src/runtime/args.c - see args.h. */
#include "runtime/args.h"
#include "runtime/launch.h"
#include "error.h"

agecl_status agecl__arg_tensor(const agecl_tensor *t, const char *op, const char *name,
                               cl_uint *off)
{
    AGECL_TRY(agecl__check_tensor(t, op, name));
    return agecl__offset(t, name, off);
}

agecl_status agecl__arg_count(const agecl_tensor *t, const char *op, const char *name, size_t count,
                              const char *what, cl_uint *off)
{
    AGECL_TRY(agecl__arg_tensor(t, op, name, off));
    if (agecl_tensor_numel(t) != count)
        return agecl__fail(AGECL_E_SHAPE, "%s: %s is %dx%dx%dx%d (%zu elements) but %zu elements "
                           "are expected%s%s", op, name, t->n, t->c, t->h, t->w,
                           agecl_tensor_numel(t), count, what ? ": " : "", what ? what : "");
    return AGECL_OK;
}

agecl_status agecl__arg_like(const agecl_tensor *t, const char *op, const char *name,
                             const agecl_tensor *ref, const char *ref_name, cl_uint *off)
{
    AGECL_TRY(agecl__arg_tensor(t, op, name, off));
    if (t->n != ref->n || t->c != ref->c || t->h != ref->h || t->w != ref->w)
        return agecl__fail(AGECL_E_SHAPE, "%s: %s is %dx%dx%dx%d but %s is %dx%dx%dx%d", op, name,
                           t->n, t->c, t->h, t->w, ref_name, ref->n, ref->c, ref->h, ref->w);
    return AGECL_OK;
}

agecl_status agecl__arg_shape(const agecl_tensor *t, const char *op, const char *name, int n, int c,
                              int h, int w, const char *whose, cl_uint *off)
{
    AGECL_TRY(agecl__arg_tensor(t, op, name, off));
    if (t->n != n || t->c != c || t->h != h || t->w != w)
        return agecl__fail(AGECL_E_SHAPE, "%s: %s is %dx%dx%dx%d but %s expects %dx%dx%dx%d", op,
                           name, t->n, t->c, t->h, t->w, whose, n, c, h, w);
    return AGECL_OK;
}

agecl_status agecl__arg_rows(const agecl_tensor *t, const char *op, const char *name, int rows,
                             size_t cols, cl_uint *off)
{
    AGECL_TRY(agecl__arg_tensor(t, op, name, off));
    if (t->n < 1 || t->n != rows || agecl_tensor_numel(t) / (size_t)t->n != cols)
        return agecl__fail(AGECL_E_SHAPE, "%s: %s is %dx%dx%dx%d but %d rows of %zu are expected",
                           op, name, t->n, t->c, t->h, t->w, rows, cols);
    return AGECL_OK;
}
