/* Inference with each BatchNorm that follows a convolution folded into it (the note
 * at agecl_model_forward in agecl/model.h).
 *
 * An IR unit ends in BN2(conv2(t)) + shortcut, the shortcut BN_sc(conv1x1(x)) or x
 * (subsampled at stride 2). For inference a BatchNorm is a per-channel affine map,
 * so the unit's end becomes (backbone.c, unit_forward_folded)
 *     out = shortcut' + bias;   out += conv2(t, w2 * s2)   (the convolution's beta 1)
 * with shortcut' = conv1x1(x, w_sc * s_sc) or x, s = gamma / sqrt(var + eps), and
 * bias the two BatchNorms' shifts beta - mean * s summed. Two BatchNorm passes (one
 * without a convolution shortcut) and the add become one pass, the bias onto the
 * shortcut, and a read of out by the convolution's last kernel. The unit's first
 * BatchNorm stays: it comes before its convolution, whose zero padding would not
 * see a shift folded into the weights.
 *
 * The folded weights are the unit's own tensors (build.c), made on the first
 * inference after params_gen moved; so are an inference model's prepared weights
 * (agecl_conv2d_prepare: Winograd's transformed filters), which every convolution
 * of the folded inference reads instead of transforming its weights per call. */
#include "error.h"
#include "model/model_internal.h"
#include "runtime/launch.h"

/* wf = the weights of cv scaled by bn's s, bias (+)= bn's shift (acc: add). */
static agecl_status fold_bn(agecl_model *m, const agecl__conv *cv, const agecl__bn *bn,
                            agecl_tensor *wf, agecl_tensor *bias, cl_uint acc)
{
    agecl_tensor *w = agecl__P(m, cv->weight);
    const agecl_tensor *t[] = {w, agecl__P(m, bn->gamma), agecl__P(m, bn->beta),
                               agecl__P(m, bn->mean), agecl__P(m, bn->var), wf, bias};
    cl_uint off[7];
    for (int i = 0; i < 7; i++) AGECL_TRY(agecl__offset(t[i], "bn_fold", &off[i]));
    cl_uint C = (cl_uint)w->n, K = (cl_uint)(w->c * w->h * w->w);
    float eps = AGECL__BN_EPS;
    agecl__arg args[] = {
        AGECL_ARG(t[0]->buf), AGECL_ARG(off[0]), AGECL_ARG(C),   AGECL_ARG(K),
        AGECL_ARG(t[1]->buf), AGECL_ARG(off[1]), AGECL_ARG(t[2]->buf), AGECL_ARG(off[2]),
        AGECL_ARG(t[3]->buf), AGECL_ARG(off[3]), AGECL_ARG(t[4]->buf), AGECL_ARG(off[4]),
        AGECL_ARG(eps),       AGECL_ARG(acc),    AGECL_ARG(t[5]->buf), AGECL_ARG(off[5]),
        AGECL_ARG(t[6]->buf), AGECL_ARG(off[6])};
    size_t global[1] = {C};
    return agecl__run(m->ctx, "fold", "", "bn_fold", 1, global, NULL, AGECL_NARGS(args), args);
}

/* cv's prepared weights from w, where its plan keeps them (build.c). */
static agecl_status prepare(agecl__conv *cv, const agecl_tensor *w)
{
    return cv->prepared.buf ? agecl_conv2d_prepare(cv->plan, w, &cv->prepared) : AGECL_OK;
}

agecl_status agecl__fold_refresh(agecl_model *m)
{
    if (m->folded_gen == m->params_gen) return AGECL_OK;
    AGECL_TRY(prepare(&m->stem.conv, agecl__P(m, m->stem.conv.weight)));
    for (int i = 0; i < m->n_units; i++) {
        agecl__unit *u = &m->units[i];
        AGECL_TRY(fold_bn(m, &u->conv2, &u->bn2, &u->w2_fold, &u->bias_fold, 0));
        if (u->sc_conv) AGECL_TRY(fold_bn(m, &u->sc, &u->sc_bn, &u->sc_fold, &u->bias_fold, 1));
        AGECL_TRY(prepare(&u->conv1, agecl__P(m, u->conv1.weight)));
        AGECL_TRY(prepare(&u->conv2, &u->w2_fold));
        if (u->sc_conv) AGECL_TRY(prepare(&u->sc, &u->sc_fold));
    }
    m->folded_gen = m->params_gen;
    return AGECL_OK;
}

agecl_status agecl__channel_bias_add(agecl_model *m, const agecl_tensor *x,
                                     const agecl_tensor *bias, agecl_tensor *y)
{
    cl_uint x_off, b_off, y_off, C = (cl_uint)x->c, HW = (cl_uint)(x->h * x->w);
    AGECL_TRY(agecl__offset(x, "x", &x_off));
    AGECL_TRY(agecl__offset(bias, "bias", &b_off));
    AGECL_TRY(agecl__offset(y, "y", &y_off));
    agecl__arg args[] = {AGECL_ARG(x->buf), AGECL_ARG(x_off),    AGECL_ARG(C),
                         AGECL_ARG(HW),     AGECL_ARG(bias->buf), AGECL_ARG(b_off),
                         AGECL_ARG(y->buf), AGECL_ARG(y_off)};
    size_t global[3] = {HW, C, (size_t)x->n};
    return agecl__run(m->ctx, "fold", "", "channel_bias_add", 3, global, NULL,
                      AGECL_NARGS(args), args);
}
