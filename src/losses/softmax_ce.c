/* Softmax cross-entropy with ignored samples (target -1): mean loss, argmax and
 * the loss's gradient to the logits (cl/softmax_ce.cl). */
#include "agecl/losses.h"
#include "runtime/launch.h"
#include "error.h"
#include "runtime/rows.h"

agecl_status agecl_softmax_ce_forward(agecl_ctx *ctx, const agecl_tensor *logits,
                                      const agecl_tensor *targets, agecl_tensor *loss,
                                      agecl_tensor *argmax)
{
    const char *op = "softmax_ce_forward";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint z_off, t_off, l_off, m_off = 0;
    AGECL_TRY(agecl__arg_tensor(logits, op, "logits", &z_off));
    cl_uint B = (cl_uint)logits->n, K = (cl_uint)agecl__row_len(logits);
    AGECL_TRY(agecl__arg_count(targets, op, "targets", B, NULL, &t_off));
    AGECL_TRY(agecl__arg_count(loss, op, "loss", 1, NULL, &l_off));
    cl_uint want_argmax = argmax != NULL;
    if (want_argmax) AGECL_TRY(agecl__arg_count(argmax, op, "argmax", B, NULL, &m_off));
    cl_mem argmax_buf = want_argmax ? argmax->buf : loss->buf; /* untouched when not wanted */
    agecl__arg args[] = {
        AGECL_ARG(logits->buf), AGECL_ARG(z_off), AGECL_ARG(targets->buf), AGECL_ARG(t_off),
        AGECL_ARG(loss->buf), AGECL_ARG(l_off), AGECL_ARG(argmax_buf), AGECL_ARG(m_off),
        AGECL_ARG(want_argmax), AGECL_ARG(B), AGECL_ARG(K),
        AGECL_LOCAL(AGECL__ROWS_GROUP * sizeof(float))};
    size_t group = AGECL__ROWS_GROUP;
    return agecl__run(ctx, "softmax_ce", "", "softmax_ce_forward", 1, &group, &group,
                      AGECL_NARGS(args), args);
}

agecl_status agecl_softmax_ce_backward(agecl_ctx *ctx, const agecl_tensor *logits,
                                       const agecl_tensor *targets, float scale, float acc,
                                       agecl_tensor *dlogits)
{
    const char *op = "softmax_ce_backward";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint z_off, t_off, d_off;
    AGECL_TRY(agecl__arg_tensor(logits, op, "logits", &z_off));
    cl_uint B = (cl_uint)logits->n, K = (cl_uint)agecl__row_len(logits);
    AGECL_TRY(agecl__arg_count(targets, op, "targets", B, NULL, &t_off));
    AGECL_TRY(agecl__arg_rows(dlogits, op, "dlogits", (int)B, K, &d_off));
    agecl__arg args[] = {
        AGECL_ARG(logits->buf), AGECL_ARG(z_off), AGECL_ARG(targets->buf), AGECL_ARG(t_off),
        AGECL_ARG(scale), AGECL_ARG(acc), AGECL_ARG(dlogits->buf), AGECL_ARG(d_off),
        AGECL_ARG(B), AGECL_ARG(K), AGECL_LOCAL(AGECL__ROWS_GROUP * sizeof(float))};
    size_t group = AGECL__ROWS_GROUP;
    return agecl__run(ctx, "softmax_ce", "", "softmax_ce_backward", 1, &group, &group,
                      AGECL_NARGS(args), args);
}
