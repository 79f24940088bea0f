/* The relative age position module (RAPL), cheap form: forward and backward
 * (cl/rapl.cl). */
#include "agecl/layers.h"
#include "runtime/launch.h"
#include "error.h"
#include "runtime/rows.h"

/* The offsets of the tensors both directions share, with their shapes checked:
 * feat is B rows of C, refs n rows of C, p and a hold n elements. */
typedef struct rapl_shape {
    cl_uint B, C, n;
    cl_uint feat, refs, p, a;
} rapl_shape;

static agecl_status check_shared(const char *op, const agecl_tensor *feat,
                                 const agecl_tensor *refs, const agecl_tensor *p,
                                 const agecl_tensor *a, rapl_shape *s)
{
    AGECL_TRY(agecl__arg_tensor(feat, op, "feat", &s->feat));
    AGECL_TRY(agecl__arg_tensor(refs, op, "refs", &s->refs));
    s->B = (cl_uint)feat->n;
    s->C = (cl_uint)agecl__row_len(feat);
    s->n = (cl_uint)refs->n;
    if (agecl__row_len(refs) != s->C)
        return agecl__fail(AGECL_E_SHAPE, "%s: refs has rows of %zu but feat has rows of %u", op,
                           agecl__row_len(refs), s->C);
    AGECL_TRY(agecl__arg_count(p, op, "p", s->n, NULL, &s->p));
    return agecl__arg_count(a, op, "a", s->n, NULL, &s->a);
}

agecl_status agecl_rapl_forward(agecl_ctx *ctx, const agecl_tensor *feat,
                                const agecl_tensor *refs, const agecl_tensor *p,
                                const agecl_tensor *a, const agecl_tensor *bias,
                                agecl_tensor *gain, agecl_tensor *out)
{
    const char *op = "rapl_forward";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    rapl_shape s;
    cl_uint bias_off, gain_off, out_off;
    AGECL_TRY(check_shared(op, feat, refs, p, a, &s));
    AGECL_TRY(agecl__arg_count(bias, op, "bias", 1, NULL, &bias_off));
    AGECL_TRY(agecl__arg_count(gain, op, "gain", s.C, NULL, &gain_off));
    AGECL_TRY(agecl__arg_rows(out, op, "out", (int)s.B, s.C, &out_off));

    agecl__arg gain_args[] = {
        AGECL_ARG(refs->buf), AGECL_ARG(s.refs), AGECL_ARG(p->buf), AGECL_ARG(s.p),
        AGECL_ARG(a->buf), AGECL_ARG(s.a), AGECL_ARG(gain->buf), AGECL_ARG(gain_off),
        AGECL_ARG(s.C), AGECL_ARG(s.n)};
    size_t global = s.C, local = AGECL__ROWS_GROUP;
    AGECL_TRY(agecl__run(ctx, "rapl", "", "rapl_gain", 1, &global, &local,
                         AGECL_NARGS(gain_args), gain_args));

    agecl__arg apply_args[] = {
        AGECL_ARG(feat->buf), AGECL_ARG(s.feat), AGECL_ARG(gain->buf), AGECL_ARG(gain_off),
        AGECL_ARG(bias->buf), AGECL_ARG(bias_off), AGECL_ARG(out->buf), AGECL_ARG(out_off),
        AGECL_ARG(s.B), AGECL_ARG(s.C)};
    global = (size_t)s.B * s.C;
    return agecl__run(ctx, "rapl", "", "rapl_apply", 1, &global, &local,
                      AGECL_NARGS(apply_args), apply_args);
}

agecl_status agecl_rapl_backward(agecl_ctx *ctx, const agecl_tensor *dout,
                                 const agecl_tensor *feat, const agecl_tensor *refs,
                                 const agecl_tensor *p, const agecl_tensor *a,
                                 const agecl_tensor *gain, agecl_tensor *dgain, float acc,
                                 agecl_tensor *dfeat, agecl_tensor *dp, agecl_tensor *da,
                                 agecl_tensor *dbias)
{
    const char *op = "rapl_backward";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    rapl_shape s;
    cl_uint dout_off, gain_off, dgain_off, dfeat_off, dp_off, da_off, dbias_off;
    AGECL_TRY(check_shared(op, feat, refs, p, a, &s));
    AGECL_TRY(agecl__arg_rows(dout, op, "dout", (int)s.B, s.C, &dout_off));
    AGECL_TRY(agecl__arg_count(gain, op, "gain", s.C, NULL, &gain_off));
    AGECL_TRY(agecl__arg_count(dgain, op, "dgain", s.C, NULL, &dgain_off));
    AGECL_TRY(agecl__arg_rows(dfeat, op, "dfeat", (int)s.B, s.C, &dfeat_off));
    AGECL_TRY(agecl__arg_count(dp, op, "dp", s.n, NULL, &dp_off));
    AGECL_TRY(agecl__arg_count(da, op, "da", s.n, NULL, &da_off));
    AGECL_TRY(agecl__arg_count(dbias, op, "dbias", 1, NULL, &dbias_off));

    size_t local = AGECL__ROWS_GROUP, global = s.C;
    agecl__arg channel_args[] = {
        AGECL_ARG(dout->buf), AGECL_ARG(dout_off), AGECL_ARG(feat->buf), AGECL_ARG(s.feat),
        AGECL_ARG(gain->buf), AGECL_ARG(gain_off), AGECL_ARG(acc), AGECL_ARG(dfeat->buf),
        AGECL_ARG(dfeat_off), AGECL_ARG(dgain->buf), AGECL_ARG(dgain_off), AGECL_ARG(s.B),
        AGECL_ARG(s.C)};
    AGECL_TRY(agecl__run(ctx, "rapl", "", "rapl_backward_channels", 1, &global, &local,
                         AGECL_NARGS(channel_args), channel_args));

    agecl__arg param_args[] = {
        AGECL_ARG(dgain->buf), AGECL_ARG(dgain_off), AGECL_ARG(refs->buf), AGECL_ARG(s.refs),
        AGECL_ARG(p->buf), AGECL_ARG(s.p), AGECL_ARG(a->buf), AGECL_ARG(s.a), AGECL_ARG(acc),
        AGECL_ARG(dp->buf), AGECL_ARG(dp_off), AGECL_ARG(da->buf), AGECL_ARG(da_off),
        AGECL_ARG(s.C), AGECL_LOCAL(AGECL__ROWS_GROUP * sizeof(float))};
    global = (size_t)s.n * AGECL__ROWS_GROUP; /* one work-group per label */
    AGECL_TRY(agecl__run(ctx, "rapl", "", "rapl_backward_params", 1, &global, &local,
                         AGECL_NARGS(param_args), param_args));

    cl_uint count = s.B * s.C;
    agecl__arg bias_args[] = {
        AGECL_ARG(dout->buf), AGECL_ARG(dout_off), AGECL_ARG(count), AGECL_ARG(acc),
        AGECL_ARG(dbias->buf), AGECL_ARG(dbias_off),
        AGECL_LOCAL(AGECL__ROWS_GROUP * sizeof(float))};
    global = AGECL__ROWS_GROUP;
    return agecl__run(ctx, "rapl", "", "rapl_backward_bias", 1, &global, &local,
                      AGECL_NARGS(bias_args), bias_args);
}
