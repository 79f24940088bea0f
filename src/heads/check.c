/* Argument checks shared by the heads' operations. */
#include "heads/check.h"
#include "core/launch.h"
#include "error.h"

agecl_status agecl__heads_expect_any(const agecl_tensor *t, const char *op, const char *name,
                                     cl_uint *off)
{
    AGECL_TRY(agecl__check_tensor(t, op, name));
    return agecl__offset(t, name, off);
}

agecl_status agecl__heads_expect_count(const agecl_tensor *t, const char *op, const char *name,
                                       size_t count, cl_uint *off)
{
    AGECL_TRY(agecl__heads_expect_any(t, op, name, off));
    if (agecl_tensor_numel(t) != count)
        return agecl__fail(AGECL_E_SHAPE, "%s: %s is %dx%dx%dx%d (%zu elements) but %zu elements "
                           "are expected", op, name, t->n, t->c, t->h, t->w,
                           agecl_tensor_numel(t), count);
    return AGECL_OK;
}

agecl_status agecl__heads_expect_rows(const agecl_tensor *t, const char *op, const char *name,
                                      int rows, size_t cols, cl_uint *off)
{
    AGECL_TRY(agecl__heads_expect_any(t, op, name, off));
    if (t->n != rows || agecl__heads_cols(t) != cols)
        return agecl__fail(AGECL_E_SHAPE, "%s: %s is %dx%dx%dx%d but %d rows of %zu are expected",
                           op, name, t->n, t->c, t->h, t->w, rows, cols);
    return AGECL_OK;
}
