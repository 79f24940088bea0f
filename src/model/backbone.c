/* The IR backbone, forward and backward (MODEL.md section 2).
 *
 * Every layer runs through the plan the model made for it (build.c). The
 * stem's BN and PReLU run fused (a BATCHNORM_PRELU plan: no BN output
 * stored, two passes over the 64 x 112 x 112 map saved forward, three
 * backward). The environment variable AGECL_FUSE=0, read when the model is
 * created, runs them as two ops instead, through stem.t_bn (allocated only
 * then), to measure the fusion; "1" or unset: fused; any other value fails.
 * (No other BN is followed by a PReLU: an IR unit's PReLU follows a
 * convolution.) The same switch folds inference's BatchNorms that follow a
 * convolution into it (fold.c). */
#include <stdlib.h>
#include <string.h>
#include "agecl/layers.h"
#include "error.h"
#include "layers/batchnorm_sync.h"
#include "model/model_internal.h"

#define BN_MOMENTUM 0.1f
#define BN_EPS AGECL__BN_EPS

static agecl_status bn_forward(agecl_model *m, agecl__bn *bn, const agecl_tensor *x,
                               agecl_tensor *y, int training)
{
    if (training)
        return agecl__batchnorm_train_sync(bn->plan, x, agecl__P(m, bn->gamma),
                                           agecl__P(m, bn->beta), NULL, agecl__P(m, bn->mean),
                                           agecl__P(m, bn->var), BN_MOMENTUM, BN_EPS, y,
                                           &bn->save_mean, &bn->save_invstd, m->bn_sync);
    return agecl_layer_batchnorm_infer(bn->plan, x, agecl__P(m, bn->gamma), agecl__P(m, bn->beta),
                                       NULL, agecl__P(m, bn->mean), agecl__P(m, bn->var), BN_EPS,
                                       y);
}

/* Parameter gradients accumulate (acc 1): the step zeroes them once. With
 * sync-BN (agecl_model_set_comm), the statistics are every rank's. */
static agecl_status bn_backward(agecl_model *m, agecl__bn *bn, const agecl_tensor *x,
                                const agecl_tensor *dy, float dx_acc, agecl_tensor *dx)
{
    return agecl__batchnorm_backward_sync(bn->plan, x, dy, agecl__P(m, bn->gamma), NULL, NULL,
                                          &bn->save_mean, &bn->save_invstd, dx_acc, dx, 1.0f,
                                          agecl__G(m, bn->gamma), agecl__G(m, bn->beta), NULL,
                                          m->bn_sync);
}

/* BN then PReLU on the stem: fused, or as two ops through t_bn. */
static agecl_status stem_bn_prelu_forward(agecl_model *m, agecl__stem *st, int training)
{
    agecl__bn *bn = &st->bn;
    if (!st->fused) {
        AGECL_TRY(bn_forward(m, bn, &st->t_conv, &st->t_bn, training));
        return agecl_layer_prelu_forward(st->prelu_plan, &st->t_bn, agecl__P(m, st->prelu),
                                         &st->out);
    }
    if (training)
        return agecl__batchnorm_train_sync(
            bn->plan, &st->t_conv, agecl__P(m, bn->gamma), agecl__P(m, bn->beta),
            agecl__P(m, st->prelu), agecl__P(m, bn->mean), agecl__P(m, bn->var), BN_MOMENTUM,
            BN_EPS, &st->out, &bn->save_mean, &bn->save_invstd, m->bn_sync);
    return agecl_layer_batchnorm_infer(bn->plan, &st->t_conv, agecl__P(m, bn->gamma),
                                       agecl__P(m, bn->beta), agecl__P(m, st->prelu),
                                       agecl__P(m, bn->mean), agecl__P(m, bn->var), BN_EPS,
                                       &st->out);
}

/* Its backward, from dout to dconv (dbn: scratch for the two-op path). */
static agecl_status stem_bn_prelu_backward(agecl_model *m, agecl__stem *st,
                                           const agecl_tensor *dout, agecl_tensor *dbn,
                                           agecl_tensor *dconv)
{
    agecl__bn *bn = &st->bn;
    if (!st->fused) {
        AGECL_TRY(agecl_layer_prelu_backward(st->prelu_plan, &st->t_bn, dout,
                                             agecl__P(m, st->prelu), 0.0f, dbn, 1.0f,
                                             agecl__G(m, st->prelu)));
        return bn_backward(m, bn, &st->t_conv, dbn, 0.0f, dconv);
    }
    return agecl__batchnorm_backward_sync(
        bn->plan, &st->t_conv, dout, agecl__P(m, bn->gamma), agecl__P(m, bn->beta),
        agecl__P(m, st->prelu), &bn->save_mean, &bn->save_invstd, 0.0f, dconv, 1.0f,
        agecl__G(m, bn->gamma), agecl__G(m, bn->beta), agecl__G(m, st->prelu), m->bn_sync);
}

