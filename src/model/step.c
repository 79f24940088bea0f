/* A training step and an inference pass through the whole model. */
#include <math.h>
#include "agecl/layers.h"
#include "agecl/losses.h"
#include "agecl/optim.h"
#include "error.h"
#include "model/model_internal.h"

agecl_status agecl_model_forward(agecl_model *m, const float *images, int training)
{
    if (!m || !images) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_forward: NULL argument");
    if (training && !(m->flags & AGECL_MODEL_TRAIN))
        return agecl__fail(AGECL_E_INVALID_ARG,
                           "agecl_model_forward: training needs a model made with AGECL_MODEL_TRAIN");
    m->loss_done = 0;
    AGECL_TRY(agecl_tensor_write(m->ctx, &m->input, images));
    if (training) agecl__params_changed(m); /* BatchNorm's running statistics */
    AGECL_TRY(agecl__backbone_forward(m, training));
    AGECL_TRY(agecl__heads_forward(m, training));
    m->last_training = training;
    return AGECL_OK;
}

agecl_status agecl_model_loss(agecl_model *m, const agecl_labels *labels, int use_pos,
                              agecl_losses *losses)
{
    if (!m || !labels || !labels->age || !losses)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_loss: NULL argument");
    if (!m->last_training)
        return agecl__fail(AGECL_E_INVALID_ARG,
                           "agecl_model_loss: the last forward pass was not a training one");
    use_pos = use_pos && m->cfg.rapl && m->heads.refs_set;
    if (use_pos && !labels->pos)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_loss: no age positions given");
    m->loss_done = 0;
    AGECL_TRY(agecl__heads_loss(m, labels, use_pos, losses));
    m->loss_pos = use_pos;
    m->loss_done = 1;
    return AGECL_OK;
}

agecl_status agecl_model_backward(agecl_model *m)
{
    if (!m) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_backward: NULL argument");
    if (!m->loss_done)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_backward: no agecl_model_loss "
                           "since the last training forward");
    AGECL_TRY(agecl_tensor_fill(m->ctx, &m->params.grads, 0.0f));
    AGECL_TRY(agecl__heads_backward(m));
    return agecl__backbone_backward(m);
}

agecl_status agecl_model_adam_step(agecl_model *m, float lr, float weight_decay, int step)
{
    agecl_adam_config cfg = agecl_adam_defaults(lr, weight_decay);
    return agecl_model_optimizer_step(m, &cfg, 1, step);
}

agecl_status agecl_model_optimizer_step(agecl_model *m, const agecl_adam_config *cfg,
                                        int decay_all, int step)
{
    if (!m || !cfg)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_optimizer_step: NULL argument");
    agecl__params *p = &m->params;
    agecl__params_changed(m);
    if (decay_all || cfg->weight_decay == 0)
        return agecl_adam_step(m->ctx, cfg, step, &p->values, &p->grads, &p->m, &p->v);
    /* Two launches: the weights with decay, the one-dimensional parameters without
     * (params.h keeps them in two aligned parts of each region). */
    agecl_adam_config none = *cfg;
    none.weight_decay = 0;
    size_t W = p->weight_elems, P = p->param_elems;
    agecl_tensor part[2][4];
    agecl_tensor *whole[4] = {&p->values, &p->grads, &p->m, &p->v};
    for (int r = 0; r < 4; r++) {
        AGECL_TRY(agecl_tensor_view(whole[r], 0, 1, 1, 1, (int)W, &part[0][r]));
        AGECL_TRY(agecl_tensor_view(whole[r], W, 1, 1, 1, (int)(P - W), &part[1][r]));
    }
    if (W) AGECL_TRY(agecl_adam_step(m->ctx, cfg, step, &part[0][0], &part[0][1], &part[0][2],
                                     &part[0][3]));
    if (P > W) AGECL_TRY(agecl_adam_step(m->ctx, &none, step, &part[1][0], &part[1][1],
                                         &part[1][2], &part[1][3]));
    return AGECL_OK;
}

