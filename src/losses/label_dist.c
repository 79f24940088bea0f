/* Label distribution loss (DLDL): KL from a Gaussian over the age labels to the
 * softmax of the age logits, and its gradient (cl/label_dist.cl). */
#include <math.h>
#include "agecl/losses.h"
#include "runtime/launch.h"
#include "error.h"
#include "runtime/rows.h"

static agecl_status check_sigma(const char *op, float sigma, cl_float *inv2s2)
{
    if (!(sigma > 0 && isfinite(sigma)))
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: sigma %g (must be > 0)", op, sigma);
    *inv2s2 = 1.0f / (2.0f * sigma * sigma);
    return AGECL_OK;
}

agecl_status agecl_label_dist_forward(agecl_ctx *ctx, const agecl_tensor *logits,
                                      const agecl_tensor *labels, const agecl_tensor *ages,
                                      float sigma, agecl_tensor *loss)
{
    const char *op = "label_dist_forward";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_float inv2s2;
    AGECL_TRY(check_sigma(op, sigma, &inv2s2));
    cl_uint z_off, l_off, a_off, s_off;
    AGECL_TRY(agecl__arg_tensor(logits, op, "logits", &z_off));
    cl_uint B = (cl_uint)logits->n, n = (cl_uint)agecl__row_len(logits);
    AGECL_TRY(agecl__arg_count(labels, op, "labels", n, NULL, &l_off));
    AGECL_TRY(agecl__arg_count(ages, op, "ages", B, NULL, &a_off));
    AGECL_TRY(agecl__arg_count(loss, op, "loss", 1, NULL, &s_off));
    agecl__arg args[] = {
        AGECL_ARG(logits->buf), AGECL_ARG(z_off), AGECL_ARG(labels->buf), AGECL_ARG(l_off),
        AGECL_ARG(ages->buf), AGECL_ARG(a_off), AGECL_ARG(inv2s2), AGECL_ARG(loss->buf),
        AGECL_ARG(s_off), AGECL_ARG(B), AGECL_ARG(n),
        AGECL_LOCAL(AGECL__ROWS_GROUP * sizeof(float))};
    size_t group = AGECL__ROWS_GROUP;
    return agecl__run(ctx, "label_dist", "", "label_dist_forward", 1, &group, &group,
                      AGECL_NARGS(args), args);
}

agecl_status agecl_label_dist_backward(agecl_ctx *ctx, const agecl_tensor *logits,
                                       const agecl_tensor *labels, const agecl_tensor *ages,
                                       float sigma, float scale, float acc,
                                       agecl_tensor *dlogits)
{
    const char *op = "label_dist_backward";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_float inv2s2;
    AGECL_TRY(check_sigma(op, sigma, &inv2s2));
    cl_uint z_off, l_off, a_off, d_off;
    AGECL_TRY(agecl__arg_tensor(logits, op, "logits", &z_off));
    cl_uint B = (cl_uint)logits->n, n = (cl_uint)agecl__row_len(logits);
    AGECL_TRY(agecl__arg_count(labels, op, "labels", n, NULL, &l_off));
    AGECL_TRY(agecl__arg_count(ages, op, "ages", B, NULL, &a_off));
    AGECL_TRY(agecl__arg_rows(dlogits, op, "dlogits", (int)B, n, &d_off));
    agecl__arg args[] = {
        AGECL_ARG(logits->buf), AGECL_ARG(z_off), AGECL_ARG(labels->buf), AGECL_ARG(l_off),
        AGECL_ARG(ages->buf), AGECL_ARG(a_off), AGECL_ARG(inv2s2), AGECL_ARG(scale),
        AGECL_ARG(acc), AGECL_ARG(dlogits->buf), AGECL_ARG(d_off), AGECL_ARG(B), AGECL_ARG(n)};
    size_t global = B, local = AGECL__ROWS_GROUP;
    return agecl__run(ctx, "label_dist", "", "label_dist_backward", 1, &global, &local,
                      AGECL_NARGS(args), args);
}