static agecl_status conv_forward(agecl_model *m, agecl__conv *cv, const agecl_tensor *x,
                                 agecl_tensor *y)
{
    return agecl_conv2d_forward(cv->plan, x, agecl__P(m, cv->weight), 0.0f, y, &m->workspace);
}

static agecl_status conv_backward(agecl_model *m, agecl__conv *cv, const agecl_tensor *x,
                                  const agecl_tensor *dy, float dx_acc, agecl_tensor *dx)
{
    AGECL_TRY(agecl_conv2d_backward_filter(cv->plan, x, dy, 1.0f, agecl__G(m, cv->weight),
                                           &m->workspace));
    return agecl_conv2d_backward_data(cv->plan, dy, agecl__P(m, cv->weight), dx_acc, dx,
                                      &m->workspace);
}

static agecl_status unit_forward(agecl_model *m, agecl__unit *u, const agecl_tensor *x,
                                 int training)
{
    AGECL_TRY(bn_forward(m, &u->bn1, x, &u->t_bn1, training));
    AGECL_TRY(conv_forward(m, &u->conv1, &u->t_bn1, &u->t_conv1));
    AGECL_TRY(agecl_layer_prelu_forward(u->prelu_plan, &u->t_conv1, agecl__P(m, u->prelu),
                                        &u->t_prelu));
    AGECL_TRY(conv_forward(m, &u->conv2, &u->t_prelu, &u->t_conv2));
    AGECL_TRY(bn_forward(m, &u->bn2, &u->t_conv2, &u->out, training));
    const agecl_tensor *sc = x;
    if (u->sc_conv) {
        AGECL_TRY(conv_forward(m, &u->sc, x, &u->t_sc_conv));
        AGECL_TRY(bn_forward(m, &u->sc_bn, &u->t_sc_conv, &u->t_sc, training));
        sc = &u->t_sc;
    } else if (u->stride > 1) {
        AGECL_TRY(agecl_layer_subsample_forward(u->sub_plan, x, &u->t_sc));
        sc = &u->t_sc;
    }
    return agecl_layer_add_forward(u->add_plan, &u->out, sc, &u->out);
}

/* A convolution of the folded inference: from its prepared weights where the
 * model keeps them (fold.c), else from w. */
static agecl_status conv_forward_folded(agecl_model *m, agecl__conv *cv, const agecl_tensor *x,
                                        const agecl_tensor *w, float acc, agecl_tensor *y)
{
    if (cv->prepared.buf)
        return agecl_conv2d_forward_prepared(cv->plan, x, &cv->prepared, acc, y, &m->workspace);
    return agecl_conv2d_forward(cv->plan, x, w, acc, y, &m->workspace);
}

/* Inference with bn2 and the shortcut's BN folded into the convolutions before them
 * (fold.c): out = shortcut + bias, then conv2 adds onto it. */
static agecl_status unit_forward_folded(agecl_model *m, agecl__unit *u, const agecl_tensor *x)
{
    AGECL_TRY(bn_forward(m, &u->bn1, x, &u->t_bn1, 0));
    AGECL_TRY(conv_forward_folded(m, &u->conv1, &u->t_bn1, agecl__P(m, u->conv1.weight), 0.0f,
                                  &u->t_conv1));
    AGECL_TRY(agecl_layer_prelu_forward(u->prelu_plan, &u->t_conv1, agecl__P(m, u->prelu),
                                        &u->t_prelu));
    const agecl_tensor *sc = x;
    if (u->sc_conv) {
        AGECL_TRY(conv_forward_folded(m, &u->sc, x, &u->sc_fold, 0.0f, &u->out));
        sc = &u->out;
    } else if (u->stride > 1) {
        AGECL_TRY(agecl_layer_subsample_forward(u->sub_plan, x, &u->out));
        sc = &u->out;
    }
    AGECL_TRY(agecl__channel_bias_add(m, sc, &u->bias_fold, &u->out));
    return conv_forward_folded(m, &u->conv2, &u->t_prelu, &u->w2_fold, 1.0f, &u->out);
}