agecl_status agecl_model_ema_update(agecl_model *m, double decay)
{
    if (!m) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_ema_update: NULL model");
    agecl__params *p = &m->params;
    if (p->ema_swapped)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_ema_update: the average is swapped "
                           "in (agecl_model_ema_swap again first)");
    if (!p->ema_on) return agecl__params_ema_start(m->ctx, p);
    if (p->param_elems) AGECL_TRY(agecl_ema_update(m->ctx, decay, &p->values, &p->ema_values));
    if (!p->stat_elems) return AGECL_OK;
    return agecl_ema_update(m->ctx, decay, &p->stats, &p->ema_stats);
}

agecl_status agecl_model_ema_swap(agecl_model *m)
{
    if (!m) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_ema_swap: NULL model");
    agecl__params *p = &m->params;
    if (!p->ema_on)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_ema_swap: no moving average yet "
                           "(agecl_model_ema_update starts it)");
    agecl__params_changed(m);
    if (p->param_elems) AGECL_TRY(agecl_ema_swap(m->ctx, &p->values, &p->ema_values));
    if (p->stat_elems) AGECL_TRY(agecl_ema_swap(m->ctx, &p->stats, &p->ema_stats));
    p->ema_swapped = !p->ema_swapped;
    return AGECL_OK;
}

int agecl_model_has_ema(const agecl_model *m) { return m && m->params.ema_on; }

/* Softmax of two logits: the probability of class 1. */
static float prob1(float l0, float l1) { return 1.0f / (1.0f + expf(l0 - l1)); }

agecl_status agecl_model_outputs(agecl_model *m, agecl_outputs *out)
{
    if (!m || !out) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_outputs: NULL argument");
    agecl__heads *h = &m->heads;
    int B = m->batch, n = m->cfg.n_ages;
    if (out->age && m->last_training && !m->loss_done)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_outputs: after a training forward "
                           "the expected ages come with agecl_model_loss");
    if (out->age) AGECL_TRY(agecl_tensor_read(m->ctx, &h->age_pred, out->age));
    if (out->feat) AGECL_TRY(agecl_tensor_read(m->ctx, &h->feat, out->feat));
    if (out->gender_p) {
        if (!m->cfg.gender) {
            for (int b = 0; b < B; b++) out->gender_p[b] = NAN;
        } else {
            AGECL_TRY(agecl_tensor_read(m->ctx, &h->gender_logits, m->host));
            for (int b = 0; b < B; b++) out->gender_p[b] = prob1(m->host[2 * b], m->host[2 * b + 1]);
        }
    }
    if (out->pos) {
        if (!m->cfg.rapl || !h->refs_set) {
            for (int b = 0; b < B; b++) out->pos[b] = -1;
        } else {
            AGECL_TRY(agecl_tensor_read(m->ctx, &h->pos_logits, m->host));
            for (int b = 0; b < B; b++) { /* the first largest, as torch.argmax */
                const float *row = m->host + (size_t)b * n;
                int best = 0;
                for (int k = 1; k < n; k++)
                    if (row[k] > row[best]) best = k;
                out->pos[b] = best;
            }
        }
    }
    return AGECL_OK;
}

agecl_status agecl_model_select_references(agecl_model *m, const agecl_tensor *err,
                                           const agecl_tensor *pos, const agecl_tensor *feat,
                                           uint32_t seed, int *filled)
{
    if (!m) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_select_references: NULL model");
    if (!m->cfg.rapl)
        return agecl__fail(AGECL_E_INVALID_ARG, "model has no relative age position branch");
    agecl_tensor index;
    AGECL_TRY(agecl_tensor_alloc(m->ctx, &index, 1, m->cfg.n_ages, 1, 1));
    agecl_status s = agecl_select_references(m->ctx, err, pos, feat, seed, &index,
                                             agecl__P(m, m->heads.rapl_R), NULL, filled);
    agecl_tensor_free(&index);
    if (s == AGECL_OK) m->heads.refs_set = 1;
    return s;
}

int agecl_model_has_references(const agecl_model *m) { return m->heads.refs_set; }
