/* Expected-value age (DEX): prediction, absolute errors and L1 loss, and the
 * loss's gradient to the logits (cl/dex.cl). */
#include "agecl/losses.h"
#include "runtime/launch.h"
#include "error.h"
#include "runtime/rows.h"

agecl_status agecl_dex_forward(agecl_ctx *ctx, const agecl_tensor *logits,
                               const agecl_tensor *labels, const agecl_tensor *ages,
                               agecl_tensor *pred, agecl_tensor *abs_err, agecl_tensor *loss)
{
    const char *op = "dex_forward";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint z_off, l_off, p_off, a_off = 0, e_off = 0, s_off = 0;
    AGECL_TRY(agecl__arg_tensor(logits, op, "logits", &z_off));
    cl_uint B = (cl_uint)logits->n, n = (cl_uint)agecl__row_len(logits);
    AGECL_TRY(agecl__arg_count(labels, op, "labels", n, NULL, &l_off));
    AGECL_TRY(agecl__arg_count(pred, op, "pred", B, NULL, &p_off));
    cl_uint has_ages = ages != NULL;
    if (has_ages) {
        AGECL_TRY(agecl__arg_count(ages, op, "ages", B, NULL, &a_off));
        AGECL_TRY(agecl__arg_count(abs_err, op, "abs_err", B, NULL, &e_off));
        AGECL_TRY(agecl__arg_count(loss, op, "loss", 1, NULL, &s_off));
    } else if (abs_err || loss) {
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: abs_err and loss need ages", op);
    }
    /* Without ages the kernel never touches these three; any buffer will do. */
    cl_mem ages_buf = has_ages ? ages->buf : pred->buf;
    cl_mem err_buf = has_ages ? abs_err->buf : pred->buf;
    cl_mem loss_buf = has_ages ? loss->buf : pred->buf;
    agecl__arg args[] = {
        AGECL_ARG(logits->buf), AGECL_ARG(z_off), AGECL_ARG(labels->buf), AGECL_ARG(l_off),
        AGECL_ARG(ages_buf), AGECL_ARG(a_off), AGECL_ARG(pred->buf), AGECL_ARG(p_off),
        AGECL_ARG(err_buf), AGECL_ARG(e_off), AGECL_ARG(loss_buf), AGECL_ARG(s_off),
        AGECL_ARG(B), AGECL_ARG(n), AGECL_ARG(has_ages),
        AGECL_LOCAL(AGECL__ROWS_GROUP * sizeof(float))};
    size_t group = AGECL__ROWS_GROUP;
    return agecl__run(ctx, "dex", "", "dex_forward", 1, &group, &group, AGECL_NARGS(args), args);
}

agecl_status agecl_dex_backward(agecl_ctx *ctx, const agecl_tensor *logits,
                                const agecl_tensor *labels, const agecl_tensor *ages,
                                float scale, float acc, agecl_tensor *dlogits)
{
    const char *op = "dex_backward";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint z_off, l_off, a_off, d_off;
    AGECL_TRY(agecl__arg_tensor(logits, op, "logits", &z_off));
    cl_uint B = (cl_uint)logits->n, n = (cl_uint)agecl__row_len(logits);
    AGECL_TRY(agecl__arg_count(labels, op, "labels", n, NULL, &l_off));
    AGECL_TRY(agecl__arg_count(ages, op, "ages", B, NULL, &a_off));
    AGECL_TRY(agecl__arg_rows(dlogits, op, "dlogits", (int)B, n, &d_off));
    agecl__arg args[] = {
        AGECL_ARG(logits->buf), AGECL_ARG(z_off), AGECL_ARG(labels->buf), AGECL_ARG(l_off),
        AGECL_ARG(ages->buf), AGECL_ARG(a_off), AGECL_ARG(scale), AGECL_ARG(acc),
        AGECL_ARG(dlogits->buf), AGECL_ARG(d_off), AGECL_ARG(B), AGECL_ARG(n)};
    size_t global = B, local = AGECL__ROWS_GROUP;
    return agecl__run(ctx, "dex", "", "dex_backward", 1, &global, &local, AGECL_NARGS(args),
                      args);
}