/* Gradient buffers: dout comes in g[0]; dx leaves in g[3]; g[1], g[2] are scratch. */
static agecl_status unit_backward(agecl_model *m, agecl__unit *u, const agecl_tensor *x,
                                  agecl_tensor *const g[4])
{
    int B = m->batch;
    agecl_tensor dout, dconv2, dprelu, dconv1, dbn1, dx, dsc;
    AGECL_TRY(agecl_tensor_view(g[0], 0, B, u->d, u->out_hw, u->out_hw, &dout));
    AGECL_TRY(agecl_tensor_view(g[1], 0, B, u->d, u->out_hw, u->out_hw, &dconv2));
    AGECL_TRY(agecl_tensor_view(g[2], 0, B, u->d, u->in_hw, u->in_hw, &dprelu));
    AGECL_TRY(agecl_tensor_view(g[1], 0, B, u->d, u->in_hw, u->in_hw, &dconv1));
    AGECL_TRY(agecl_tensor_view(g[2], 0, B, u->cin, u->in_hw, u->in_hw, &dbn1));
    AGECL_TRY(agecl_tensor_view(g[3], 0, B, u->cin, u->in_hw, u->in_hw, &dx));

    /* Residual branch: bn2 <- conv2 <- prelu <- conv1 <- bn1. */
    AGECL_TRY(bn_backward(m, &u->bn2, &u->t_conv2, &dout, 0.0f, &dconv2));
    AGECL_TRY(conv_backward(m, &u->conv2, &u->t_prelu, &dconv2, 0.0f, &dprelu));
    AGECL_TRY(agecl_layer_prelu_backward(u->prelu_plan, &u->t_conv1, &dprelu,
                                         agecl__P(m, u->prelu), 0.0f, &dconv1, 1.0f,
                                         agecl__G(m, u->prelu)));
    AGECL_TRY(conv_backward(m, &u->conv1, &u->t_bn1, &dconv1, 0.0f, &dbn1));
    AGECL_TRY(bn_backward(m, &u->bn1, x, &dbn1, 0.0f, &dx));

    /* Shortcut: its gradient adds into dx. */
    if (u->sc_conv) {
        AGECL_TRY(agecl_tensor_view(g[1], 0, B, u->d, u->out_hw, u->out_hw, &dsc));
        AGECL_TRY(bn_backward(m, &u->sc_bn, &u->t_sc_conv, &dout, 0.0f, &dsc));
        return conv_backward(m, &u->sc, x, &dsc, 1.0f, &dx);
    }
    return agecl_layer_subsample_backward(u->sub_plan, &dout, 1.0f, &dx);
}

agecl_status agecl__backbone_forward(agecl_model *m, int training)
{
    agecl__stem *st = &m->stem;
    int folded = !training && m->fold;
    if (folded) {
        AGECL_TRY(agecl__fold_refresh(m));
        AGECL_TRY(conv_forward_folded(m, &st->conv, &m->input, agecl__P(m, st->conv.weight),
                                      0.0f, &st->t_conv));
    } else {
        AGECL_TRY(conv_forward(m, &st->conv, &m->input, &st->t_conv));
    }
    AGECL_TRY(stem_bn_prelu_forward(m, st, training));
    const agecl_tensor *x = &st->out;
    for (int i = 0; i < m->n_units; i++) {
        if (folded) AGECL_TRY(unit_forward_folded(m, &m->units[i], x));
        else AGECL_TRY(unit_forward(m, &m->units[i], x, training));
        x = &m->units[i].out;
    }
    return agecl_layer_avgpool_forward(m->pool_plan, x, &m->heads.feat);
}

agecl_status agecl__backbone_backward(agecl_model *m)
{
    agecl_tensor *g[4] = {&m->grad[0], &m->grad[1], &m->grad[2], &m->grad[3]};
    const agecl__unit *last = &m->units[m->n_units - 1];
    agecl_tensor dlast;
    AGECL_TRY(agecl_tensor_view(g[0], 0, m->batch, last->d, last->out_hw, last->out_hw, &dlast));
    AGECL_TRY(agecl_layer_avgpool_backward(m->pool_plan, &m->heads.dfeat, 0.0f, &dlast));
    for (int i = m->n_units - 1; i >= 0; i--) {
        const agecl_tensor *x = i ? &m->units[i - 1].out : &m->stem.out;
        AGECL_TRY(unit_backward(m, &m->units[i], x, g));
        AGECL_TRY(agecl__model_unit_grads_done(m, i));
        agecl_tensor *t = g[0]; /* this unit's dx is the next one's dout */
        g[0] = g[3];
        g[3] = t;
    }
    agecl__stem *st = &m->stem;
    int B = m->batch, c0 = m->cfg.channels[0], S = m->cfg.input_size;
    agecl_tensor dout, dbn, dconv;
    AGECL_TRY(agecl_tensor_view(g[0], 0, B, c0, S, S, &dout));
    AGECL_TRY(agecl_tensor_view(g[1], 0, B, c0, S, S, &dbn));
    AGECL_TRY(agecl_tensor_view(g[2], 0, B, c0, S, S, &dconv));
    AGECL_TRY(stem_bn_prelu_backward(m, st, &dout, &dbn, &dconv));
    /* The input needs no gradient: only the stem's weight gradient. */
    return agecl_conv2d_backward_filter(st->conv.plan, &m->input, &dconv, 1.0f,
                                        agecl__G(m, st->conv.weight), &m->workspace);
}
