/* Per-batch sums for MAE, CS5 and accuracy (cl/batch_metrics.cl). */
#include "agecl/heads.h"
#include "core/launch.h"
#include "error.h"
#include "heads/check.h"

agecl_status agecl_batch_metrics(agecl_ctx *ctx, const agecl_tensor *abs_err, float within,
                                 const agecl_tensor *pred_class, const agecl_tensor *targets,
                                 agecl_tensor *out)
{
    const char *op = "batch_metrics";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint err_off, pred_off = 0, t_off = 0, out_off;
    AGECL_TRY(agecl__heads_expect_any(abs_err, op, "abs_err", &err_off));
    cl_uint B = (cl_uint)agecl_tensor_numel(abs_err);
    AGECL_TRY(agecl__heads_expect_count(out, op, "out", AGECL_METRIC_COUNT, &out_off));
    cl_uint has_classes = pred_class || targets;
    if (has_classes) {
        AGECL_TRY(agecl__heads_expect_count(pred_class, op, "pred_class", B, &pred_off));
        AGECL_TRY(agecl__heads_expect_count(targets, op, "targets", B, &t_off));
    }
    /* Without classes the kernel never reads these two; any buffer will do. */
    cl_mem pred_buf = has_classes ? pred_class->buf : abs_err->buf;
    cl_mem t_buf = has_classes ? targets->buf : abs_err->buf;
    agecl__arg args[] = {
        AGECL_ARG(abs_err->buf), AGECL_ARG(err_off), AGECL_ARG(B), AGECL_ARG(within),
        AGECL_ARG(pred_buf), AGECL_ARG(pred_off), AGECL_ARG(t_buf), AGECL_ARG(t_off),
        AGECL_ARG(has_classes), AGECL_ARG(out->buf), AGECL_ARG(out_off),
        AGECL_LOCAL(AGECL__HEADS_GROUP * sizeof(float))};
    size_t group = AGECL__HEADS_GROUP;
    return agecl__run(ctx, "batch_metrics", "", "batch_metrics", 1, &group, &group,
                      AGECL_NARGS(args), args);
}
